"""CCM/PCM month coding (domain-rules.md §A4 table) and the time-entry arithmetic under it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openvbc.domain.ccm_coding import bill_ccm_month
from openvbc.domain.intervals import (
    TimeEntry,
    find_overlaps,
    measure_union_minutes,
    split_at_month_ends,
    total_month_minutes,
)
from openvbc.rules.billing_schema import load_ccm_code_rule

CCM_FLAGS = {"consent": True, "care_plan": True, "ccm_eligible": True}
RULE = load_ccm_code_rule(2025)


def codes(result: object) -> list[tuple[str, int]]:
    return [(line.code, line.units) for line in result.lines]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("staff_minutes", "expected"),
    [
        (19, []),  # below the 20-minute threshold of 99490
        (20, [("99490", 1)]),
        (39, [("99490", 1)]),  # 99439 needs a full further 20 minutes
        (40, [("99490", 1), ("99439", 1)]),
        (60, [("99490", 1), ("99439", 2)]),
        (95, [("99490", 1), ("99439", 2)]),  # Medicare cap: two 99439 per month
    ],
)
def test_clinical_staff_time_follows_99490_99439(staff_minutes: int, expected: list[tuple[str, int]]) -> None:
    result = bill_ccm_month({"clinical_staff": staff_minutes}, CCM_FLAGS, RULE)
    assert codes(result) == expected
    if not expected:
        assert any("99490: needs 20 min" in reason for reason in result.reasons)


def test_practitioner_time_prefers_99491_family_when_worth_more() -> None:
    # 30 practitioner minutes: 99491 (first 30 min personally) vs 99490 (+0 x 99439, 30 < 40).
    result = bill_ccm_month({"practitioner": 30}, CCM_FLAGS, RULE)
    assert codes(result) == [("99491", 1)]
    assert result.family == "ccm_practitioner"


def test_complex_ccm_needs_60_minutes_and_the_mdm_flag() -> None:
    flags = {**CCM_FLAGS, "complex_mdm": True}
    assert codes(bill_ccm_month({"clinical_staff": 59}, flags, RULE)) == [("99490", 1), ("99439", 1)]
    assert codes(bill_ccm_month({"clinical_staff": 90}, flags, RULE)) == [("99487", 1), ("99489", 1)]
    # Without the flag the same 90 minutes bill standard CCM only.
    assert codes(bill_ccm_month({"clinical_staff": 90}, CCM_FLAGS, RULE)) == [("99490", 1), ("99439", 2)]


def test_pcm_bills_for_a_single_high_risk_condition() -> None:
    flags = {"consent": True, "care_plan": True, "pcm_eligible": True}
    assert codes(bill_ccm_month({"clinical_staff": 65}, flags, RULE)) == [("99426", 1), ("99427", 1)]


def test_a_month_without_consent_says_so_for_every_family() -> None:
    result = bill_ccm_month({"clinical_staff": 45}, {"care_plan": True, "ccm_eligible": True}, RULE)
    assert not result.bills
    assert "99490: flag 'consent' not documented" in result.reasons


def test_another_practitioner_billing_blocks_the_month() -> None:
    result = bill_ccm_month({"clinical_staff": 45}, {**CCM_FLAGS, "other_practitioner_billed": True}, RULE)
    assert not result.bills
    assert any("another practitioner" in reason for reason in result.reasons)


def test_overlapping_entries_of_one_person_are_found() -> None:
    start = datetime(2025, 3, 3, 9, 0)
    entries = [
        TimeEntry("rn1", start, start + timedelta(minutes=30), "a"),
        TimeEntry("rn1", start + timedelta(minutes=20), start + timedelta(minutes=40), "b"),
        TimeEntry("rn1", start + timedelta(minutes=40), start + timedelta(minutes=50), "c"),  # touches b
        TimeEntry("rn2", start, start + timedelta(minutes=30), "d"),  # another person
    ]
    overlaps = find_overlaps(entries)
    assert [(o.first.label, o.second.label) for o in overlaps] == [("a", "b")]
    assert "by 10 min" in overlaps[0].describe()


def test_an_entry_across_midnight_at_month_end_is_split() -> None:
    entry = TimeEntry("rn1", datetime(2025, 1, 31, 23, 50), datetime(2025, 2, 1, 0, 15))
    pieces = split_at_month_ends(entry)
    assert [piece.minutes for piece in pieces] == [10, 15]
    assert total_month_minutes([entry], 2025, 1) == 10
    assert total_month_minutes([entry], 2025, 2) == 15


@st.composite
def disjoint_entries(draw: st.DrawFn) -> list[TimeEntry]:
    """Entries for one person separated by gaps of at least 0 minutes (touching allowed)."""
    count = draw(st.integers(min_value=0, max_value=15))
    moment = datetime(2025, 5, 1, 8, 0)
    entries = []
    for index in range(count):
        moment += timedelta(minutes=draw(st.integers(min_value=0, max_value=120)))
        length = draw(st.integers(min_value=1, max_value=90))
        entries.append(TimeEntry("cm1", moment, moment + timedelta(minutes=length), str(index)))
        moment += timedelta(minutes=length)
    return entries


@given(entries=disjoint_entries(), staff_entries=disjoint_entries())
def test_non_overlapping_entries_total_their_union_and_code_by_the_table(
    entries: list[TimeEntry], staff_entries: list[TimeEntry]
) -> None:
    assert find_overlaps(entries) == []
    total = sum(entry.minutes for entry in entries)
    assert measure_union_minutes([(e.start, e.end) for e in entries]) == total
    result = bill_ccm_month({"clinical_staff": total}, CCM_FLAGS, RULE)
    # domain-rules.md §A4: 99490 from 20 min, one 99439 per further full 20 min, at most two.
    expected = (
        []
        if total < 20
        else [("99490", 1)] + ([("99439", min(2, (total - 20) // 20))] if total >= 40 else [])
    )
    assert codes(result) == expected


@given(
    spans=st.lists(
        st.tuples(st.integers(min_value=0, max_value=2000), st.integers(min_value=1, max_value=300)),
        max_size=20,
    )
)
def test_union_length_equals_the_count_of_covered_minutes(spans: list[tuple[int, int]]) -> None:
    base = datetime(2025, 5, 1)
    intervals = [(base + timedelta(minutes=s), base + timedelta(minutes=s + n)) for s, n in spans]
    covered = {minute for s, n in spans for minute in range(s, s + n)}
    assert measure_union_minutes(intervals) == len(covered)
    overlapping = find_overlaps([TimeEntry("p", a, b) for a, b in intervals])
    assert (not overlapping) == (len(covered) == sum(n for _, n in spans))
