"""837P claims for care management: CCM/PCM patient-months and coded TCM cases.

The same run as the MTM claims (:mod:`openvbc.services.claims`), through the shared steps of
:mod:`openvbc.services.claim_files`: take the control numbers, select what is coded and not yet in
``claim_submission`` (``source_kind`` ``ccm`` with key ``<member_key>|<YYYY-MM>``, or ``tcm`` with
the discharge encounter key), build and validate the 837P, record the submissions and write the
file before the commit (renamed after it).
Billing provider is the practice; rendering provider is the billing practitioner. Dates of
service: the last day of the month for CCM (billed at the end of the service period, MLN909188);
the face-to-face visit for TCM (CMS "Transitional Care Management Services FAQs", March 2016).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from openvbc.domain.ccm_minutes import month_bounds
from openvbc.domain.errors import InputIssue, InvalidInput, UserError
from openvbc.interop.x12.build_837p import Claim, Payer, RenderingProvider, ServiceLine
from openvbc.rules.billing_schema import FeeScheduleFile, load_fee_schedule
from openvbc.rules.care_schema import load_chronic_condition_rule
from openvbc.services import claim_files
from openvbc.services.ccm_billing import parse_lines, parse_month
from openvbc.services.claim_files import ClaimsProfile, ClaimsRun
from openvbc.store.tables import ccm_month_bill, member, provider, tcm_case

CARE_FEE_SCHEDULE = "billing/fee_schedule/care_management.yaml"


def generate_care_claims(
    engine: Engine,
    profile: ClaimsProfile,
    *,
    kind: str,
    month: str,
    out: Path,
    now: datetime,
    fee_schedule_path: str = CARE_FEE_SCHEDULE,
) -> ClaimsRun:
    """Write one 837P with every ``kind`` (ccm | tcm) item of ``month`` not billed yet."""
    if kind not in ("ccm", "tcm"):
        raise UserError(f"unknown care claim kind {kind!r}")
    claim_files.refuse_existing_files(out)
    year, number = parse_month(month)
    fees = load_fee_schedule(fee_schedule_path)
    run = ClaimsRun()
    with claim_files.open_billing_transaction(engine) as billing:
        envelope = claim_files.reserve_envelope(billing.conn, profile, now)
        issues: list[InputIssue] = []
        if kind == "ccm":
            label = f"{year:04d}-{number:02d}"
            pending = _ccm_pending(billing.conn, label, year, number, fees, profile, issues)
        else:
            pending = _tcm_pending(billing.conn, year, number, fees, profile, issues)
        if issues:
            raise InvalidInput(issues)
        if not pending:
            return run
        claim_files.bill_pending_claims(
            billing, envelope, profile, pending, out=out, now=now, billing_role="practice"
        )
    return claim_files.summarize_run(run, pending, envelope, out)


def _ccm_pending(
    conn: Connection,
    label: str,
    year: int,
    month: int,
    fees: FeeScheduleFile,
    profile: ClaimsProfile,
    issues: list[InputIssue],
) -> list[claim_files.PendingClaim]:
    rows = conn.execute(
        select(ccm_month_bill, member)
        .join(member, member.c.member_id == ccm_month_bill.c.member_id)
        .where(ccm_month_bill.c.month == label, ccm_month_bill.c.family.is_not(None))
        .where(claim_files.is_unbilled("ccm", member.c.member_key + "|" + ccm_month_bill.c.month))
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
            pending.append(
                claim_files.PendingClaim("ccm", f"{row['member_key']}|{label}", row["practice_npi"], claim)
            )
    return pending


def _tcm_pending(
    conn: Connection,
    year: int,
    month: int,
    fees: FeeScheduleFile,
    profile: ClaimsProfile,
    issues: list[InputIssue],
) -> list[claim_files.PendingClaim]:
    start, end = month_bounds(year, month)
    rows = conn.execute(
        select(tcm_case, member)
        .join(member, member.c.member_id == tcm_case.c.member_id)
        .where(
            tcm_case.c.status == "coded",
            tcm_case.c.visit_date >= start.date(),
            tcm_case.c.visit_date < end.date(),
        )
        .where(claim_files.is_unbilled("tcm", tcm_case.c.encounter_key))
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
            pending.append(claim_files.PendingClaim("tcm", row["encounter_key"], row["practice_npi"], claim))
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
    profile: ClaimsProfile,
    issues: list[InputIssue],
) -> Claim | None:
    missing = claim_files.list_subscriber_gaps(row)
    issues.extend(missing)
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
    last, first = claim_files.split_person_name(clinician["name"])
    return Claim(
        source=claim_id,
        claim_id=claim_id,
        subscriber=claim_files.build_subscriber(row, filing),
        payer=Payer(profile.payer_name, profile.payer_id),
        place_of_service=fees.place_of_service,
        diagnoses=_chronic_first(
            claim_files.list_claim_diagnoses(conn, row["member_id"], fees.fallback_diagnosis)
        ),
        lines=lines,
        rendering=RenderingProvider(rendering_npi, last, first, clinician["taxonomy"]),
    )


def _chronic_first(codes: tuple[str, ...]) -> tuple[str, ...]:
    """Chronic-condition diagnoses lead: they are why care management is billed."""
    rule = load_chronic_condition_rule()
    chronic = tuple(code for code in codes if rule.conditions_of([code]))
    return chronic + tuple(code for code in codes if code not in chronic)
