"""Chronic / principal care management: enrolment, consent, care plan on file, and time.

Enrolment checks eligibility against ``rules/care/chronic_conditions.yaml``: two or more chronic
conditions for CCM, one for PCM (domain-rules.md §A4; CMS MLN909188), found in the member's
active ICD-10-CM problems and in claim diagnoses of the look-back. A member has one open
enrolment at a time: enrolling with another practitioner ends the previous enrolment the day
before, so one practitioner bills each patient-month. Time (timer and manual entries) lives in
:mod:`openvbc.services.ccm_time`; month-end coding in :mod:`openvbc.services.ccm_billing`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, or_, select, update

from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.domain.npi import is_valid_npi
from openvbc.rules.care_schema import ChronicConditionRule, load_chronic_condition_rule
from openvbc.services.ccm_time import find_member_id, log_time, start_timer, stop_timer
from openvbc.store.loader import begin_write
from openvbc.store.tables import (
    ccm_care_plan,
    ccm_consent,
    ccm_enrollment,
    claim_diagnosis,
    condition,
    medical_claim,
)

PROGRAMS = ("ccm", "pcm")
ACTIVE_STATUSES = ("active", "recurrence", "relapse")

__all__ = [
    "Enrolment",
    "enroll_member",
    "find_chronic_conditions",
    "log_time",
    "record_care_plan",
    "record_consent",
    "start_timer",
    "stop_timer",
]


@dataclass(frozen=True)
class Enrolment:
    enrollment_id: int
    member_key: str
    program: str
    billing_npi: str
    start_date: date
    conditions: tuple[str, ...]
    ended_previous: int | None  # id of the enrolment this one replaced

    def as_dict(self) -> dict[str, Any]:
        return {
            "enrollment_id": self.enrollment_id,
            "member_key": self.member_key,
            "program": self.program,
            "billing_npi": self.billing_npi,
            "start_date": self.start_date.isoformat(),
            "conditions": list(self.conditions),
            "ended_previous": self.ended_previous,
        }


def find_chronic_conditions(
    conn: Connection, member_id: int, as_of: date, rule: ChronicConditionRule | None = None
) -> tuple[str, ...]:
    """Chronic condition ids of the member on ``as_of`` (problem list plus recent claim diagnoses)."""
    rule = rule or load_chronic_condition_rule()
    problems = conn.execute(
        select(condition.c.code).where(
            condition.c.member_id == member_id,
            condition.c.code_system == "icd10cm",
            or_(condition.c.clinical_status.is_(None), condition.c.clinical_status.in_(ACTIVE_STATUSES)),
            or_(condition.c.onset_date.is_(None), condition.c.onset_date <= as_of),
            or_(condition.c.abatement_date.is_(None), condition.c.abatement_date > as_of),
        )
    ).scalars()
    since = _months_before(as_of, rule.claim_lookback_months)
    billed = conn.execute(
        select(claim_diagnosis.c.code)
        .join(medical_claim, medical_claim.c.claim_id == claim_diagnosis.c.claim_id)
        .where(
            claim_diagnosis.c.member_id == member_id,
            medical_claim.c.from_date > since,
            medical_claim.c.from_date <= as_of,
        )
    ).scalars()
    return rule.conditions_of({*problems, *billed})


def enroll_member(
    engine: Engine,
    *,
    member_key: str,
    program: str,
    billing_npi: str,
    practice_npi: str,
    start_date: date,
    now: datetime,
    enrolled_by: str | None = None,
) -> Enrolment:
    """Enrol a member in CCM or PCM after the eligibility check; every failed check is reported."""
    issues = []
    if program not in PROGRAMS:
        issues.append(InputIssue("ccm enroll", None, "program", "must be ccm or pcm"))
    for name, npi in (("billing_npi", billing_npi), ("practice_npi", practice_npi)):
        if not is_valid_npi(npi):
            issues.append(InputIssue("ccm enroll", None, name, f"{npi!r} is not a valid NPI"))
    if issues:
        raise InvalidInput(issues)
    rule = load_chronic_condition_rule()
    with engine.connect() as conn:
        begin_write(conn)
        member_id = find_member_id(conn, member_key)
        conditions = find_chronic_conditions(conn, member_id, start_date, rule)
        needed = rule.ccm_minimum_conditions if program == "ccm" else rule.pcm_minimum_conditions
        if len(conditions) < needed:
            found = ", ".join(conditions) or "none"
            raise InvalidInput(
                [
                    InputIssue(
                        "ccm enroll",
                        None,
                        "program",
                        f"{program.upper()} needs {needed} chronic condition(s) from {rule.version}; "
                        f"{member_key} has {len(conditions)} ({found})",
                    )
                ]
            )
        ended = _end_open_enrolment(conn, member_id, start_date)
        new_id = conn.execute(
            insert(ccm_enrollment)
            .values(
                member_id=member_id,
                program=program,
                billing_npi=billing_npi,
                practice_npi=practice_npi,
                start_date=start_date,
                conditions="|".join(conditions),
                enrolled_by=enrolled_by,
                enrolled_at=now,
            )
            .returning(ccm_enrollment.c.ccm_enrollment_id)
        ).scalar_one()
        conn.commit()
    return Enrolment(int(new_id), member_key, program, billing_npi, start_date, conditions, ended)


def record_consent(
    engine: Engine,
    *,
    member_key: str,
    billing_npi: str,
    consented_on: date,
    method: str,
    now: datetime,
    recorded_by: str | None = None,
    revoked_on: date | None = None,
) -> int:
    """Record (or revoke, with ``revoked_on``) the patient's consent to care management."""
    issues = []
    if method not in ("verbal", "written"):
        issues.append(InputIssue("ccm consent", None, "method", "must be verbal or written"))
    if consented_on > now.date():
        issues.append(InputIssue("ccm consent", None, "consented_on", f"{consented_on} is in the future"))
    if revoked_on is not None and revoked_on < consented_on:
        issues.append(InputIssue("ccm consent", None, "revoked_on", "is before the consent"))
    if issues:
        raise InvalidInput(issues)
    with engine.connect() as conn:
        begin_write(conn)
        member_id = find_member_id(conn, member_key)
        key = and_(
            ccm_consent.c.member_id == member_id,
            ccm_consent.c.billing_npi == billing_npi,
            ccm_consent.c.consented_on == consented_on,
        )
        existing = conn.execute(select(ccm_consent.c.ccm_consent_id).where(key)).scalar()
        if existing is not None:
            # Same consent again: only a revocation can change it.
            conn.execute(update(ccm_consent).where(key).values(revoked_on=revoked_on))
            consent_id = int(existing)
        else:
            consent_id = int(
                conn.execute(
                    insert(ccm_consent)
                    .values(
                        member_id=member_id,
                        billing_npi=billing_npi,
                        consented_on=consented_on,
                        method=method,
                        revoked_on=revoked_on,
                        recorded_by=recorded_by,
                        recorded_at=now,
                    )
                    .returning(ccm_consent.c.ccm_consent_id)
                ).scalar_one()
            )
        conn.commit()
    return consent_id


