"""Low back pain episodes, PROM collection in the store, the MCID outcome and the shared view."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, select

from openvbc.domain.errors import InvalidInput
from openvbc.domain.periods import MeasurementPeriod
from openvbc.domain.spine import DatedDiagnosis, build_episodes
from openvbc.rules.registry.schema import load_spine_rule
from openvbc.services.spine import (
    build_patient_view,
    evaluate_episodes,
    record_prom,
    refresh_episodes,
    summarise_mcid,
)
from openvbc.store import tables as t
from registry.world import ALPRAZ, OXY10, D, World

ODI_ITEMS = (
    "pain_intensity",
    "personal_care",
    "lifting",
    "walking",
    "sitting",
    "standing",
    "sleeping",
    "sex_life",
    "social_life",
    "travelling",
)


def odi(*values: int) -> dict[str, int | None]:
    return dict(zip(ODI_ITEMS, values, strict=True))


def test_episodes_follow_the_clean_period() -> None:
    rule = load_spine_rule()  # clean period 180 days
    diagnoses = [
        DatedDiagnosis(D(2025, 1, 10), "M54.50"),
        DatedDiagnosis(D(2025, 3, 1), "M54.16"),  # not a low-back code in the rule (M54.1 radiculopathy)
        DatedDiagnosis(D(2025, 4, 1), "M51.16"),  # 81 days later: same episode
        DatedDiagnosis(D(2025, 9, 28), "M54.5"),  # 180 days after Apr 1: still the same episode
        DatedDiagnosis(D(2026, 3, 28), "S33.5XXA"),  # 181 days after Sep 28: a new episode
    ]
    episodes = build_episodes(diagnoses, rule)
    assert [(e.start, e.end, e.index_code, e.diagnoses) for e in episodes] == [
        (D(2025, 1, 10), D(2025, 9, 28), "M5450", 3),
        (D(2026, 3, 28), D(2026, 3, 28), "S335XXA", 1),
    ]


def _spine_world() -> World:
    w = World()
    w.add_member(1, D(1968, 4, 4), pcp_npi="1234567893")
    w.add_member(2, D(1972, 8, 8))
    w.add_member(3, D(1980, 1, 1))
    w.add_condition(1, "M54.50", D(2025, 2, 3))
    w.add_condition(2, "M51.16", D(2025, 3, 10))
    w.add_claim_diagnosis(3, "M5450", D(2025, 4, 1))
    # member 1 also fills opioids and a benzodiazepine: the shared view shows them
    for day in (D(2025, 2, 5), D(2025, 3, 7)):
        w.add_fill(1, OXY10, day, 30, 180)
    w.add_fill(1, ALPRAZ, D(2025, 2, 20), 30, 30)
    return w


def test_prom_outcomes_and_mcid(store_engine: Engine) -> None:
    _spine_world().insert_into(store_engine)
    now = datetime(2025, 6, 30, 12, 0)
    # member 1: baseline ODI 2025-02-01 (2 days before the episode) = 24 of 50 -> 48.0 %;
    # follow-up 2025-05-05 (91 days) = 14 of 50 -> 28.0 %: improvement 20 >= 10 -> MCID met.
    record_prom(store_engine, "M0001", "ODI", D(2025, 2, 1), odi(3, 2, 3, 2, 3, 3, 2, 2, 2, 2), now=now)
    record_prom(store_engine, "M0001", "ODI", D(2025, 5, 5), odi(2, 1, 2, 1, 2, 2, 1, 1, 1, 1), now=now)
    # member 2: baseline 2025-03-10 = 20 of 50 -> 40.0 %; follow-up 2025-06-08 (90 days) = 17 -> 34.0 %:
    # improvement 6 < 10 and 6/40 = 15 % < 30 % -> not met.
    record_prom(store_engine, "M0002", "ODI", D(2025, 3, 10), odi(2, 2, 2, 2, 2, 2, 2, 2, 2, 2), now=now)
    record_prom(store_engine, "M0002", "ODI", D(2025, 6, 8), odi(2, 2, 2, 2, 2, 2, 2, 1, 1, 1), now=now)
    # member 3: only a baseline -> awaiting follow-up.
    record_prom(store_engine, "M0003", "NPRS", D(2025, 4, 1), {"pain_now": 6}, now=now)
    record_prom(store_engine, "M0003", "ODI", D(2025, 4, 1), odi(1, 1, 1, 1, 1, 1, 1, 1, 1, 1), now=now)
    outcomes = {o.member_id: o for o in evaluate_episodes(store_engine)}
    assert outcomes[1].changes["ODI"].improvement == 20.0 and outcomes[1].changes["ODI"].meets_mcid
    assert outcomes[2].changes["ODI"].improvement == 6.0 and not outcomes[2].changes["ODI"].meets_mcid
    assert outcomes[3].missing == {"ODI": "month_3", "NPRS": "month_3"}
    summary = summarise_mcid(
        list(outcomes.values()), "ODI", MeasurementPeriod(D(2025, 1, 1), D(2025, 12, 31))
    )
    assert summary == {
        "instrument": "ODI",
        "eligible": 2,
        "met": 1,
        "not_met": 1,
        "episodes_missing_a_score": 1,
    }
    assert refresh_episodes(store_engine, now=now) == 3
    with store_engine.connect() as connection:
        stored = dict(
            connection.execute(select(t.spine_episode.c.member_id, t.spine_episode.c.outcome_status)).all()
        )
    assert stored == {1: "met", 2: "not_met", 3: "awaiting"}


def test_bad_prom_input_is_named(sqlite_engine: Engine) -> None:
    _spine_world().insert_into(sqlite_engine)
    with pytest.raises(InvalidInput) as caught:
        record_prom(sqlite_engine, "M0001", "ODI", D(2025, 2, 1), {"pain_intensity": 9})
    assert caught.value.issues[0].field == "answers" and "outside 0-5" in caught.value.issues[0].message
    with pytest.raises(InvalidInput) as unknown:
        record_prom(sqlite_engine, "NOBODY", "NPRS", D(2025, 2, 1), {"pain_now": 3})
    assert unknown.value.issues[0].field == "member_key"
    record_prom(sqlite_engine, "M0001", "NPRS", D(2025, 2, 1), {"pain_now": 3})
    with pytest.raises(InvalidInput, match="already recorded"):
        record_prom(sqlite_engine, "M0001", "NPRS", D(2025, 2, 1), {"pain_now": 4})


def test_shared_patient_view(sqlite_engine: Engine) -> None:
    _spine_world().insert_into(sqlite_engine)
    record_prom(sqlite_engine, "M0001", "NPRS", D(2025, 2, 1), {"pain_now": 7})
    view = build_patient_view(sqlite_engine, "M0001", 2025)
    assert view["episodes"][0]["start"] == D(2025, 2, 3)
    assert [p["score"] for p in view["proms"]] == [7.0]
    assert [f["kind"] for f in view["controlled_substance_fills"]] == ["opioid", "benzodiazepine", "opioid"]
    # oxycodone 10 mg x 180 / 30 = 60 mg x 1.5 = 90 MME/day; two fills: 30 + 30 days
    assert view["peak_mme_per_day"] == 90.0 and view["days_with_opioid_supply"] == 60
    # alprazolam Feb 20 - Mar 21 overlaps the opioid supply Feb 5 - Apr 5 on all 30 days, but one
    # benzodiazepine fill date is not enough for COB.
    assert view["opioid_safety"]["PQA-COB"]["flagged"] is False
    assert "30 overlap day(s)" in view["opioid_safety"]["PQA-COB"]["evidence"]
    assert view["care_team"]["pcp_npi"] == "1234567893"
