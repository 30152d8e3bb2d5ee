"""Transitional care management cases: open them from discharges, record contact and visit, code them.

Deadlines and the code choice are the pure rules of :mod:`openvbc.domain.tcm` under
``rules/billing/tcm``; this module stores a case per qualifying discharge (natural key: the
discharge encounter) and re-codes it whenever something is recorded. Two service-level rules sit
here because they need other rows: only one TCM service per patient in a 30-day period (CPT; CMS
MLN908628), so a discharge inside an open case's period opens no second case; and a patient who
dies before the period ends cannot be billed (CMS "Transitional Care Management Services FAQs",
March 2016).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, insert, select, update

from openvbc.domain.errors import InputIssue, InvalidInput, UserError
from openvbc.domain.tcm import Mdm, TcmCase, TcmResult, code_tcm, open_tcm_case
from openvbc.rules.billing_schema import load_tcm_rule
from openvbc.rules.care_schema import load_discharge_destination_rule
from openvbc.rules.loader import RuleFileNotFound, load_holidays
from openvbc.services.ccm_time import insert_time_entry
from openvbc.store.loader import begin_write
from openvbc.store.tables import member, tcm_case, transition_item

TCM_RULE = "billing/tcm/2025.yaml"
MDM_LEVELS = ("straightforward", "low", "moderate", "high")
CONTACT_METHODS = ("phone", "video", "in_person", "portal")


@dataclass(frozen=True)
class CaseOpening:
    """A new or existing case id, or the reasons the discharge opens none."""

    case_id: int | None
    contact_due: date | None
    visit_due: date | None  # the last day any TCM level can still be met
    reasons: tuple[str, ...]


def collect_holidays(first: date, last: date) -> frozenset[date]:
    """Observed federal holidays of every calendar year the dates span (years outside the calendar
    contribute none; the calendar file says which years it covers)."""
    days: set[date] = set()
    for year in range(first.year, last.year + 1):
        try:
            days |= load_holidays(year)
        except RuleFileNotFound:
            continue
    return frozenset(days)


def rule_version() -> str:
    return TCM_RULE.removeprefix("billing/").removesuffix(".yaml")


def open_case_for_discharge(
    conn: Connection,
    *,
    encounter_key: str,
    member_id: int,
    practice_npi: str | None,
    from_setting: str,
    discharge_disposition: str | None,
    discharged_at: datetime,
    now: datetime,
) -> CaseOpening:
    """Open (or find) the TCM case of one discharge; the caller owns the transaction."""
    existing = (
        conn.execute(select(tcm_case).where(tcm_case.c.encounter_key == encounter_key)).mappings().first()
    )
    if existing is not None:
        return CaseOpening(existing["tcm_case_id"], existing["contact_due"], _last_visit_due(existing), ())
    rule = load_tcm_rule(TCM_RULE)
    destination = load_discharge_destination_rule().destination_of(discharge_disposition)
    discharge_day = discharged_at.date()
    holidays = collect_holidays(discharge_day, date(discharge_day.year + 1, 1, 31))
    opened = open_tcm_case(discharge_day, from_setting, destination, holidays, rule)
    if isinstance(opened, TcmResult):
        return CaseOpening(None, None, None, opened.reasons)
    covering = conn.execute(
        select(tcm_case.c.tcm_case_id, tcm_case.c.discharge_date).where(
            tcm_case.c.member_id == member_id,
            tcm_case.c.discharge_date <= discharge_day,
            tcm_case.c.service_period_end >= discharge_day,
            tcm_case.c.status != "not_billable",
        )
    ).first()
    if covering is not None:
        return CaseOpening(
            None,
            None,
            None,
            (
                f"within the 30-day period of TCM case {covering[0]} (discharge {covering[1]}); "
                "TCM is reported once per 30 days",
            ),
        )
    case_id = conn.execute(
        insert(tcm_case)
        .values(
            encounter_key=encounter_key,
            member_id=member_id,
            practice_npi=practice_npi,
            from_setting=from_setting,
            to_setting=destination,
            discharge_date=discharge_day,
            contact_due=opened.contact_due,
            visit_due_by_code=_format_due(opened),
            service_period_end=opened.service_period_end,
            status="open",
            rule_version=rule_version(),
            opened_at=now,
            updated_at=now,
        )
        .returning(tcm_case.c.tcm_case_id)
    ).scalar_one()
    return CaseOpening(int(case_id), opened.contact_due, max(opened.visit_due_by_code.values()), ())


def record_tcm_contact(
    engine: Engine,
    case_id: int,
    *,
    contact_at: datetime,
    by: str,
    method: str,
    now: datetime,
    minutes: int | None = None,
    role: str = "clinical_staff",
) -> dict[str, Any]:
    """Record the interactive contact (and, with ``minutes``, its time as TCM time for that person)."""
    issues = []
    if method not in CONTACT_METHODS:
        issues.append(
            InputIssue("tcm contact", None, "method", f"must be one of {', '.join(CONTACT_METHODS)}")
        )
    if contact_at > now:
        issues.append(InputIssue("tcm contact", None, "contact_at", f"{contact_at} is in the future"))
    if minutes is not None and not 1 <= minutes <= 240:
        issues.append(InputIssue("tcm contact", None, "minutes", "must be between 1 and 240"))
    if issues:
        raise InvalidInput(issues)
    with engine.connect() as conn:
        begin_write(conn)
        case = _read_case(conn, case_id)
        conn.execute(
            update(tcm_case)
            .where(tcm_case.c.tcm_case_id == case_id)
            .values(contact_at=contact_at, contact_by=by, contact_method=method, updated_at=now)
        )
        if minutes is not None:
            # Logged as TCM time so the same minutes can never count toward CCM (MLN909188).
            insert_time_entry(
                conn,
                member_id=case["member_id"],
                staff_id=by,
                role=role,
                service="tcm",
                source="manual",
                start_at=contact_at,
                end_at=contact_at + timedelta(minutes=minutes),
                activity=f"TCM interactive contact, case {case_id}",
                now=now,
            )
        _close_tasks(conn, case_id, ("tcm_contact",), now)
        result = _recode(conn, case_id, now)
        conn.commit()
    return result


def record_tcm_visit(
    engine: Engine,
    case_id: int,
    *,
    visit_date: date,
    mdm: str,
    practitioner_npi: str,
    now: datetime,
    medication_reconciled_on: date | None = None,
) -> dict[str, Any]:
    """Record the face-to-face visit with its medical decision making; the case is then coded."""
    if mdm not in MDM_LEVELS:
        raise InvalidInput([InputIssue("tcm visit", None, "mdm", f"must be one of {', '.join(MDM_LEVELS)}")])
    if visit_date > now.date():
        raise InvalidInput([InputIssue("tcm visit", None, "visit_date", f"{visit_date} is in the future")])
    values: dict[str, Any] = {
        "visit_date": visit_date,
        "visit_mdm": mdm,
        "visit_npi": practitioner_npi,
        "updated_at": now,
    }
    if medication_reconciled_on is not None:
        values["medication_reconciled_on"] = medication_reconciled_on
    return _update_and_recode(engine, case_id, values, now, ("discharge_follow_up",))


def record_medication_reconciliation(
    engine: Engine, case_id: int, *, on: date, now: datetime
) -> dict[str, Any]:
    """Medication reconciliation done (e.g. by the pharmacy); closes the pharmacy's task."""
    if on > now.date():
        raise InvalidInput([InputIssue("tcm medrec", None, "on", f"{on} is in the future")])
    values = {"medication_reconciled_on": on, "updated_at": now}
    return _update_and_recode(engine, case_id, values, now, ("medication_reconciliation",))


