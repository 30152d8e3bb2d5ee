"""Use case: bill MTM encounters not yet billed as one 837P interchange (plus a CSV copy).

One database transaction covers the whole run: take the next control numbers from
``x12_counter``, select encounters with no ``claim_submission``, code them under the payer's unit
rule, build and validate the 837P (our element checks, then pyx12), record one
``claim_submission`` per encounter, and write the file. The file is written and flushed to a
``.partial`` name before the commit and renamed after it, so a crash can leave an unsent file
but never a billed-twice encounter (the unique ``(source_kind, source_key)`` key backs this up).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, and_, insert, select, update

from openvbc.domain.errors import InputIssue, InvalidInput, UserError
from openvbc.domain.mtm_units import MtmUnitRule, PatientStatus, classify_patient_status, code_mtm_encounter
from openvbc.interop.x12.build_837p import (
    Address,
    Batch837P,
    BillingGroup,
    BillingProvider,
    Claim,
    Envelope,
    Payer,
    Receiver,
    RenderingProvider,
    ServiceLine,
    Submitter,
    Subscriber,
    build_837p,
)
from openvbc.interop.x12.validate import validate_x12
from openvbc.rules.billing_schema import FeeScheduleFile, load_fee_schedule, load_mtm_unit_rule
from openvbc.store.tables import claim_submission, condition, member, mtm_encounter, provider, x12_counter

SOURCE_KIND = "mtm"
MAX_CONTROL_NUMBER = 999_999_999


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
class _Pending:
    encounter: dict[str, Any]
    claim: Claim


def generate_mtm_claims(
    engine: Engine,
    profile: ClaimsProfile,
    *,
    out: Path,
    now: datetime,
    since: date | None = None,
    csv_out: Path | None = None,
) -> ClaimsRun:
    """Write the 837P (and CSV) for every MTM encounter not billed yet; record them as billed."""
    for target in (out, csv_out):
        if target is not None and target.exists():
            raise UserError(f"{target} already exists; claim files are never overwritten")
    unit_rule = load_mtm_unit_rule(profile.unit_rule_path)
    fees = load_fee_schedule(profile.fee_schedule_path)
    run = ClaimsRun()
    partials: list[Path] = []
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            # Taking the counters first serialises concurrent runs before they read what is unbilled.
            isa13 = _next_counter(conn, f"ISA13:{profile.sender_id}")
            gs06 = _next_counter(conn, f"GS06:{profile.sender_id}")
            st02 = _next_counter(conn, f"ST02:{profile.sender_id}")
            pending = _code_unbilled(conn, unit_rule, fees, profile, since, run)
            if not pending:
                transaction.rollback()
                return run
            envelope = Envelope(profile.sender_id, profile.receiver_id, isa13, gs06, st02, now, profile.usage)
            text = build_837p(_batch(envelope, profile, conn, pending))
            problems = validate_x12(text)
            if problems:
                raise InvalidInput([InputIssue(str(out), None, "pyx12", problem) for problem in problems])
            _record(conn, pending, envelope, out, now)
            partials.append(_write_partial(out, text))
            if csv_out is not None:
                partials.append(_write_partial(csv_out, _render_csv(pending, envelope)))
            transaction.commit()
        except BaseException:
            transaction.rollback()
            for partial in partials:
                partial.unlink(missing_ok=True)
            raise
    for partial, final in zip(partials, [out, csv_out], strict=False):
        if final is not None:
            os.replace(partial, final)
    run.claims = len(pending)
    run.total_charge = sum((p.claim.total_charge for p in pending), Decimal("0.00"))
    run.out, run.csv_out = out, csv_out
    run.interchange_control_number = f"{isa13:09d}"
    return run


def _next_counter(conn: Connection, name: str) -> int:
    """Increment and return a persisted control number (1..999999999, then wraps to 1)."""
    current = conn.execute(select(x12_counter.c.value).where(x12_counter.c.name == name)).scalar()
    if current is None:
        conn.execute(insert(x12_counter).values(name=name, value=1))
        return 1
    following = 1 if current >= MAX_CONTROL_NUMBER else current + 1
    conn.execute(update(x12_counter).where(x12_counter.c.name == name).values(value=following))
    return following


def _code_unbilled(
    conn: Connection,
    rule: MtmUnitRule,
    fees: FeeScheduleFile,
    profile: ClaimsProfile,
    since: date | None,
    run: ClaimsRun,
) -> list[_Pending]:
    billed = and_(
        claim_submission.c.source_kind == SOURCE_KIND,
        claim_submission.c.source_key == mtm_encounter.c.mtm_key,
    )
    query = (
        select(mtm_encounter, member)
        .join(member, member.c.member_id == mtm_encounter.c.member_id)
        .outerjoin(claim_submission, billed)
        .where(claim_submission.c.claim_submission_id.is_(None))
        .order_by(mtm_encounter.c.pharmacy_npi, mtm_encounter.c.service_date, mtm_encounter.c.mtm_key)
    )
    if since is not None:
        query = query.where(mtm_encounter.c.service_date >= since)
    issues: list[InputIssue] = []
    pending: list[_Pending] = []
    for row in conn.execute(query).mappings():
        encounter = dict(row)
        status = _patient_status(conn, encounter, rule)
        coding = code_mtm_encounter(encounter["minutes"], status, encounter["kind"], rule)
        if not coding.lines:
            run.skipped.append(
                {"mtm_key": encounter["mtm_key"], "reason": coding.reason or "no billable units"}
            )
            continue
        lines = []
        for line in coding.lines:
            if line.code not in fees.charges:
                issues.append(
                    InputIssue(profile.fee_schedule_path, None, "charges", f"no charge for {line.code}")
                )
                continue
            unit_charge = Decimal(fees.charges[line.code])
            lines.append(
                ServiceLine(
                    line.code, unit_charge * line.units, line.units, encounter["service_date"], line.modifiers
                )
            )
        claim = _claim(conn, encounter, tuple(lines), fees, profile, issues)
        if claim is not None:
            pending.append(_Pending(encounter, claim))
    if issues:
        raise InvalidInput(issues)
    return pending


def _patient_status(conn: Connection, encounter: dict[str, Any], rule: MtmUnitRule) -> PatientStatus:
    # History can only turn "new" into "established": a second 99605 inside the payer's look-back
    # would be denied. Service before our records began is known only to the pharmacist.
    if encounter["patient_status"] == "established":
        return "established"
    earlier = conn.execute(
        select(mtm_encounter.c.service_date).where(
            mtm_encounter.c.member_id == encounter["member_id"],
            mtm_encounter.c.pharmacy_npi == encounter["pharmacy_npi"],
            mtm_encounter.c.service_date < encounter["service_date"],
        )
    ).scalars()
    return classify_patient_status(encounter["service_date"], list(earlier), rule.new_patient_lookback_days)


def _claim(
    conn: Connection,
    encounter: dict[str, Any],
    lines: tuple[ServiceLine, ...],
    fees: FeeScheduleFile,
    profile: ClaimsProfile,
    issues: list[InputIssue],
) -> Claim | None:
    source = f"mtm_encounter {encounter['mtm_key']}"
    missing = [
        name
        for name in ("first_name", "last_name", "address", "city", "state", "zip")
        if not encounter.get(name)
    ]
    for name in missing:
        issues.append(
            InputIssue(f"member {encounter['member_key']}", None, name, "needed on the 837P subscriber")
        )
    filing = fees.claim_filing_indicator_by_line_of_business.get(encounter["line_of_business"])
    if filing is None:
        issues.append(
            InputIssue(
                profile.fee_schedule_path,
                None,
                "claim_filing_indicator_by_line_of_business",
                f"no claim filing indicator for line of business {encounter['line_of_business']!r}",
            )
        )
    pharmacist = (
        conn.execute(select(provider).where(provider.c.npi == encounter["pharmacist_npi"])).mappings().first()
    )
    if pharmacist is None:
        issues.append(
            InputIssue(source, None, "pharmacist_npi", f"provider {encounter['pharmacist_npi']} not on file")
        )
    if missing or filing is None or pharmacist is None:
        return None
    last, first = _split_person_name(pharmacist["name"])
    subscriber = Subscriber(
        member_id=encounter["member_key"],
        last_name=encounter["last_name"],
        first_name=encounter["first_name"],
        birth_date=encounter["birth_date"],
        sex=encounter["sex"],
        address=Address(encounter["address"], encounter["city"], encounter["state"], encounter["zip"]),
        claim_filing_indicator=filing,
    )
    return Claim(
        source=source,
        claim_id=f"MTM{encounter['mtm_encounter_id']}",
        subscriber=subscriber,
        payer=Payer(profile.payer_name, profile.payer_id),
        place_of_service=fees.place_of_service,
        diagnoses=_diagnoses(conn, encounter["member_id"], fees.fallback_diagnosis),
        lines=lines,
        rendering=RenderingProvider(encounter["pharmacist_npi"], last, first, pharmacist["taxonomy"]),
    )


def _diagnoses(conn: Connection, member_id: int, fallback: str) -> tuple[str, ...]:
    """Active ICD-10-CM problems of the member (oldest first), else the fee schedule's fallback."""
    rows = conn.execute(
        select(condition.c.code)
        .where(
            condition.c.member_id == member_id,
            condition.c.code_system == "icd10cm",
            condition.c.clinical_status.in_(["active", "recurrence", "relapse"]),
        )
        .order_by(condition.c.onset_date, condition.c.condition_id)
    ).scalars()
    codes: list[str] = []
    for code in rows:
        compact = code.replace(".", "").upper()
        if compact not in codes:
            codes.append(compact)
    return tuple(codes[:12]) or (fallback,)


