"""Claim files: what every 837P billing run shares, whatever it bills (MTM, CCM/PCM, TCM).

Each guarantee of docs/billing.md ("837P claims") lives here once, so the MTM service
(:mod:`openvbc.services.claims`) and the care-management service (:mod:`openvbc.services.care_claims`)
cannot drift apart:

- control numbers (ISA13, GS06, ST02) come from ``x12_counter`` in the billing transaction;
- only sources without a ``claim_submission`` row are billed, and each billed claim gets one;
- billing providers are grouped (2000A) only when the store has what the 837P needs of them;
- the file is written and fsynced as ``<out>.partial`` and renamed only after the commit, and a
  run that writes no file commits nothing (so an empty run uses no control number).

X12 layout: ASC X12 005010X222A1 (837 Professional), as built by :mod:`openvbc.interop.x12.build_837p`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, Engine, insert, select, update

from openvbc.domain.errors import InputIssue, InvalidInput, UserError
from openvbc.interop.x12.build_837p import (
    Address,
    Batch837P,
    BillingGroup,
    BillingProvider,
    Claim,
    Envelope,
    Receiver,
    Submitter,
    Subscriber,
    build_837p,
)
from openvbc.interop.x12.validate import validate_x12
from openvbc.store.tables import claim_submission, condition, provider, x12_counter

# ISA13 (element I12) is exactly nine digits; GS06 and ST02 allow up to nine (X12 005010).
MAX_CONTROL_NUMBER = 999_999_999
SUBSCRIBER_FIELDS = ("first_name", "last_name", "address", "city", "state", "zip")
BILLING_PROVIDER_FIELDS = ("tin", "address", "city", "state", "zip")
# Problem-list statuses that still describe the patient (FHIR Condition.clinicalStatus codes).
ACTIVE_CLINICAL_STATUSES = ("active", "recurrence", "relapse")
MAX_DIAGNOSES = 12  # HI segment of loop 2300 carries at most 12 diagnosis codes (005010X222A1)


@dataclass(frozen=True)
class ClaimsProfile:
    """Trading-partner settings of one payer connection."""

    sender_id: str = "OPENVBC"
    receiver_id: str = "PAYER"
    receiver_name: str = "HEALTH PLAN"
    payer_name: str = "HEALTH PLAN"
    payer_id: str = "PAYER"
    submitter_name: str = "OPENVBC SUBMITTER"
    submitter_id: str = "OPENVBC"
    contact_name: str = "BILLING OFFICE"
    contact_phone: str = "8005550100"
    usage: Literal["T", "P"] = "T"
    unit_rule_path: str = "billing/mtm_units/default.yaml"
    fee_schedule_path: str = "billing/fee_schedule/default.yaml"


@dataclass
class ClaimsRun:
    """What one billing run wrote (nothing, when there was nothing to bill)."""

    claims: int = 0
    total_charge: Decimal = Decimal("0.00")
    out: Path | None = None
    csv_out: Path | None = None
    interchange_control_number: str | None = None
    skipped: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "claims": self.claims,
            "total_charge": str(self.total_charge),
            "out": str(self.out) if self.out else None,
            "csv_out": str(self.csv_out) if self.csv_out else None,
            "interchange_control_number": self.interchange_control_number,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class PendingClaim:
    """One claim to bill, with the ``claim_submission`` key that marks its source as billed."""

    source_kind: str  # mtm | ccm | tcm
    source_key: str
    billing_npi: str  # the 2010AA billing provider (pharmacy or practice)
    claim: Claim


class BillingTransaction:
    """The connection of one billing run and the claim files it has staged as ``.partial``."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._staged: list[tuple[Path, Path]] = []

    @property
    def wrote_files(self) -> bool:
        return bool(self._staged)

    def write_file(self, final: Path, text: str) -> None:
        """Write ``text`` to ``<final>.partial`` and fsync it: it must be on disk before the commit."""
        partial = final.with_name(final.name + ".partial")
        with open(partial, "w", encoding="ascii", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        self._staged.append((partial, final))

    def discard_files(self) -> None:
        """Remove the staged files of a run that did not commit: nothing was billed, so nothing is sent."""
        for partial, _final in self._staged:
            partial.unlink(missing_ok=True)

    def publish_files(self) -> None:
        """Give the staged files their final names; called only once the claims are committed."""
        for partial, final in self._staged:
            os.replace(partial, final)


@contextmanager
def open_billing_transaction(engine: Engine) -> Iterator[BillingTransaction]:
    """One transaction for a whole billing run; it commits only if the run wrote a claim file.

    The files are renamed after the commit, so a crash can leave an unsent ``.partial`` file but never
    a source recorded as billed without its file, nor one billed twice. A run that returns without
    writing rolls back, which also gives back the control numbers it took.
    """
    with engine.connect() as conn:
        transaction = conn.begin()
        billing = BillingTransaction(conn)
        try:
            yield billing
            if billing.wrote_files:
                transaction.commit()
            else:
                transaction.rollback()
        except BaseException:
            transaction.rollback()
            billing.discard_files()
            raise
    billing.publish_files()


def refuse_existing_files(*targets: Path | None) -> None:
    """Stop before billing if an output exists: a sent claim file must never be overwritten."""
    for target in targets:
        if target is not None and target.exists():
            raise UserError(f"{target} already exists; claim files are never overwritten")


def take_control_number(conn: Connection, name: str) -> int:
    """Increment and return a persisted control number (1..999999999, then wraps to 1).

    It lives in ``x12_counter`` and moves in the billing transaction, so a rolled-back run gives its
    number back and a committed file's number is never reused (before the wrap).
    """
    current = conn.execute(select(x12_counter.c.value).where(x12_counter.c.name == name)).scalar()
    if current is None:
        conn.execute(insert(x12_counter).values(name=name, value=1))
        return 1
    following = 1 if current >= MAX_CONTROL_NUMBER else current + 1
    conn.execute(update(x12_counter).where(x12_counter.c.name == name).values(value=following))
    return following


def reserve_envelope(conn: Connection, profile: ClaimsProfile, now: datetime) -> Envelope:
    """Take the next ISA13, GS06 and ST02 of the sender and return the interchange envelope.

    Call it first in the transaction: taking the counters first serialises concurrent runs before
    they read what is unbilled.
    """
    isa13 = take_control_number(conn, f"ISA13:{profile.sender_id}")
    gs06 = take_control_number(conn, f"GS06:{profile.sender_id}")
    st02 = take_control_number(conn, f"ST02:{profile.sender_id}")
    return Envelope(profile.sender_id, profile.receiver_id, isa13, gs06, st02, now, profile.usage)


def is_unbilled(source_kind: str, source_key: ColumnElement[Any]) -> ColumnElement[bool]:
    """Filter: the source has no ``claim_submission`` row yet (what keeps anything from billing twice)."""
    return ~(
        select(claim_submission.c.claim_submission_id)
        .where(claim_submission.c.source_kind == source_kind, claim_submission.c.source_key == source_key)
        .exists()
    )


def group_by_billing_provider(
    conn: Connection, pending: Sequence[PendingClaim], *, billing_role: str
) -> tuple[BillingGroup, ...]:
    """One 2000A billing-provider group per billing NPI, in first-seen order.

    The billing provider must be on file with a TIN and a full address (2010AA NM1/N3/N4/REF*EI);
    every gap is reported at once. ``billing_role`` ("pharmacy", "practice") names it in the error.
    """
    groups: list[BillingGroup] = []
    issues: list[InputIssue] = []
    for npi in dict.fromkeys(p.billing_npi for p in pending):
        row = conn.execute(select(provider).where(provider.c.npi == npi)).mappings().first()
        if row is None:
            issues.append(InputIssue("provider", None, "npi", f"billing {billing_role} {npi} not on file"))
            continue
        absent = [name for name in BILLING_PROVIDER_FIELDS if not row[name]]
        issues.extend(
            InputIssue(f"provider {npi}", None, name, "needed on the 837P billing provider")
            for name in absent
        )
        if absent:
            continue
        billing = BillingProvider(
            npi,
            row["name"],
            row["tin"],
            Address(row["address"], row["city"], row["state"], row["zip"]),
            row["taxonomy"],
        )
        groups.append(BillingGroup(billing, tuple(p.claim for p in pending if p.billing_npi == npi)))
    if issues:
        raise InvalidInput(issues)
    return tuple(groups)


def build_claim_file(
    conn: Connection,
    envelope: Envelope,
    profile: ClaimsProfile,
    pending: Sequence[PendingClaim],
    *,
    out: Path,
    billing_role: str,
) -> str:
    """The 837P text of ``pending``, checked element by element and then by pyx12 (X222A1 map).

    Any pyx12 finding is raised as an issue of ``out``: a file a payer would reject is not billed.
    """
    batch = Batch837P(
        envelope,
        Submitter(profile.submitter_name, profile.submitter_id, profile.contact_name, profile.contact_phone),
        Receiver(profile.receiver_name, profile.receiver_id),
        group_by_billing_provider(conn, pending, billing_role=billing_role),
    )
    text = build_837p(batch)
    problems = validate_x12(text)
    if problems:
        raise InvalidInput([InputIssue(str(out), None, "pyx12", problem) for problem in problems])
    return text


def bill_pending_claims(
    billing: BillingTransaction,
    envelope: Envelope,
    profile: ClaimsProfile,
    pending: Sequence[PendingClaim],
    *,
    out: Path,
    now: datetime,
    billing_role: str,
) -> None:
    """Build and check the 837P, record every claim as submitted, and stage the file for the commit.

    Recording and writing go together: a claim is marked billed only in the transaction whose file
    carries it.
    """
    text = build_claim_file(billing.conn, envelope, profile, pending, out=out, billing_role=billing_role)
    record_submissions(billing.conn, pending, envelope, out, now)
    billing.write_file(out, text)


def record_submissions(
    conn: Connection, pending: Sequence[PendingClaim], envelope: Envelope, out: Path, now: datetime
) -> None:
    """Insert one ``claim_submission`` per claim; the unique (source_kind, source_key) backs "never twice"."""
    conn.execute(
        insert(claim_submission),
        [
            {
                "source_kind": p.source_kind,
                "source_key": p.source_key,
                "claim_control_number": p.claim.claim_id,
                "interchange_control_number": f"{envelope.interchange_control_number:09d}",
                "group_control_number": str(envelope.group_control_number),
                "transaction_control_number": f"{envelope.transaction_control_number:04d}",
                "total_charge": p.claim.total_charge,
                "file_name": out.name,
                "created_at": now,
            }
            for p in pending
        ],
    )


def summarize_run(
    run: ClaimsRun, pending: Sequence[PendingClaim], envelope: Envelope, out: Path
) -> ClaimsRun:
    """Fill ``run`` with the count, total charge, file and interchange number of a committed run."""
    run.claims = len(pending)
    run.total_charge = sum((p.claim.total_charge for p in pending), Decimal("0.00"))
    run.out = out
    run.interchange_control_number = f"{envelope.interchange_control_number:09d}"
    return run


def list_subscriber_gaps(member: Mapping[str, Any]) -> list[InputIssue]:
    """The member fields the 837P subscriber loop (2010BA NM1/N3/N4) needs and the store lacks."""
    return [
        InputIssue(f"member {member['member_key']}", None, name, "needed on the 837P subscriber")
        for name in SUBSCRIBER_FIELDS
        if not member.get(name)
    ]


def build_subscriber(member: Mapping[str, Any], claim_filing_indicator: str) -> Subscriber:
    """The subscriber (the patient) of a claim from a ``member`` row; check it with list_subscriber_gaps."""
    return Subscriber(
        member_id=member["member_key"],
        last_name=member["last_name"],
        first_name=member["first_name"],
        birth_date=member["birth_date"],
        sex=member["sex"],
        address=Address(member["address"], member["city"], member["state"], member["zip"]),
        claim_filing_indicator=claim_filing_indicator,
    )


def list_claim_diagnoses(conn: Connection, member_id: int, fallback: str) -> tuple[str, ...]:
    """Active ICD-10-CM problems of the member (oldest first, undotted), else the fee schedule's fallback.

    A claim needs at least one diagnosis (HI01), and the HI segment holds twelve at most.
    """
    rows = conn.execute(
        select(condition.c.code)
        .where(
            condition.c.member_id == member_id,
            condition.c.code_system == "icd10cm",
            condition.c.clinical_status.in_(ACTIVE_CLINICAL_STATUSES),
        )
        .order_by(condition.c.onset_date, condition.c.condition_id)
    ).scalars()
    codes: list[str] = []
    for code in rows:
        compact = code.replace(".", "").upper()
        if compact not in codes:
            codes.append(compact)
    return tuple(codes[:MAX_DIAGNOSES]) or (fallback,)


def split_person_name(name: str) -> tuple[str, str]:
    """(last, first) from 'Last, First' or 'First Last': the provider table keeps one name column."""
    if "," in name:
        last, first = (part.strip() for part in name.split(",", 1))
        return last, first or last
    parts = name.split()
    return (parts[-1], " ".join(parts[:-1]) or parts[-1]) if parts else (name, name)
