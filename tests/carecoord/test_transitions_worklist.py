"""Transitions worklist: flags by hand, attribution routing, idempotent rebuilds, and the Ibis
expression against a plain-Python reference model over random encounter histories."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import ibis
import pyarrow as pa
from carecoord_seed import PHARMACY, PRACTICE, add_encounter, seed_people
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert

from openvbc.engine.transitions import find_transition_events
from openvbc.services.transitions import (
    ENCOUNTER_COLUMNS,
    build_transitions_worklist,
    list_transitions_worklist,
)
from openvbc.store.tables import attribution_snapshot

DAY = date(2025, 7, 10)  # the events' day; the worklist date is the day after
NOW = datetime(2025, 7, 11, 7, 0)


def _t(days_before: int, hour: int = 9) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour) - timedelta(days=days_before)


def test_flags_by_hand(store_engine: Engine) -> None:
    seed_people(store_engine, 3)
    # M1: ED visits 59 and 20 days before and on the day -> 3 in the 60 days ending on the day.
    add_encounter(store_engine, "E1a", 1, "ed", _t(59), _t(59, 12))
    add_encounter(store_engine, "E1b", 1, "ed", _t(20), _t(20, 12))
    add_encounter(store_engine, "E1c", 1, "ed", _t(0), _t(0, 12))
    # M2: ED visits 60 days before (outside) and on the day; inpatient stay that ended 30 days
    # before the ED arrival -> readmission flag (the window is 30 days inclusive).
    add_encounter(store_engine, "E2a", 2, "ed", _t(60), _t(60, 12))
    add_encounter(store_engine, "S2", 2, "inpatient", _t(35), _t(30, 8))
    add_encounter(store_engine, "E2b", 2, "ed", _t(0, 8), _t(0, 11))
    # M3: stay ended 31 days before the admission -> no readmission; a cancelled ED visit counts for nothing.
    add_encounter(store_engine, "S3a", 3, "inpatient", _t(40), _t(35, 10))
    add_encounter(store_engine, "S3b", 3, "inpatient", _t(4, 11), _t(0, 15))
    add_encounter(store_engine, "E3x", 3, "ed", _t(0), None, status="cancelled")
    build = build_transitions_worklist(store_engine, DAY + timedelta(days=1), now=NOW)
    assert build.events == 3
    items = list_transitions_worklist(store_engine, DAY + timedelta(days=1), practice_npi=PRACTICE)
    got = {
        (i["encounter_key"], i["ed_visits_60d"], i["high_utilizer"], i["readmission_30d"], i["task"])
        for i in items
    }
    assert got == {
        ("E1c", 3, True, False, "ed_follow_up"),
        ("E2b", 1, False, True, "ed_follow_up"),
        ("S3b", 0, False, False, "tcm_contact"),
    }
    pharmacy = list_transitions_worklist(store_engine, DAY + timedelta(days=1), pharmacy_npi=PHARMACY)
    assert {(i["encounter_key"], i["task"]) for i in pharmacy} == {
        ("E1c", "ed_follow_up"),
        ("E2b", "ed_follow_up"),
        ("S3b", "medication_reconciliation"),
    }
    # The practice came from the PCP's parent practice, the pharmacy from fills (no snapshot yet).
    assert {i["attribution_source"] for i in items} == {"fallback:pcp_parent_npi"}


def test_rebuild_adds_nothing_and_late_events_are_added(sqlite_engine: Engine) -> None:
    seed_people(sqlite_engine, 2)
    add_encounter(sqlite_engine, "E1", 1, "ed", _t(0))
    first = build_transitions_worklist(sqlite_engine, DAY + timedelta(days=1), now=NOW)
    again = build_transitions_worklist(sqlite_engine, DAY + timedelta(days=1), now=NOW)
    assert (first.items_added, again.items_added) == (2, 0)
    add_encounter(sqlite_engine, "E2", 2, "ed", _t(0, 22))  # a late ADT message
    late = build_transitions_worklist(sqlite_engine, DAY + timedelta(days=1), now=NOW)
    assert late.items_added == 2


def test_snapshot_attribution_wins_over_fallback(sqlite_engine: Engine) -> None:
    from carecoord_seed import OTHER_PRACTICE

    seed_people(sqlite_engine, 1)
    with sqlite_engine.begin() as conn:
        conn.execute(
            insert(attribution_snapshot).values(
                program_id="pie",
                program_year=2025,
                as_of=date(2025, 6, 30),
                member_id=1,
                provider_kind="practice",
                method="mssp_allowed_charges",
                provider_npi=OTHER_PRACTICE,
                reason="test",
                rule_version="2025.1",
            )
        )
    add_encounter(sqlite_engine, "E1", 1, "ed", _t(0))
    build_transitions_worklist(sqlite_engine, DAY + timedelta(days=1), now=NOW)
    items = list_transitions_worklist(sqlite_engine, DAY + timedelta(days=1))
    practice = next(i for i in items if i["audience_kind"] == "practice")
    assert (practice["audience_npi"], practice["attribution_source"]) == (
        OTHER_PRACTICE,
        "snapshot:pie/mssp_allowed_charges",
    )


_DUCKDB = ibis.duckdb.connect()  # one in-process database for all examples: connecting is the slow part


# --- reference model -------------------------------------------------------------------------


def reference_events(rows: list[dict[str, Any]], day: date) -> set[tuple[Any, ...]]:
    """The rule written out plainly, one encounter at a time (the oracle for the Ibis expression)."""
    live = [r for r in rows if r["status"] not in ("cancelled", "entered-in-error")]
    out = set()
    for r in live:
        if r["setting"] == "ed" and r["start_at"].date() == day:
            kind, start = "ed_visit", r["start_at"]
        elif (
            r["setting"] in ("inpatient", "observation", "snf")
            and r["status"] == "finished"
            and r["end_at"] is not None
            and r["end_at"].date() == day
        ):
            kind, start = "discharge", r["start_at"]
        else:
            continue
        visits = sum(
            1
            for o in live
            if o["member_id"] == r["member_id"]
            and o["setting"] == "ed"
            and day - timedelta(days=59) <= o["start_at"].date() <= day
        )
        readmit = any(
            o["member_id"] == r["member_id"]
            and o["encounter_key"] != r["encounter_key"]
            and o["setting"] == "inpatient"
            and o["end_at"] is not None
            and o["end_at"] <= start
            and o["end_at"].date() >= start.date() - timedelta(days=30)
            for o in live
        )
        out.add((r["encounter_key"], kind, visits, visits >= 3, readmit))
    return out


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for n in range(draw(st.integers(0, 25))):
        start = datetime(2025, 7, 10) - timedelta(hours=draw(st.integers(0, 24 * 80)))
        length = timedelta(hours=draw(st.integers(1, 24 * 10)))
        rows.append(
            {
                "member_id": draw(st.integers(1, 3)),
                "encounter_key": f"K{n}",
                "setting": draw(st.sampled_from(["ed", "inpatient", "observation", "snf", "ambulatory"])),
                "status": draw(st.sampled_from(["finished", "finished", "in-progress", "cancelled"])),
                "start_at": start,
                "end_at": draw(st.sampled_from([start + length, None])),
                "facility_npi": None,
                "discharge_disposition": draw(st.sampled_from(["01", None])),
            }
        )
    return rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.integers(0, 12))
def test_engine_matches_reference_model(rows: list[dict[str, Any]], offset: int) -> None:
    day = date(2025, 7, 10) - timedelta(days=offset)
    table = pa.table(
        {name: pa.array([r[name] for r in rows], type=kind) for name, kind in ENCOUNTER_COLUMNS.items()}
    )
    found = (
        find_transition_events(_DUCKDB.create_table("encounter", table, overwrite=True), day)
        .to_pyarrow()
        .to_pylist()
    )
    got = {
        (r["encounter_key"], r["event_kind"], r["ed_visits_60d"], r["high_utilizer"], r["readmission_30d"])
        for r in found
    }
    assert got == reference_events(rows, day)
    assert len(found) == len(got)