def record_care_plan(
    engine: Engine,
    *,
    member_key: str,
    recorded_on: date,
    action: str,
    now: datetime,
    complex_mdm: bool = False,
    document_ref: str | None = None,
    recorded_by: str | None = None,
) -> int:
    """Note that a comprehensive care plan is on file (established, revised or reviewed)."""
    if action not in ("established", "revised", "reviewed"):
        raise InvalidInput(
            [InputIssue("ccm care plan", None, "action", "must be established, revised or reviewed")]
        )
    if recorded_on > now.date():
        raise InvalidInput(
            [InputIssue("ccm care plan", None, "recorded_on", f"{recorded_on} is in the future")]
        )
    with engine.connect() as conn:
        begin_write(conn)
        new_id = conn.execute(
            insert(ccm_care_plan)
            .values(
                member_id=find_member_id(conn, member_key),
                recorded_on=recorded_on,
                action=action,
                complex_mdm=complex_mdm,
                document_ref=document_ref,
                recorded_by=recorded_by,
                recorded_at=now,
            )
            .returning(ccm_care_plan.c.ccm_care_plan_id)
        ).scalar_one()
        conn.commit()
    return int(new_id)


def _end_open_enrolment(conn: Connection, member_id: int, start_date: date) -> int | None:
    open_row = conn.execute(
        select(ccm_enrollment.c.ccm_enrollment_id, ccm_enrollment.c.start_date).where(
            ccm_enrollment.c.member_id == member_id, ccm_enrollment.c.end_date.is_(None)
        )
    ).first()
    if open_row is None:
        return None
    if open_row[1] >= start_date:
        raise InvalidInput(
            [
                InputIssue(
                    "ccm enroll",
                    None,
                    "start_date",
                    f"an enrolment starting {open_row[1]} is open; a new one must start after it",
                )
            ]
        )
    conn.execute(
        update(ccm_enrollment)
        .where(ccm_enrollment.c.ccm_enrollment_id == open_row[0])
        .values(end_date=start_date - timedelta(days=1))
    )
    return int(open_row[0])


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    # Clamp the day to the target month's length (e.g. 31 March - 1 month -> 28/29 February).
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")