def _split_person_name(name: str) -> tuple[str, str]:
    """(last, first) from 'Last, First' or 'First Last'."""
    if "," in name:
        last, first = (part.strip() for part in name.split(",", 1))
        return last, first or last
    parts = name.split()
    return (parts[-1], " ".join(parts[:-1]) or parts[-1]) if parts else (name, name)


def _batch(
    envelope: Envelope, profile: ClaimsProfile, conn: Connection, pending: Sequence[_Pending]
) -> Batch837P:
    groups: list[BillingGroup] = []
    issues: list[InputIssue] = []
    for npi in dict.fromkeys(p.encounter["pharmacy_npi"] for p in pending):
        row = conn.execute(select(provider).where(provider.c.npi == npi)).mappings().first()
        if row is None:
            issues.append(InputIssue("provider", None, "npi", f"billing pharmacy {npi} not on file"))
            continue
        absent = [name for name in ("tin", "address", "city", "state", "zip") if not row[name]]
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
        groups.append(
            BillingGroup(billing, tuple(p.claim for p in pending if p.encounter["pharmacy_npi"] == npi))
        )
    if issues:
        raise InvalidInput(issues)
    return Batch837P(
        envelope,
        Submitter(profile.submitter_name, profile.submitter_id, profile.contact_name, profile.contact_phone),
        Receiver(profile.receiver_name, profile.receiver_id),
        tuple(groups),
    )


