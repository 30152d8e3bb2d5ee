"""TCM cases on both stores: deadlines around weekends and holidays, 99496 vs 99495, and reasons.

Deadlines are hand-computed from the 2025/2026 OPM holiday calendar (observed dates): contact is
due 2 business days after discharge (Monday-Friday, holidays skipped); 99496 needs the visit
within 7 days and high MDM, 99495 within 14 days and at least moderate MDM (CMS MLN908628).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from carecoord_seed import PHYSICIAN, add_encounter, seed_people
from sqlalchemy import Engine, update

from openvbc.domain.errors import InvalidInput
from openvbc.services.tcm_cases import (
    read_tcm_status,
    record_medication_reconciliation,
    record_tcm_contact,
    record_tcm_visit,
)
from openvbc.services.transitions import build_transitions_worklist, list_transitions_worklist
from openvbc.store.tables import member

NOW = datetime(2026, 2, 1, 9, 0)


def _discharge(
    engine: Engine, day: date, disposition: str | None = "01", member_id: int = 1, key: str = "S1"
) -> int | None:
    add_encounter(
        engine,
        key,
        member_id,
        "inpatient",
        datetime(day.year, day.month, day.day) - _days(3),
        _at(day, 14),
        disposition=disposition,
    )
    build_transitions_worklist(engine, day + _days(1), now=NOW)
    items = list_transitions_worklist(engine, day + _days(1))
    practice = [i for i in items if i["audience_kind"] == "practice" and i["encounter_key"] == key]
    return practice[0]["tcm_case_id"] if practice else None


def _days(n: int):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return timedelta(days=n)


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour)


@pytest.mark.parametrize(
    ("discharged", "contact_due", "why"),
    [
        (date(2025, 7, 2), date(2025, 7, 7), "Wed; Thu counts, Fri 4 July is a holiday, weekend, Mon"),
        (date(2025, 11, 21), date(2025, 11, 25), "Fri; weekend skipped, Mon and Tue"),
        (date(2025, 11, 26), date(2025, 12, 1), "Wed before Thanksgiving; Fri 28 Nov and Mon 1 Dec"),
        (date(2025, 12, 24), date(2025, 12, 29), "Christmas Thu skipped; Fri 26 and Mon 29"),
        (date(2025, 12, 30), date(2026, 1, 2), "New Year's Day 2026 skipped across the year end"),
        (date(2025, 7, 5), date(2025, 7, 8), "Saturday discharge; Mon and Tue"),
    ],
)
def test_contact_deadline_skips_weekends_and_holidays(
    store_engine: Engine, discharged: date, contact_due: date, why: str
) -> None:
    seed_people(store_engine, 1)
    case_id = _discharge(store_engine, discharged)
    assert case_id is not None, why
    status = read_tcm_status(store_engine, case_id, today=discharged)
    assert status["contact_due"] == contact_due, why
    assert status["visit_due_by_code"] == (
        f"99496={(discharged + _days(7)).isoformat()};99495={(discharged + _days(14)).isoformat()}"
    )
    assert status["service_period_end"] == discharged + _days(29)


def _worked_case(engine: Engine, visit_day: int, mdm: str, contact_day: date | None = None) -> dict:  # type: ignore[type-arg]
    seed_people(engine, 1)
    case_id = _discharge(engine, date(2025, 7, 2))  # contact due 2025-07-07
    assert case_id is not None
    record_tcm_contact(
        engine,
        case_id,
        contact_at=_at(contact_day or date(2025, 7, 3), 10),
        by="rn1",
        method="phone",
        now=NOW,
    )
    visit = date(2025, 7, 2) + _days(visit_day)
    return record_tcm_visit(
        engine,
        case_id,
        visit_date=visit,
        mdm=mdm,
        practitioner_npi=PHYSICIAN,
        now=NOW,
        medication_reconciled_on=visit,
    )


def test_high_mdm_within_7_days_is_99496(store_engine: Engine) -> None:
    case = _worked_case(store_engine, 7, "high")
    assert (case["status"], case["code"]) == ("coded", "99496")


def test_high_mdm_on_day_8_falls_back_to_99495(store_engine: Engine) -> None:
    case = _worked_case(store_engine, 8, "high")
    assert (case["status"], case["code"]) == ("coded", "99495")


def test_moderate_mdm_within_7_days_is_99495(store_engine: Engine) -> None:
    case = _worked_case(store_engine, 5, "moderate")
    assert case["code"] == "99495"


def test_visit_after_day_14_has_reasons_for_both_codes(store_engine: Engine) -> None:
    case = _worked_case(store_engine, 15, "high")
    assert (case["status"], case["code"]) == ("not_billable", None)
    assert "99496: visit on 2025-07-17 is after 2025-07-09" in case["reasons"]
    assert "99495: visit on 2025-07-17 is after 2025-07-16" in case["reasons"]


def test_late_contact_is_a_reason(store_engine: Engine) -> None:
    case = _worked_case(store_engine, 5, "high", contact_day=date(2025, 7, 8))
    assert case["code"] is None
    assert "interactive contact on 2025-07-08 is outside 2025-07-02..2025-07-07" in case["reasons"]


def test_low_mdm_is_not_enough(sqlite_engine: Engine) -> None:
    case = _worked_case(sqlite_engine, 5, "low")
    assert case["code"] is None
    assert "99495: needs moderate MDM, recorded low" in case["reasons"]


def test_death_within_the_period_blocks_the_code(sqlite_engine: Engine) -> None:
    seed_people(sqlite_engine, 1)
    case_id = _discharge(sqlite_engine, date(2025, 7, 2))
    assert case_id is not None
    with sqlite_engine.begin() as conn:
        conn.execute(update(member).values(death_date=date(2025, 7, 20)))
    record_tcm_contact(
        sqlite_engine, case_id, contact_at=_at(date(2025, 7, 3), 9), by="rn1", method="phone", now=NOW
    )
    case = record_tcm_visit(
        sqlite_engine,
        case_id,
        visit_date=date(2025, 7, 6),
        mdm="high",
        practitioner_npi=PHYSICIAN,
        now=NOW,
        medication_reconciled_on=date(2025, 7, 6),
    )
    assert case["code"] is None
    assert "patient died on 2025-07-20" in case["reasons"]


def test_medication_reconciliation_by_pharmacy_closes_its_task_and_codes(store_engine: Engine) -> None:
    seed_people(store_engine, 1)
    case_id = _discharge(store_engine, date(2025, 7, 2))
    assert case_id is not None
    record_tcm_contact(
        store_engine, case_id, contact_at=_at(date(2025, 7, 3), 9), by="rn1", method="phone", now=NOW
    )
    record_medication_reconciliation(store_engine, case_id, on=date(2025, 7, 5), now=NOW)
    case = record_tcm_visit(
        store_engine, case_id, visit_date=date(2025, 7, 6), mdm="high", practitioner_npi=PHYSICIAN, now=NOW
    )
    assert case["code"] == "99496"
    tasks = {i["task"]: i["status"] for i in list_transitions_worklist(store_engine, date(2025, 7, 3))}
    assert tasks == {"tcm_contact": "done", "medication_reconciliation": "done"}


@pytest.mark.parametrize(
    ("disposition", "reason"),
    [
        ("03", "discharge to 'snf' is not a community setting"),
        (None, "discharge to 'unknown' is not a community setting"),
        ("20", "discharge to 'expired' is not a community setting"),
    ],
)
def test_non_community_discharges_open_no_case(
    sqlite_engine: Engine, disposition: str | None, reason: str
) -> None:
    seed_people(sqlite_engine, 1)
    assert _discharge(sqlite_engine, date(2025, 7, 2), disposition) is None
    items = list_transitions_worklist(sqlite_engine, date(2025, 7, 3))
    practice = next(i for i in items if i["audience_kind"] == "practice")
    assert practice["task"] == "discharge_follow_up"
    assert practice["note"] == reason


def test_second_discharge_inside_30_days_opens_no_second_case(sqlite_engine: Engine) -> None:
    seed_people(sqlite_engine, 1)
    first = _discharge(sqlite_engine, date(2025, 7, 2), key="S1")
    assert first is not None
    assert _discharge(sqlite_engine, date(2025, 7, 20), key="S2") is None
    note = next(
        i["note"]
        for i in list_transitions_worklist(sqlite_engine, date(2025, 7, 21))
        if i["audience_kind"] == "practice"
    )
    assert note.startswith(f"within the 30-day period of TCM case {first}")


def test_bad_inputs_are_rejected(sqlite_engine: Engine) -> None:
    seed_people(sqlite_engine, 1)
    case_id = _discharge(sqlite_engine, date(2025, 7, 2))
    assert case_id is not None
    with pytest.raises(InvalidInput) as error:
        record_tcm_contact(
            sqlite_engine, case_id, contact_at=datetime(2030, 1, 1), by="x", method="fax", now=NOW
        )
    assert {issue.field for issue in error.value.issues} == {"method", "contact_at"}
    with pytest.raises(InvalidInput):
        record_tcm_visit(
            sqlite_engine,
            case_id,
            visit_date=date(2025, 7, 5),
            mdm="extreme",
            practitioner_npi=PHYSICIAN,
            now=NOW,
        )


def test_coded_case_bills_once_on_the_visit_date(store_engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from openvbc.interop.x12.reader import parse_x12
    from openvbc.interop.x12.validate import validate_x12
    from openvbc.services.claims import ClaimsProfile, generate_tcm_claims

    _worked_case(store_engine, 6, "high")
    out = tmp_path / "tcm.837"
    run = generate_tcm_claims(store_engine, ClaimsProfile(), month="2025-07", out=out, now=NOW)
    assert (run.claims, str(run.total_charge)) == (1, "280.00")
    text = out.read_text(encoding="ascii")
    assert validate_x12(text) == []
    document = parse_x12(text)
    assert [s.get(1) for s in document.by_id("SV1")] == ["HC:99496"]
    assert {s.get(3) for s in document.by_id("DTP") if s.get(1) == "472"} == {"20250708"}
    assert (
        generate_tcm_claims(
            store_engine, ClaimsProfile(), month="2025-07", out=tmp_path / "b.837", now=NOW
        ).claims
        == 0
    )
