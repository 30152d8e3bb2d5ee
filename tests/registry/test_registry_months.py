"""Month-by-month results: when a member became controlled, in rolling-12 and calendar windows."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from openvbc.engine.registry_months import month_period
from openvbc.services.registry import (
    build_member_months,
    find_status_changes,
    read_member_timeline,
    summarise_cohorts,
    summarise_trends,
    write_registry,
)
from registry.mips_cases import NPI_A, TIN
from registry.mips_helpers import backend_of
from registry.world import D, World


def build_timeline_world() -> World:
    """Member 1 (hypertension since 2020, office visit 2025-01-10 with clinician A):
    BP 125/75 on 2024-11-01 (controlled), 150/95 on 2025-02-15 (not), 130/80 on 2025-05-20 (controlled).
    Member 2 (diabetes E11.9, visit 2025-03-01): HbA1c 10.1 % on 2025-03-05, 7.2 % on 2025-09-01.
    """
    w = World()
    w.add_provider(NPI_A, "clinician", TIN, "Dr A")
    w.add_member(1, D(1970, 5, 5), pcp_npi=NPI_A)
    w.add_member(2, D(1965, 7, 7), pcp_npi=NPI_A)
    w.add_condition(1, "I10", D(2020, 1, 1))
    w.add_encounter(1, D(2025, 1, 10), provider_npi=NPI_A)
    for day, (systolic, diastolic) in (
        (D(2024, 11, 1), (125, 75)),
        (D(2025, 2, 15), (150, 95)),
        (D(2025, 5, 20), (130, 80)),
    ):
        w.add_observation(1, day, "8480-6", systolic, "mm[Hg]", panel=f"p{day}")
        w.add_observation(1, day, "8462-4", diastolic, "mm[Hg]", panel=f"p{day}")
    w.add_condition(2, "E11.9", D(2018, 1, 1))
    w.add_encounter(2, D(2025, 3, 1), provider_npi=NPI_A)
    w.add_observation(2, D(2025, 3, 5), "4548-4", 10.1, "%", category="laboratory")
    w.add_observation(2, D(2025, 9, 1), "4548-4", 7.2, "%", category="laboratory")
    return w


def test_month_periods() -> None:
    assert month_period(2025, 1, "rolling12") == month_period(2025, 1, "rolling12")
    rolling = month_period(2025, 2, "rolling12")
    assert (rolling.start, rolling.end) == (D(2024, 3, 1), D(2025, 2, 28))
    calendar = month_period(2025, 2, "calendar")
    assert (calendar.start, calendar.end) == (D(2025, 1, 1), D(2025, 2, 28))


def test_rolling_window_shows_when_bp_became_controlled(store_engine: Engine) -> None:
    build_timeline_world().insert_into(store_engine)
    # Each month is a full CMS165 evaluation (about 6 s on two cores), so four months are enough here.
    months = [1, 2, 4, 5]
    rows = build_member_months(
        store_engine,
        2025,
        measure_ids=["CMS165"],
        window="rolling12",
        months=months,
        backend=backend_of(store_engine),
    ).to_pylist()
    status = {r["month"]: r["good_outcome"] for r in rows if r["member_id"] == 1}
    # Jan: most recent reading in Feb 2024 - Jan 2025 is 125/75 -> controlled; Feb-Apr: 150/95 -> not;
    # May: 130/80 -> controlled.
    assert status == {f"2025-{m:02d}": m == 1 or m >= 5 for m in months}
    changes = [(c.month, c.became) for c in find_status_changes(rows) if c.member_id == 1]
    assert changes == [("2025-01", "controlled"), ("2025-02", "uncontrolled"), ("2025-05", "controlled")]


def test_calendar_window_and_inverse_measure(sqlite_engine: Engine) -> None:
    build_timeline_world().insert_into(sqlite_engine)
    months = [1, 2, 5, 8, 9]
    rows = build_member_months(
        sqlite_engine, 2025, measure_ids=["CMS165", "CMS122"], window="calendar", months=months
    ).to_pylist()
    bp = {r["month"]: r["good_outcome"] for r in rows if r["member_id"] == 1}
    # Calendar periods start 2025-01-01: no reading in January -> not controlled; Feb 150/95 -> not;
    # May onwards 130/80 -> controlled.
    assert bp == {f"2025-{m:02d}": m >= 5 for m in months}
    a1c = {r["month"]: r["good_outcome"] for r in rows if r["member_id"] == 2}
    # The visit is on 2025-03-01, so the member enters in March (absent in Jan, Feb). CMS122 is inverse:
    # numerator = poor control. May-Aug most recent 10.1 % > 9 -> poor; Sep 7.2 % -> controlled.
    assert a1c == {"2025-05": False, "2025-08": False, "2025-09": True}


def test_trends_cohorts_and_files(sqlite_engine: Engine, tmp_path: Path) -> None:
    build_timeline_world().insert_into(sqlite_engine)
    rows = build_member_months(sqlite_engine, 2025, measure_ids=["CMS165"], months=[5]).to_pylist()
    trends = summarise_trends(sqlite_engine, rows)
    assert {(t["provider_npi"], t["scored"], t["good_outcome"]) for t in trends} == {
        ("all", 1, 1),
        (NPI_A, 1, 1),
    }
    cohorts = summarise_cohorts(sqlite_engine, rows)
    assert [c["cohort"] for c in cohorts] == ["hypertension"]
    built = write_registry(sqlite_engine, 2025, tmp_path, measure_ids=["CMS165"], months=[1, 2])
    # member 1 in both months: Jan controlled, Feb uncontrolled -> two changes
    assert built.member_months == 2 and built.changes == 2
    assert all(f.exists() for f in built.files)
    timeline = read_member_timeline(sqlite_engine, "M0001", 2025, measure_ids=["CMS165"], months=[2])
    assert [(r["month"], r["good_outcome"]) for r in timeline] == [("2025-02", False)]
