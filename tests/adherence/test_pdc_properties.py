"""Property tests: the Ibis expression, the numpy kernel and a per-day loop agree, and PDC behaves.

Properties (issue text): PDC in [0, 1]; adding a fill never lowers covered days; shifting every
date by the same number of days changes nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pdc_naive import naive_covered_days
from pdc_scenario import Scenario

from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.adherence import evaluate
from openvbc.engine.adherence_coverage import day_number
from openvbc.engine.pdc_kernel import compute_member_coverage
from openvbc.rules.loader import load_measure_rule

INGREDIENTS = ["simvastatin", "atorvastatin", "rosuvastatin"]
YEAR_START = date(2025, 1, 1)
END_DAY = 364  # day offsets 0..364 are 2025

Fill = tuple[int, str, int, int]  # member, ingredient, day offset, supply

fills_strategy = st.lists(
    st.tuples(
        st.integers(1, 4),
        st.sampled_from(INGREDIENTS),
        st.integers(0, END_DAY),
        st.sampled_from([1, 5, 7, 28, 30, 60, 90, 120]),
    ),
    min_size=1,
    max_size=25,
)


def kernel_by_member(fills: list[Fill], shift: int = 0) -> dict[int, tuple[int, int, int]]:
    """member -> (index day, covered, period days) from the numpy kernel."""
    member = np.array([f[0] for f in fills])
    ingredient = np.array([INGREDIENTS.index(f[1]) for f in fills])
    day = np.array([f[2] + shift for f in fills])
    supply = np.array([f[3] for f in fills])
    result = compute_member_coverage(member, ingredient, day, supply, np.full(len(fills), END_DAY + shift))
    return {
        int(m): (int(i), int(c), int(p))
        for m, i, c, p in zip(
            result.member, result.index_day, result.covered_days, result.period_days, strict=True
        )
    }


def naive_by_member(fills: list[Fill]) -> dict[int, tuple[int, int, int]]:
    out = {}
    for member in sorted({f[0] for f in fills}):
        own = [(f[1], f[2], f[3]) for f in fills if f[0] == member]
        index_day = min(day for _, day, _ in own)
        out[member] = (index_day, naive_covered_days(own, index_day, END_DAY), END_DAY - index_day + 1)
    return out


@settings(max_examples=300, deadline=None)
@given(fills_strategy)
def test_kernel_equals_per_day_loop(fills: list[Fill]) -> None:
    assert kernel_by_member(fills) == naive_by_member(fills)


@settings(max_examples=200, deadline=None)
@given(fills_strategy)
def test_pdc_is_a_proportion(fills: list[Fill]) -> None:
    for _, covered, period_days in kernel_by_member(fills).values():
        assert 0 <= covered <= period_days


@settings(max_examples=200, deadline=None)
@given(fills_strategy, st.tuples(st.sampled_from(INGREDIENTS), st.integers(0, END_DAY), st.integers(1, 120)))
def test_adding_a_fill_never_lowers_covered_days(fills: list[Fill], extra: tuple[str, int, int]) -> None:
    member = fills[0][0]
    before = kernel_by_member(fills)[member]
    # a fill on or after the index date keeps the period; coverage can only grow
    added = (member, extra[0], max(extra[1], before[0]), extra[2])
    after = kernel_by_member([*fills, added])[member]
    assert after[1] >= before[1]


@settings(max_examples=200, deadline=None)
@given(fills_strategy, st.integers(-3000, 3000))
def test_shifting_all_dates_changes_nothing(fills: list[Fill], shift: int) -> None:
    plain = kernel_by_member(fills)
    moved = kernel_by_member(fills, shift)
    assert {m: (c, p) for m, (_, c, p) in plain.items()} == {m: (c, p) for m, (_, c, p) in moved.items()}


def _evaluate_on_duckdb(loader: Any, fills: list[Fill], shift_days: int = 0) -> dict[int, tuple[int, int]]:
    scenario = Scenario()
    for member in sorted({f[0] for f in fills}):
        scenario.member(member, birth=date(1950, 1, 1) + timedelta(days=shift_days))
    for member, ingredient, offset, supply in fills:
        scenario.fill(member, YEAR_START + timedelta(days=offset + shift_days), supply, ingredient)
    period = MeasurementPeriod(YEAR_START, date(2025, 12, 31)).shifted(shift_days)
    result = evaluate(loader(scenario.build()), load_measure_rule("PDC-STA", 2025), period)
    return {
        row["member_id"]: (row["covered_days"], row["period_days"]) for row in result.to_pyarrow().to_pylist()
    }


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fills_strategy, st.integers(-400, 400))
def test_ibis_expression_equals_kernel_and_ignores_a_shift(
    duckdb_loader: Any, fills: list[Fill], shift: int
) -> None:
    expected = {m: (c, p) for m, (_, c, p) in kernel_by_member(fills).items()}
    assert _evaluate_on_duckdb(duckdb_loader, fills) == expected
    assert _evaluate_on_duckdb(duckdb_loader, fills, shift) == expected


def test_day_number_is_epoch_days() -> None:
    assert day_number(date(1970, 1, 2)) == 1
    assert day_number(date(2025, 1, 1)) == 20089
