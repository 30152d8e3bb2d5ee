"""837P claims for care management: CCM/PCM patient-months and coded TCM cases.

The same transaction shape as the MTM claims (:mod:`openvbc.services.claims`): take the control
numbers, select what is coded and not yet in ``claim_submission`` (``source_kind`` ``ccm`` with
key ``<member_key>|<YYYY-MM>``, or ``tcm`` with the discharge encounter key), build and validate
the 837P, record the submissions and write the file before the commit (renamed after it).
Billing provider is the practice; rendering provider is the billing practitioner. Dates of
service: the last day of the month for CCM (billed at the end of the service period, MLN909188);
the face-to-face visit for TCM (CMS "Transitional Care Management Services FAQs", March 2016).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, select

from openvbc.domain.ccm_minutes import month_bounds
from openvbc.domain.errors import InputIssue, InvalidInput, UserError
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
from openvbc.rules.billing_schema import FeeScheduleFile, load_fee_schedule
from openvbc.rules.care_schema import load_chronic_condition_rule
from openvbc.services import claims as shared
from openvbc.services.ccm_billing import parse_lines, parse_month
from openvbc.store.tables import ccm_month_bill, claim_submission, member, provider, tcm_case

CARE_FEE_SCHEDULE = "billing/fee_schedule/care_management.yaml"


@dataclass(frozen=True)
class _Pending:
    source_kind: str
    source_key: str
    billing_npi: str  # the practice (2010AA)
    claim: Claim


def generate_care_claims(
    engine: Engine,
    profile: shared.ClaimsProfile,
    *,
    kind: str,
    month: str,
    out: Path,
    now: datetime,
    fee_schedule_path: str = CARE_FEE_SCHEDULE,
) -> shared.ClaimsRun:
    """Write one 837P with every ``kind`` (ccm | tcm) item of ``month`` not billed yet."""
    if kind not in ("ccm", "tcm"):
        raise UserError(f"unknown care claim kind {kind!r}")
    if out.exists():
        raise UserError(f"{out} already exists; claim files are never overwritten")
    year, number = parse_month(month)
    fees = load_fee_schedule(fee_schedule_path)
    run = shared.ClaimsRun()
    partial: Path | None = None
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            isa13 = shared._next_counter(conn, f"ISA13:{profile.sender_id}")
            gs06 = shared._next_counter(conn, f"GS06:{profile.sender_id}")
            st02 = shared._next_counter(conn, f"ST02:{profile.sender_id}")
            issues: list[InputIssue] = []
            if kind == "ccm":
                pending = _ccm_pending(conn, f"{year:04d}-{number:02d}", year, number, fees, profile, issues)
            else:
                pending = _tcm_pending(conn, year, number, fees, profile, issues)
            if issues:
                raise InvalidInput(issues)
            if not pending:
                transaction.rollback()
                return run
            envelope = Envelope(profile.sender_id, profile.receiver_id, isa13, gs06, st02, now, profile.usage)
            text = build_837p(_batch(conn, envelope, profile, pending))
            problems = validate_x12(text)
            if problems:
                raise InvalidInput([InputIssue(str(out), None, "pyx12", problem) for problem in problems])
            _record(conn, pending, envelope, out, now)
            partial = shared._write_partial(out, text)
            transaction.commit()
        except BaseException:
            transaction.rollback()
            if partial is not None:
                partial.unlink(missing_ok=True)
            raise
    os.replace(partial, out)
    run.claims = len(pending)
    run.total_charge = sum((p.claim.total_charge for p in pending), Decimal("0.00"))
    run.out = out
    run.interchange_control_number = f"{isa13:09d}"
    return run


def _unbilled(kind: str, key: Any) -> Any:
    return ~(
        select(claim_submission.c.claim_submission_id)
        .where(and_(claim_submission.c.source_kind == kind, claim_submission.c.source_key == key))
        .exists()
    )


def _ccm_pending(
    conn: Connection,
    label: str,
    year: int,
    month: int,
    fees: FeeScheduleFile,
    profile: shared.ClaimsProfile,
    issues: list[InputIssue],
) -> list[_Pending]:
    rows = conn.execute(
        select(ccm_month_bill, member)
        .join(member, member.c.member_id == ccm_month_bill.c.member_id)
        .where(ccm_month_bill.c.month == label, ccm_month_bill.c.family.is_not(None))
        .where(_unbilled("ccm", member.c.member_key + "|" + ccm_month_bill.c.month))
        .order_by(ccm_month_bill.c.practice_npi, member.c.member_key)
    ).mappings()
    service_date = (month_bounds(year, month)[1] - timedelta(days=1)).date()
    pending = []
    for row in rows:
        lines = _lines(parse_lines(row["lines"]), service_date, fees, issues)
        claim = _claim(
            conn,
            dict(row),
            f"CCM{row['ccm_month_bill_id']}",
            lines,
            row["billing_npi"],
            fees,
            profile,
            issues,
        )
        if claim is not None:
            pending.append(_Pending("ccm", f"{row['member_key']}|{label}", row["practice_npi"], claim))
    return pending


def _tcm_pending(
    conn: Connection,
    year: int,
    month: int,
    fees: FeeScheduleFile,
    profile: shared.ClaimsProfile,
    issues: list[InputIssue],
) -> list[_Pending]:
    start, end = month_bounds(year, month)
    rows = conn.execute(
        select(tcm_case, member)
        .join(member, member.c.member_id == tcm_case.c.member_id)
        .where(
            tcm_case.c.status == "coded",
            tcm_case.c.visit_date >= start.date(),
            tcm_case.c.visit_date < end.date(),
        )
        .where(_unbilled("tcm", tcm_case.c.encounter_key))
        .order_by(tcm_case.c.practice_npi, member.c.member_key)
    ).mappings()
    pending = []
    for row in rows:
        if not row["practice_npi"] or not row["visit_npi"]:
            issues.append(
                InputIssue(f"tcm_case {row['tcm_case_id']}", None, "practice_npi", "no billing practice")
            )
            continue
        lines = _lines(((row["code"], 1),), row["visit_date"], fees, issues)
        claim = _claim(
            conn, dict(row), f"TCM{row['tcm_case_id']}", lines, row["visit_npi"], fees, profile, issues
        )
        if claim is not None:
            pending.append(_Pending("tcm", row["encounter_key"], row["practice_npi"], claim))
    return pending


def _lines(
    coded: tuple[tuple[str, int], ...], service_date: date, fees: FeeScheduleFile, issues: list[InputIssue]
) -> tuple[ServiceLine, ...]:
    lines = []
    for code, units in coded:
        if code not in fees.charges:
            issues.append(InputIssue("fee schedule", None, "charges", f"no charge for {code}"))
            continue
        lines.append(ServiceLine(code, Decimal(fees.charges[code]) * units, units, service_date))
    return tuple(lines)


def _claim(
    conn: Connection,
    row: dict[str, Any],
    claim_id: str,
    lines: tuple[ServiceLine, ...],
    rendering_npi: str,
    fees: FeeScheduleFile,
    profile: shared.ClaimsProfile,
    issues: list[InputIssue],
) -> Claim | None:
    missing = [
        name for name in ("first_name", "last_name", "address", "city", "state", "zip") if not row.get(name)
    ]
    issues.extend(
        InputIssue(f"member {row['member_key']}", None, name, "needed on the 837P subscriber")
        for name in missing
    )
    filing = fees.claim_filing_indicator_by_line_of_business.get(row["line_of_business"])
    if filing is None:
        issues.append(
            InputIssue(
                "fee schedule",
                None,
                "claim_filing_indicator_by_line_of_business",
                f"none for {row['line_of_business']!r}",
            )
        )
    clinician = conn.execute(select(provider).where(provider.c.npi == rendering_npi)).mappings().first()
    if clinician is None:
        issues.append(InputIssue(claim_id, None, "rendering_npi", f"provider {rendering_npi} not on file"))
    if missing or filing is None or clinician is None or not lines:
        return None
    last, first = shared._split_person_name(clinician["name"])
    return Claim(
        source=claim_id,
        claim_id=claim_id,
        subscriber=Subscriber(
            member_id=row["member_key"],
            last_name=row["last_name"],
            first_name=row["first_name"],
            birth_date=row["birth_date"],
            sex=row["sex"],
            address=Address(row["address"], row["city"], row["state"], row["zip"]),
            claim_filing_indicator=filing,
        ),
        payer=Payer(profile.payer_name, profile.payer_id),
        place_of_service=fees.place_of_service,
        diagnoses=_chronic_first(shared._diagnoses(conn, row["member_id"], fees.fallback_diagnosis)),
        lines=lines,
        rendering=RenderingProvider(rendering_npi, last, first, clinician["taxonomy"]),
    )


def _chronic_first(codes: tuple[str, ...]) -> tuple[str, ...]:
    """Chronic-condition diagnoses lead: they are why care management is billed."""
    rule = load_chronic_condition_rule()
    chronic = tuple(code for code in codes if rule.conditions_of([code]))
    return chronic + tuple(code for code in codes if code not in chronic)


def _batch(
    conn: Connection, envelope: Envelope, profile: shared.ClaimsProfile, pending: list[_Pending]
) -> Batch837P:
    groups = []
    issues = []
    for npi in dict.fromkeys(p.billing_npi for p in pending):
        row = conn.execute(select(provider).where(provider.c.npi == npi)).mappings().first()
        if row is None:
            issues.append(InputIssue("provider", None, "npi", f"billing practice {npi} not on file"))
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
        groups.append(BillingGroup(billing, tuple(p.claim for p in pending if p.billing_npi == npi)))
    if issues:
        raise InvalidInput(issues)
    return Batch837P(
        envelope,
        Submitter(profile.submitter_name, profile.submitter_id, profile.contact_name, profile.contact_phone),
        Receiver(profile.receiver_name, profile.receiver_id),
        tuple(groups),
    )


def _record(conn: Connection, pending: list[_Pending], envelope: Envelope, out: Path, now: datetime) -> None:
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