def read_tcm_status(engine: Engine, case_id: int, *, today: date) -> dict[str, Any]:
    """The case with its deadlines, what is overdue on ``today``, and its code or reasons."""
    with engine.connect() as conn:
        case = _read_case(conn, case_id)
        member_key = conn.execute(
            select(member.c.member_key).where(member.c.member_id == case["member_id"])
        ).scalar_one()
    status = dict(case)
    status["member_key"] = member_key
    status["overdue"] = _overdue(case, today)
    return status


def _update_and_recode(
    engine: Engine, case_id: int, values: dict[str, Any], now: datetime, tasks: tuple[str, ...]
) -> dict[str, Any]:
    with engine.connect() as conn:
        begin_write(conn)
        _read_case(conn, case_id)
        conn.execute(update(tcm_case).where(tcm_case.c.tcm_case_id == case_id).values(**values))
        _close_tasks(conn, case_id, tasks, now)
        result = _recode(conn, case_id, now)
        conn.commit()
    return result


def _recode(conn: Connection, case_id: int, now: datetime) -> dict[str, Any]:
    """Apply the code rule to what is recorded; the case stays open until the visit is recorded."""
    case = _read_case(conn, case_id)
    result = code_case(case, _death_date(conn, case["member_id"]))
    if case["visit_date"] is None:
        status, code = "open", None
    else:
        status, code = ("coded", result.code) if result.code else ("not_billable", None)
    conn.execute(
        update(tcm_case)
        .where(tcm_case.c.tcm_case_id == case_id)
        .values(status=status, code=code, reasons="; ".join(result.reasons) or None, updated_at=now)
    )
    return dict(_read_case(conn, case_id))


