"""Month-end CCM / PCM coding for every enrolled patient (``openvbc ccm bill --month YYYY-MM``).

For each member with an enrolment in the month: pick the one enrolment that bills it (the one in
effect on the last enrolled day of the month, so a single billing practitioner per patient-month,
CMS MLN909188), count its minutes (:mod:`openvbc.domain.ccm_minutes`: union of the entries
inside enrolment and consent, less minutes already counted as TCM time or MTM encounters), set
the documentation flags, and let :func:`openvbc.domain.ccm_coding.bill_ccm_month` choose the best
legal family under ``rules/billing/ccm_codes/<year>.yaml``. The answer (codes, or every reason the
month does not bill) is stored in ``ccm_month_bill``; a month already sent on a claim is never
recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, insert, or_, select

from openvbc.domain.ccm_coding import CcmCodeRule, bill_ccm_month
from openvbc.domain.ccm_minutes import MonthMinutes, RoleSpan, count_month_minutes, month_bounds
from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.rules.billing_schema import load_ccm_code_rule
from openvbc.rules.care_schema import load_chronic_condition_rule
from openvbc.services.ccm import find_chronic_conditions
from openvbc.store.loader import begin_write
from openvbc.store.tables import (
    ccm_care_plan,
    ccm_consent,
    ccm_enrollment,
    ccm_month_bill,
    ccm_time_entry,
    claim_line,
    claim_submission,
    medical_claim,
    member,
    mtm_encounter,
)

APCM_CODES = ("G0556", "G0557", "G0558")


@dataclass(frozen=True)
class PatientMonth:
    member_key: str
    month: str
    billing_npi: str
    program: str
    minutes: MonthMinutes
    family: str | None
    lines: tuple[tuple[str, int], ...]
    value: float
    reasons: tuple[str, ...]
    submitted: bool = False  # already on a claim: shown, not recomputed

    def as_dict(self) -> dict[str, Any]:
        return {
            "member_key": self.member_key,
            "month": self.month,
            "billing_npi": self.billing_npi,
            "program": self.program,
            "minutes_clinical_staff": self.minutes.clinical_staff,
            "minutes_practitioner": self.minutes.practitioner,
            "minutes_excluded": self.minutes.excluded,
            "family": self.family,
            "lines": [{"code": code, "units": units} for code, units in self.lines],
            "value": self.value,
            "reasons": list(self.reasons),
            "submitted": self.submitted,
        }


@dataclass
class CcmMonthRun:
    month: str
    rule_version: str
    patients: list[PatientMonth] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def billable(self) -> int:
        return sum(1 for p in self.patients if p.family)

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "rule_version": self.rule_version,
            "billable": self.billable,
            "patients": [p.as_dict() for p in self.patients],
            "warnings": self.warnings,
        }


def parse_month(text: str, where: str = "--month") -> tuple[int, int]:
    try:
        year_text, month_text = text.split("-")
        year, month = int(year_text), int(month_text)
        if len(year_text) != 4 or not 1 <= month <= 12:
            raise ValueError
    except ValueError:
        raise InvalidInput([InputIssue("command line", None, where, f"{text!r} is not YYYY-MM")]) from None
    return year, month


def code_ccm_month(engine: Engine, month: str, *, today: date, now: datetime) -> CcmMonthRun:
    """Code every enrolled patient-month of ``month`` (which must be over on ``today``)."""
    year, number = parse_month(month)
    start, end = month_bounds(year, number)
    if today < end.date():
        raise InvalidInput(
            [
                InputIssue(
                    "command line",
                    None,
                    "--month",
                    f"{month} has not ended on {today}; bill it from {end.date()}",
                )
            ]
        )
    rule = load_ccm_code_rule(year)
    version = f"ccm_codes/{year}"
    run = CcmMonthRun(month, version)
    with engine.connect() as conn:
        begin_write(conn)
        for enrolment in _billing_enrolments(conn, start.date(), (end - timedelta(days=1)).date()):
            patient = _code_patient_month(conn, enrolment, year, number, rule, run)
            run.patients.append(patient)
            if not patient.submitted:
                _store(conn, enrolment, patient, version, now)
        conn.commit()
    return run


def _billing_enrolments(conn: Connection, first: date, last: date) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(ccm_enrollment, member.c.member_key)
        .join(member, member.c.member_id == ccm_enrollment.c.member_id)
        .where(
            ccm_enrollment.c.start_date <= last,
            or_(ccm_enrollment.c.end_date.is_(None), ccm_enrollment.c.end_date >= first),
        )
        .order_by(member.c.member_key, ccm_enrollment.c.start_date)
    ).mappings()
    chosen: dict[int, dict[str, Any]] = {}
    for row in rows:
        # Ordered by start: the last one seen is in effect on the last enrolled day of the month.
        chosen[row["member_id"]] = dict(row)
    return list(chosen.values())


def _code_patient_month(
    conn: Connection, enrolment: dict[str, Any], year: int, month: int, rule: CcmCodeRule, run: CcmMonthRun
) -> PatientMonth:
    label = f"{year:04d}-{month:02d}"
    member_id = enrolment["member_id"]
    submitted = (
        conn.execute(
            select(ccm_month_bill).where(
                ccm_month_bill.c.member_id == member_id,
                ccm_month_bill.c.month == label,
                select(claim_submission.c.claim_submission_id)
                .where(
                    claim_submission.c.source_kind == "ccm",
                    claim_submission.c.source_key == f"{enrolment['member_key']}|{label}",
                )
                .exists(),
            )
        )
        .mappings()
        .first()
    )
    if submitted is not None:
        return _from_stored(enrolment["member_key"], submitted)
    month_start, month_end = month_bounds(year, month)
    last_day = (month_end - timedelta(days=1)).date()
    consent_from = _consent_start(conn, enrolment, month_start.date(), last_day)
    # Time before the enrolment or before consent is not care management time.
    window_start = max(month_start, _midnight(enrolment["start_date"]))
    if consent_from is not None:
        window_start = max(window_start, _midnight(consent_from))
    window_end = month_end
    if enrolment["end_date"] is not None:
        window_end = min(window_end, _midnight(enrolment["end_date"] + timedelta(days=1)))
    entries, excluded, running = _time_spans(conn, member_id, month_start, month_end)
    if running:
        run.warnings.append(f"{enrolment['member_key']}: a timer is still running; its time is not counted")
    minutes = count_month_minutes(entries, excluded, (window_start, max(window_start, window_end)))
    flags = _flags(conn, enrolment, month_start.date(), last_day, consent_from, rule)
    result = bill_ccm_month(minutes.by_role(), flags, rule)
    return PatientMonth(
        member_key=enrolment["member_key"],
        month=label,
        billing_npi=enrolment["billing_npi"],
        program=enrolment["program"],
        minutes=minutes,
        family=result.family,
        lines=tuple((line.code, line.units) for line in result.lines),
        value=result.value,
        reasons=result.reasons,
    )


def _time_spans(
    conn: Connection, member_id: int, start: datetime, end: datetime
) -> tuple[list[RoleSpan], list[tuple[datetime, datetime]], bool]:
    rows = (
        conn.execute(
            select(ccm_time_entry).where(
                ccm_time_entry.c.member_id == member_id,
                ccm_time_entry.c.start_at < end,
                or_(ccm_time_entry.c.end_at.is_(None), ccm_time_entry.c.end_at > start),
            )
        )
        .mappings()
        .all()
    )
    entries = [
        RoleSpan(r["role"], r["start_at"], r["end_at"]) for r in rows if r["service"] == "ccm" and r["end_at"]
    ]
    excluded = [(r["start_at"], r["end_at"]) for r in rows if r["service"] == "tcm" and r["end_at"]]
    mtm = conn.execute(
        select(mtm_encounter.c.start_at, mtm_encounter.c.end_at).where(
            mtm_encounter.c.member_id == member_id,
            mtm_encounter.c.start_at.is_not(None),
            mtm_encounter.c.end_at.is_not(None),
            mtm_encounter.c.start_at < end,
            mtm_encounter.c.end_at > start,
        )
    ).all()
    excluded += [(s, e) for s, e in mtm]
    running = any(r["end_at"] is None for r in rows)
    return entries, excluded, running


def _consent_start(conn: Connection, enrolment: dict[str, Any], first: date, last: date) -> date | None:
    """The day consent took effect for this practitioner, if it covers any of the month."""
    found = conn.execute(
        select(ccm_consent.c.consented_on)
        .where(
            ccm_consent.c.member_id == enrolment["member_id"],
            ccm_consent.c.billing_npi == enrolment["billing_npi"],
            ccm_consent.c.consented_on <= last,
            or_(ccm_consent.c.revoked_on.is_(None), ccm_consent.c.revoked_on > first),
        )
        .order_by(ccm_consent.c.consented_on)
    ).scalar()
    return found if isinstance(found, date) else None


def _flags(
    conn: Connection,
    enrolment: dict[str, Any],
    first: date,
    last: date,
    consent_from: date | None,
    rule: CcmCodeRule,
) -> dict[str, bool]:
    member_id = enrolment["member_id"]
    conditions = find_chronic_conditions(conn, member_id, last)
    chronic = load_chronic_condition_rule()
    plans = conn.execute(
        select(ccm_care_plan.c.recorded_on, ccm_care_plan.c.action, ccm_care_plan.c.complex_mdm).where(
            ccm_care_plan.c.member_id == member_id, ccm_care_plan.c.recorded_on <= last
        )
    ).all()
    # Complex CCM needs the plan established or substantially revised in the month with
    # moderate/high medical decision making (CPT 99487 descriptor; MLN909188).
    complex_mdm = any(
        first <= day <= last and action in ("established", "revised") and bool(mdm)
        for day, action, mdm in plans
    )
    codes = {f.base_code for f in rule.families} | {f.addon_code for f in rule.families if f.addon_code}
    return {
        "consent": consent_from is not None,
        "care_plan": bool(plans),
        "ccm_eligible": enrolment["program"] == "ccm" and len(conditions) >= chronic.ccm_minimum_conditions,
        "pcm_eligible": enrolment["program"] == "pcm" and len(conditions) >= chronic.pcm_minimum_conditions,
        "complex_mdm": complex_mdm,
        "other_practitioner_billed": _billed_elsewhere(conn, member_id, first, last, codes, enrolment),
        "apcm_billed": _billed_elsewhere(conn, member_id, first, last, set(APCM_CODES), None),
    }


def _billed_elsewhere(
    conn: Connection,
    member_id: int,
    first: date,
    last: date,
    codes: set[str],
    enrolment: dict[str, Any] | None,
) -> bool:
    """A paid-claims line with one of ``codes`` in the month (from another practice, when given)."""
    query = (
        select(claim_line.c.claim_line_id)
        .join(medical_claim, medical_claim.c.claim_id == claim_line.c.claim_id)
        .where(
            claim_line.c.member_id == member_id,
            claim_line.c.procedure_code.in_(sorted(codes)),
            claim_line.c.service_date >= first,
            claim_line.c.service_date <= last,
        )
    )
    if enrolment is not None:
        query = query.where(
            and_(
                medical_claim.c.billing_npi != enrolment["practice_npi"],
                medical_claim.c.billing_npi != enrolment["billing_npi"],
            )
        )
    return conn.execute(query.limit(1)).first() is not None


def _store(
    conn: Connection, enrolment: dict[str, Any], patient: PatientMonth, version: str, now: datetime
) -> None:
    conn.execute(
        delete(ccm_month_bill).where(
            ccm_month_bill.c.member_id == enrolment["member_id"], ccm_month_bill.c.month == patient.month
        )
    )
    conn.execute(
        insert(ccm_month_bill).values(
            member_id=enrolment["member_id"],
            month=patient.month,
            billing_npi=enrolment["billing_npi"],
            practice_npi=enrolment["practice_npi"],
            program=enrolment["program"],
            minutes_clinical_staff=patient.minutes.clinical_staff,
            minutes_practitioner=patient.minutes.practitioner,
            minutes_excluded=patient.minutes.excluded,
            family=patient.family,
            lines=format_lines(patient.lines) or None,
            value=patient.value,
            reasons="; ".join(patient.reasons) or None,
            rule_version=version,
            computed_at=now,
        )
    )


def format_lines(lines: tuple[tuple[str, int], ...]) -> str:
    return ";".join(f"{code}x{units}" for code, units in lines)


def parse_lines(text: str | None) -> tuple[tuple[str, int], ...]:
    if not text:
        return ()
    pairs = (part.split("x", 1) for part in text.split(";") if part)
    return tuple((code, int(units)) for code, units in pairs)


def _from_stored(member_key: str, row: Any) -> PatientMonth:
    return PatientMonth(
        member_key=member_key,
        month=row["month"],
        billing_npi=row["billing_npi"],
        program=row["program"],
        minutes=MonthMinutes(
            row["minutes_clinical_staff"], row["minutes_practitioner"], row["minutes_excluded"]
        ),
        family=row["family"],
        lines=parse_lines(row["lines"]),
        value=row["value"],
        reasons=tuple(filter(None, (row["reasons"] or "").split("; "))),
        submitted=True,
    )


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)