def _record(
    conn: Connection, pending: Sequence[_Pending], envelope: Envelope, out: Path, now: datetime
) -> None:
    conn.execute(
        insert(claim_submission),
        [
            {
                "source_kind": SOURCE_KIND,
                "source_key": p.encounter["mtm_key"],
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


CSV_COLUMNS = (
    "claim_id",
    "mtm_key",
    "member_key",
    "pharmacy_npi",
    "pharmacist_npi",
    "service_date",
    "line_number",
    "procedure_code",
    "modifiers",
    "units",
    "charge",
    "diagnoses",
    "interchange_control_number",
)


def _render_csv(pending: Sequence[_Pending], envelope: Envelope) -> str:
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in pending:
        for number, line in enumerate(p.claim.lines, start=1):
            writer.writerow(
                [
                    p.claim.claim_id,
                    p.encounter["mtm_key"],
                    p.encounter["member_key"],
                    p.encounter["pharmacy_npi"],
                    p.encounter["pharmacist_npi"],
                    line.service_date.isoformat(),
                    number,
                    line.procedure_code,
                    "|".join(line.modifiers),
                    line.units,
                    f"{line.charge:.2f}",
                    "|".join(p.claim.diagnoses),
                    f"{envelope.interchange_control_number:09d}",
                ]
            )
    return buffer.getvalue()


def _write_partial(final: Path, text: str) -> Path:
    partial = final.with_name(final.name + ".partial")
    with open(partial, "w", encoding="ascii", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return partial


# --- care management claims (CCM / PCM months, TCM cases) -----------------------------------


def generate_ccm_claims(
    engine: Engine, profile: ClaimsProfile, *, month: str, out: Path, now: datetime
) -> ClaimsRun:
    """Write the 837P for the coded CCM/PCM patient-months of ``month`` (YYYY-MM) not billed yet."""
    from openvbc.services.care_claims import generate_care_claims  # care_claims builds on this module

    return generate_care_claims(engine, profile, kind="ccm", month=month, out=out, now=now)


def generate_tcm_claims(
    engine: Engine, profile: ClaimsProfile, *, month: str, out: Path, now: datetime
) -> ClaimsRun:
    """Write the 837P for TCM cases coded with a face-to-face visit in ``month`` not billed yet."""
    from openvbc.services.care_claims import generate_care_claims

    return generate_care_claims(engine, profile, kind="tcm", month=month, out=out, now=now)
