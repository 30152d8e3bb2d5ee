"""MTM units from minutes (domain-rules.md §A1) under each rounding rule."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openvbc.domain.mtm_units import (
    ROUNDING_CHOICES,
    MtmUnitRule,
    classify_patient_status,
    code_mtm_encounter,
    count_time_units,
)
from openvbc.rules.billing_schema import load_mtm_unit_rule

# PSTAC-style levels published by codingahead.com (2011): 1-15 min -> initial code only,
# 16-30 -> +1 x 99607, 31-45 -> +2 x 99607.
ANY_PARTIAL_LEVELS = [(1, 1), (15, 1), (16, 2), (30, 2), (31, 3), (45, 3), (46, 4)]
# CPT mid-point convention, worked by hand: a 15-min block counts from minute 8, so
# 7 -> 0 units, 8..22 -> 1, 23..37 -> 2, 38 -> 3.
HALF_BLOCK_LEVELS = [(7, 0), (8, 1), (22, 1), (23, 2), (37, 2), (38, 3)]
# Whole blocks only: 14 -> 0, 15..29 -> 1, 30 -> 2, 45 -> 3.
FULL_BLOCK_LEVELS = [(14, 0), (15, 1), (29, 1), (30, 2), (45, 3)]


@pytest.mark.parametrize(
    ("rounding", "levels"),
    [
        ("any_partial", ANY_PARTIAL_LEVELS),
        ("half_block", HALF_BLOCK_LEVELS),
        ("full_block_only", FULL_BLOCK_LEVELS),
    ],
)
def test_units_follow_the_published_levels(rounding: str, levels: list[tuple[int, int]]) -> None:
    rule = MtmUnitRule(rounding=rounding)  # type: ignore[arg-type]
    for minutes, units in levels:
        assert count_time_units(minutes, rule) == units, minutes


def test_new_patient_45_minutes_bills_99605_and_two_99607() -> None:
    coding = code_mtm_encounter(45, "new", "CMR", load_mtm_unit_rule())
    assert [(line.code, line.units) for line in coding.lines] == [("99605", 1), ("99607", 2)]


def test_established_patient_under_the_threshold_bills_nothing_and_says_why() -> None:
    rule = load_mtm_unit_rule("billing/mtm_units/wi_medicaid_example.yaml")  # full blocks only
    coding = code_mtm_encounter(10, "established", "TMR", rule)
    assert coding.lines == ()
    assert coding.reason is not None and "15 min" in coding.reason


def test_payer_modifiers_and_addon_cap_come_from_the_rule_file() -> None:
    rule = load_mtm_unit_rule("billing/mtm_units/wi_medicaid_example.yaml")  # cap 4 add-on units, TMR -> U1
    coding = code_mtm_encounter(120, "established", "TMR", rule)
    # 120 min = 8 whole blocks: 1 x 99606 + 7 x 99607, capped at 4.
    assert [(line.code, line.units, line.modifiers) for line in coding.lines] == [
        ("99606", 1, ("U1",)),
        ("99607", 4, ("U1",)),
    ]


def test_new_versus_established_uses_the_look_back() -> None:
    day = date(2025, 6, 1)
    assert classify_patient_status(day, [date(2024, 6, 2)], 365) == "established"  # 364 days before
    assert classify_patient_status(day, [date(2024, 5, 31)], 365) == "new"  # 366 days before
    assert classify_patient_status(day, [day], 365) == "new"  # the same visit is not history


@given(
    rounding=st.sampled_from(ROUNDING_CHOICES),
    block=st.integers(min_value=1, max_value=60),
    minutes=st.integers(min_value=0, max_value=1440),
    extra=st.integers(min_value=0, max_value=600),
    cap=st.none() | st.integers(min_value=0, max_value=10),
)
def test_more_minutes_never_means_fewer_units(
    rounding: str, block: int, minutes: int, extra: int, cap: int | None
) -> None:
    rule = MtmUnitRule(rounding=rounding, block_minutes=block, max_addon_units=cap)  # type: ignore[arg-type]
    fewer = code_mtm_encounter(minutes, "new", "CMR", rule).total_units
    more = code_mtm_encounter(minutes + extra, "new", "CMR", rule).total_units
    assert more >= fewer
    # Units never claim more time than was spent (beyond one partial block).
    assert count_time_units(minutes, rule) * block < minutes + block


@given(minutes=st.integers(min_value=1, max_value=1440))
def test_any_partial_is_never_less_than_half_block_which_is_never_less_than_full(minutes: int) -> None:
    units = [count_time_units(minutes, MtmUnitRule(rounding=r)) for r in ROUNDING_CHOICES]
    assert units[0] >= units[1] >= units[2]
