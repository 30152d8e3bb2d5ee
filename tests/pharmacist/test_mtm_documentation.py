"""MTM encounter documentation on SQLite and PostgreSQL: stored rows, and bad input stores nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from openvbc.domain.errors import InvalidInput
from openvbc.services.mtm_documentation import record_mtm_documentation
from openvbc.store.tables import (
    mtm_encounter,
    mtm_goal,
    mtm_intervention,
    mtm_medication,
    mtm_outcome,
    mtm_problem,
    observation,
)
from pharmacist.seed import encounter_document, seed_store

DETAIL = (mtm_encounter, mtm_medication, mtm_problem, mtm_goal, mtm_intervention, mtm_outcome, observation)


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in DETAIL}


def test_a_documented_cmr_is_stored_with_its_detail_and_vitals(store_engine: Engine) -> None:
    seed_store(store_engine)
    result = record_mtm_documentation(store_engine, encounter_document(), source="enc.json")
    # 09:00-09:35 at -06:00: 35 minutes; first MTM for the member at this pharmacy: new.
    assert (result.minutes, result.patient_status, result.uncoded_problems) == (35, "new", ["dtp-2"])
    assert _counts(store_engine) == {
        "mtm_encounter": 1,
        "mtm_medication": 2,
        "mtm_problem": 2,
        "mtm_goal": 1,
        "mtm_intervention": 2,
        "mtm_outcome": 1,
        "observation": 4,
    }
    with store_engine.connect() as conn:
        row = conn.execute(select(mtm_encounter)).mappings().one()
        problems = conn.execute(select(mtm_problem).order_by(mtm_problem.c.problem_key)).mappings().all()
        readings = dict(conn.execute(select(observation.c.code, observation.c.value_num)).all())
        tobacco = conn.execute(
            select(observation.c.value_code).where(observation.c.code == "72166-2")
        ).scalar()
    assert (row["kind"], str(row["service_date"]), str(row["start_at"])) == (
        "CMR",
        "2025-03-14",
        "2025-03-14 15:00:00",
    )
    assert [(p["code"], p["free_text"]) for p in problems] == [
        ("697958005", "Misses evening doses"),
        (None, "Cannot open child-resistant caps"),
    ]
    assert readings["8480-6"] == 132 and readings["8462-4"] == 84 and readings["4548-4"] == pytest.approx(7.9)
    assert tobacco == "266919005"  # never smoked, in the CMS138 Tobacco Non-User value set


BAD_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("end before start", {"end_at": "2025-03-14T08:00:00-06:00"}, "end_at", "before"),
    (
        "minutes over a day",
        {"start_at": None, "end_at": None, "minutes": 1441, "service_date": "2025-03-14"},
        "minutes",
        "outside 1..1440",
    ),
    (
        "unknown SNOMED",
        {"problems": [{"key": "p", "snomed": "44054006", "text": "Diabetes"}]},
        "problems[0].snomed",
        "not in the pharmacist DTP value set",
    ),
    ("not attributed (no fills here)", {"member_key": "M0002"}, "member_key", "not this pharmacy's patient"),
    ("attributed elsewhere by snapshot", {"member_key": "M0003"}, "member_key", "attributed to 1003000126"),
    ("unknown member", {"member_key": "NOPE"}, "member_key", "no member"),
    (
        "dangling goal problem",
        {"goals": [{"key": "g", "text": "x", "problem": "nope"}]},
        "goals[0].problem",
        "names nothing",
    ),
    ("bad NPI", {"pharmacist_npi": "1234567890"}, "pharmacist_npi", "not a valid NPI"),
]


@pytest.mark.parametrize(("label", "change", "field", "text"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_input_is_named_and_nothing_is_stored(
    store_engine: Engine, label: str, change: dict[str, Any], field: str, text: str
) -> None:
    seed_store(store_engine)
    before = _counts(store_engine)
    with pytest.raises(InvalidInput) as caught:
        record_mtm_documentation(store_engine, encounter_document(**change), source="enc.json")
    assert any(
        i.field == field and text in i.message and i.file == "enc.json" for i in caught.value.issues
    ), caught.value.issues
    assert _counts(store_engine) == before


def test_the_same_encounter_twice_is_refused(store_engine: Engine) -> None:
    seed_store(store_engine)
    record_mtm_documentation(store_engine, encounter_document(), source="a")
    with pytest.raises(InvalidInput, match="already documented"):
        record_mtm_documentation(store_engine, encounter_document(), source="a")


def test_second_visit_is_an_established_patient(store_engine: Engine) -> None:
    seed_store(store_engine)
    record_mtm_documentation(store_engine, encounter_document(), source="a")
    follow_up = encounter_document(
        mtm_key="enc-2",
        kind="FOLLOWUP",
        start_at=None,
        end_at=None,
        minutes=10,
        service_date="2025-04-14",
        vitals={},
    )
    assert record_mtm_documentation(store_engine, follow_up, source="b").patient_status == "established"
