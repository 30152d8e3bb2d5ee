"""CCM time entries: random entries through the store (no overlap accepted for one person), and
month minutes equal to the union of intervals, with TCM/MTM minutes removed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from carecoord_seed import seed_people
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select

from openvbc.domain.ccm_coding import CcmLine
from openvbc.domain.ccm_coding import bill_ccm_month as code_month
from openvbc.domain.ccm_minutes import RoleSpan, count_month_minutes, month_bounds
from openvbc.domain.errors import InvalidInput, UserError
from openvbc.domain.intervals import TimeEntry, find_overlaps, measure_union_minutes
from openvbc.rules.billing_schema import load_ccm_code_rule
from openvbc.services.ccm import log_time, start_timer, stop_timer
from openvbc.store.tables import ccm_time_entry

NOW = datetime(2025, 8, 1, 9, 0)
BASE = datetime(2025, 6, 30, 20, 0)  # entries straddle the June/July month end

entry_specs = st.lists(
    st.tuples(st.sampled_from(["rn1", "rn2"]), st.integers(0, 600), st.integers(1, 90)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entry_specs)
def test_random_entries_no_overlap_accepted_and_totals_are_unions(
    sqlite_engine: Engine, specs: list[tuple[str, int, int]]
) -> None:
    with sqlite_engine.begin() as conn:
        conn.execute(delete(ccm_time_entry))
    if not _seeded(sqlite_engine):
        seed_people(sqlite_engine, 1)
    accepted: list[TimeEntry] = []
    for staff, offset, minutes in specs:
        start = BASE + timedelta(minutes=offset)
        candidate = TimeEntry(staff, start, start + timedelta(minutes=minutes))
        clashes = find_overlaps([*accepted, candidate])
        try:
            log_time(
                sqlite_engine,
                member_key="M1",
                staff_id=staff,
                role="clinical_staff",
                start_at=start,
                minutes=minutes,
                now=NOW,
            )
        except InvalidInput as error:
            assert clashes, "refused an entry that overlaps nothing"
            assert "overlaps entry" in error.issues[0].message
            continue
        assert not clashes, "accepted an overlapping entry"
        accepted.append(candidate)
    with sqlite_engine.connect() as conn:
        stored = [TimeEntry(r.staff_id, r.start_at, r.end_at) for r in conn.execute(select(ccm_time_entry))]
    assert find_overlaps(stored) == []
    assert sorted(stored, key=lambda e: (e.person, e.start)) == sorted(
        accepted, key=lambda e: (e.person, e.start)
    )
    for year, month in ((2025, 6), (2025, 7)):
        window = month_bounds(year, month)
        spans = [
            (max(e.start, window[0]), min(e.end, window[1]))
            for e in stored
            if e.end > window[0] and e.start < window[1]
        ]
        minutes = count_month_minutes(
            [RoleSpan("clinical_staff", e.start, e.end) for e in stored], [], window
        )
        assert minutes.clinical_staff == measure_union_minutes(spans)


def _seeded(engine: Engine) -> bool:
    from openvbc.store.tables import member

    with engine.connect() as conn:
        return conn.execute(select(member.c.member_id)).first() is not None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 40 * 24 * 60), st.integers(1, 120)), max_size=10),
    st.lists(st.tuples(st.integers(0, 40 * 24 * 60), st.integers(1, 60)), max_size=4),
)
def test_clinical_staff_months_follow_the_a4_table(
    entries: list[tuple[int, int]], excluded: list[tuple[int, int]]
) -> None:
    """Clinical-staff minutes only, documentation complete: 99490 at 20 min, +99439 per further full
    20 min, at most two (domain-rules.md §A4); TCM/MTM spans are never counted."""
    start = datetime(2025, 5, 20)
    spans = [
        RoleSpan("clinical_staff", start + timedelta(minutes=o), start + timedelta(minutes=o + n))
        for o, n in entries
    ]
    removed = [(start + timedelta(minutes=o), start + timedelta(minutes=o + n)) for o, n in excluded]
    window = month_bounds(2025, 6)
    minutes = count_month_minutes(spans, removed, window)
    # Independent count: minute-by-minute set arithmetic on whole-minute grids.
    covered = {m for o, n in entries for m in range(o, o + n)}
    cut = {m for o, n in excluded for m in range(o, o + n)}
    lo = int((window[0] - start).total_seconds() // 60)
    hi = int((window[1] - start).total_seconds() // 60)
    in_month = {m for m in covered if lo <= m < hi}
    assert minutes.clinical_staff == len(in_month - cut)
    assert minutes.excluded == len(in_month & cut)
    flags = {"consent": True, "care_plan": True, "ccm_eligible": True}
    result = code_month(minutes.by_role(), flags, load_ccm_code_rule(2025))
    total = minutes.clinical_staff
    if total < 20:
        assert result.lines == ()
    else:
        addons = min((total - 20) // 20, 2)
        expected = (CcmLine("99490", 1),) + ((CcmLine("99439", addons),) if addons else ())
        assert result.lines == expected


def test_timer_start_stop_and_second_timer_refused(store_engine: Engine) -> None:
    seed_people(store_engine, 2)
    start_timer(
        store_engine, member_key="M1", staff_id="rn1", role="clinical_staff", now=datetime(2025, 7, 1, 9, 0)
    )
    with pytest.raises(InvalidInput, match="timer running"):
        start_timer(
            store_engine,
            member_key="M2",
            staff_id="rn1",
            role="clinical_staff",
            now=datetime(2025, 7, 1, 9, 5),
        )
    with pytest.raises(InvalidInput, match="overlaps"):
        log_time(
            store_engine,
            member_key="M2",
            staff_id="rn1",
            role="clinical_staff",
            start_at=datetime(2025, 7, 1, 9, 10),
            minutes=5,
            now=datetime(2025, 7, 1, 9, 20),
        )
    # Another person may work at the same time.
    start_timer(
        store_engine, member_key="M1", staff_id="md1", role="practitioner", now=datetime(2025, 7, 1, 9, 6)
    )
    done = stop_timer(store_engine, staff_id="rn1", now=datetime(2025, 7, 1, 9, 27, 30))
    assert done["minutes"] == 27
    with pytest.raises(UserError, match="no running timer"):
        stop_timer(store_engine, staff_id="rn1", now=datetime(2025, 7, 1, 9, 30))
    # Touching entries do not overlap: [09:00, 09:27:30) then a manual entry from 09:27:30.
    log_time(
        store_engine,
        member_key="M2",
        staff_id="rn1",
        role="clinical_staff",
        start_at=datetime(2025, 7, 1, 9, 27, 30),
        minutes=10,
        now=datetime(2025, 7, 1, 10, 0),
    )


def test_bad_entries_name_their_field(sqlite_engine: Engine) -> None:
    seed_people(sqlite_engine, 1)
    with pytest.raises(InvalidInput) as error:
        log_time(
            sqlite_engine,
            member_key="M1",
            staff_id="rn1",
            role="nurse",
            start_at=datetime(2025, 7, 1, 9),
            minutes=800,
            now=datetime(2025, 7, 1, 10),
        )
    assert {issue.field for issue in error.value.issues} == {"role", "end_at"}
    with pytest.raises(InvalidInput, match="no member"):
        log_time(
            sqlite_engine,
            member_key="NOPE",
            staff_id="rn1",
            role="clinical_staff",
            start_at=datetime(2025, 7, 1, 9),
            minutes=5,
            now=datetime(2025, 7, 1, 10),
        )