def code_case(case: Any, death_date: date | None) -> TcmResult:
    """The code rule of domain.tcm applied to a stored case, plus the death rule (CMS TCM FAQs 2016)."""
    rule = load_tcm_rule(TCM_RULE)
    domain_case = TcmCase(
        discharge_date=case["discharge_date"],
        contact_due=case["contact_due"],
        visit_due_by_code=_parse_due(case["visit_due_by_code"]),
        service_period_end=case["service_period_end"],
    )
    contact = case["contact_at"].date() if case["contact_at"] is not None else None
    mdm = cast(Mdm | None, case["visit_mdm"])
    result = code_tcm(domain_case, contact, case["visit_date"], mdm, case["medication_reconciled_on"], rule)
    if death_date is not None and death_date <= case["service_period_end"]:
        reason = (
            f"patient died on {death_date}, before the 30-day TCM period ended {case['service_period_end']}"
        )
        return TcmResult(None, (*result.reasons, reason))
    return result


def _death_date(conn: Connection, member_id: int) -> date | None:
    value = conn.execute(select(member.c.death_date).where(member.c.member_id == member_id)).scalar()
    return cast(date | None, value)


def _read_case(conn: Connection, case_id: int) -> Any:
    case = conn.execute(select(tcm_case).where(tcm_case.c.tcm_case_id == case_id)).mappings().first()
    if case is None:
        raise UserError(f"no TCM case {case_id}")
    return case


def _close_tasks(conn: Connection, case_id: int, tasks: tuple[str, ...], now: datetime) -> None:
    conn.execute(
        update(transition_item)
        .where(
            transition_item.c.tcm_case_id == case_id,
            transition_item.c.task.in_(tasks),
            transition_item.c.status == "open",
        )
        .values(status="done", done_at=now)
    )


def _overdue(case: Any, today: date) -> list[str]:
    late = []
    if case["contact_at"] is None and today > case["contact_due"]:
        late.append(f"interactive contact was due by {case['contact_due']}")
    if case["visit_date"] is None:
        last = _last_visit_due(case)
        if today > last:
            late.append(f"face-to-face visit was due by {last}")
    return late


def _format_due(case: TcmCase) -> str:
    return ";".join(f"{code}={due.isoformat()}" for code, due in case.visit_due_by_code.items())


def _parse_due(text: str) -> dict[str, date]:
    pairs = (part.split("=", 1) for part in text.split(";") if part)
    return {code: date.fromisoformat(day) for code, day in pairs}


def _last_visit_due(case: Any) -> date:
    return max(_parse_due(case["visit_due_by_code"]).values())
