"""Medication synchronisation: hand-calculated cases (domain-rules.md §A7), properties, service."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from openvbc.domain.medsync import (
    MedSyncRule,
    SyncMedication,
    compute_earliest_refill,
    compute_run_out,
    compute_short_quantity,
    plan_sync,
    prorate_copay,
)
from openvbc.domain.ndc import format_ndc11, normalize_ndc
from openvbc.services.medsync import plan_member_medsync
from pharmacist.seed import seed_store

RULE = MedSyncRule(Decimal("80"))


def _med(
    key: str, last: date, days: int = 30, qty: str = "30", copay: str = "10.00", **kw: object
) -> SyncMedication:
    return SyncMedication(key, key, "99999000101", last, days, Decimal(qty), Decimal(copay), **kw)  # type: ignore[arg-type]


def test_run_out_and_earliest_refill_by_hand() -> None:
    med = _med("a", date(2025, 3, 1))
    # 2025-03-01 + 30 - 1 = 2025-03-30; earliest refill = 03-01 + ceil(30 x 0.80) = 03-01 + 24 days.
    assert compute_run_out(med) == date(2025, 3, 30)
    assert compute_earliest_refill(med, RULE) == date(2025, 3, 25)
    # 90 x 0.75 = 67.5 -> 68 days (rounded up: a refill a day early would be rejected).
    ninety = _med("b", date(2025, 1, 1), days=90, qty="90")
    assert compute_earliest_refill(ninety, MedSyncRule(Decimal("75"))) == date(2025, 3, 10)


def test_three_drug_plan_by_hand() -> None:
    """Today 2025-03-05. A runs out 03-10 (due 03-11), B 03-20 (due 03-21), C 03-29 (due 03-30).
    Anchor on C's due date 03-30: B still supplied? no, B is due 03-21 < 03-30, so B short-fills
    03-21..03-29 = 9 days; A short-fills 03-11..03-29 = 19 days. Anchor on B (03-21): C still has
    supply and its earliest refill is 02-28 + 24 = 03-24 > 03-21, so B is blocked. Anchor on A
    (03-11): both B and C blocked. So C's date wins with 28 short days in all.
    A: 2 tablets a day (60/30) x 19 = 38 tablets, copay 12.00 x 19/30 = 7.60.
    B: 1 a day x 9 = 9 tablets, copay 4.50 x 9/30 = 1.35."""
    meds = [
        _med("A", date(2025, 2, 9), qty="60", copay="12.00"),
        _med("B", date(2025, 2, 19), copay="4.50"),
        _med("C", date(2025, 2, 28)),
    ]
    plan = plan_sync(meds, date(2025, 3, 5), RULE)
    assert (plan.anchor_key, plan.anchor_date) == ("C", date(2025, 3, 30))
    by_key = {line.key: line for line in plan.lines}
    assert (by_key["A"].fill_on, by_key["A"].short_days, by_key["A"].short_quantity) == (
        date(2025, 3, 11),
        19,
        38,
    )
    assert by_key["A"].prorated_copay == Decimal("7.60")
    assert (by_key["B"].short_days, by_key["B"].short_quantity, by_key["B"].prorated_copay) == (
        9,
        9,
        Decimal("1.35"),
    )
    assert (by_key["C"].short_days, by_key["C"].fill_on) == (0, date(2025, 3, 30))
    assert plan.total_prorated_copay == Decimal("8.95")


def test_a_late_drug_is_short_filled_from_today_and_pens_are_not_split() -> None:
    meds = [
        _med("late", date(2025, 1, 1)),  # ran out 01-30, today 03-05: short fill 03-05..03-29
        _med("pen", date(2025, 2, 1), breakable=False),
        _med("anchor", date(2025, 2, 28)),
    ]
    plan = plan_sync(meds, date(2025, 3, 5), RULE, anchor_key="anchor")
    lines = {line.key: line for line in plan.lines}
    assert (lines["late"].fill_on, lines["late"].short_days) == (date(2025, 3, 5), 25)
    assert lines["pen"].short_days == 0 and "unbreakable" in lines["pen"].note


def test_prorated_copay_rounds_half_up_to_the_cent() -> None:
    assert prorate_copay(Decimal("10.00"), 13, RULE) == Decimal("4.33")  # 4.333...
    assert prorate_copay(Decimal("0.45"), 1, RULE) == Decimal("0.02")  # 0.015 -> 0.02
    assert prorate_copay(Decimal("47.00"), 0, RULE) == Decimal("0.00")


@given(
    quantity=st.integers(min_value=1, max_value=360),
    days=st.integers(min_value=1, max_value=90),
    short=st.integers(min_value=0, max_value=89),
    increment=st.sampled_from([Decimal("1"), Decimal("0.5"), Decimal("2.5")]),
)
def test_short_quantity_is_the_smallest_dispensable_amount_covering_the_days(
    quantity: int, days: int, short: int, increment: Decimal
) -> None:
    med = SyncMedication(
        "x", "x", "99999000101", date(2025, 1, 1), days, Decimal(quantity), unit_increment=increment
    )
    exact = Decimal(quantity) * Decimal(short) / Decimal(days)
    got = compute_short_quantity(med, short)
    assert got >= exact - Decimal("1e-20")
    assert got - exact < increment
    assert (got / increment) == (got / increment).to_integral_value()


@given(copay=st.decimals(min_value=0, max_value=500, places=2), short=st.integers(min_value=0, max_value=30))
def test_prorated_copay_never_exceeds_the_monthly_copay(copay: Decimal, short: int) -> None:
    value = prorate_copay(copay, short, RULE)
    assert Decimal(0) <= value <= copay
    assert value == value.quantize(Decimal("0.01"))


@given(
    labeler=st.integers(min_value=0, max_value=99999),
    product=st.integers(min_value=0, max_value=9999),
    package=st.integers(min_value=0, max_value=99),
)
def test_ndc_11_digit_form_round_trips_through_its_hyphenated_form(
    labeler: int, product: int, package: int
) -> None:
    ndc11 = f"{labeler:05d}{product:04d}{package:02d}"
    assert normalize_ndc(format_ndc11(ndc11)) == ndc11


@given(last=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)), days=st.integers(1, 120))
def test_earliest_refill_is_never_after_the_day_after_run_out(last: date, days: int) -> None:
    med = _med("p", last, days=days, qty=str(days))
    assert compute_earliest_refill(med, RULE) <= compute_run_out(med) + timedelta(days=1)


def test_member_plan_and_pdc_effect(store_engine: Engine) -> None:
    """M0001 (seed.py): metformin filled 01-10 and 02-12, lisinopril 01-20 and 02-25, 30 days each.
    Today 03-10: metformin runs out 03-13, lisinopril 03-26 -> anchor lisinopril's due date 03-27;
    metformin short fill 03-14..03-26 = 13 days, 2 tablets a day = 26 tablets, 10.00 x 13/30 = 4.33.
    PDC-DR to date: period 01-10..03-10 = 60 days, covered 30 + 27 = 57 -> 0.95."""
    seed_store(store_engine)
    report = plan_member_medsync(store_engine, "M0001", today=date(2025, 3, 10))
    assert (report.plan.anchor_key, report.plan.anchor_date) == ("lisinopril", date(2025, 3, 27))
    metformin = next(line for line in report.plan.lines if line.key == "metformin")
    assert (metformin.short_days, metformin.short_quantity, metformin.prorated_copay) == (
        13,
        26,
        Decimal("4.33"),
    )
    dr = next(item for item in report.pdc if item["measure"] == "PDC-DR")
    assert dr["pdc_to_date"] == 0.95
    assert dr["pdc_year_end_with_sync"] > dr["threshold"] > dr["pdc_year_end_no_more_fills"]


def test_unknown_anchor_is_a_clear_error(sqlite_engine: Engine) -> None:
    seed_store(sqlite_engine)
    with pytest.raises(Exception, match="anchor medication 'warfarin' is not in the list"):
        plan_member_medsync(sqlite_engine, "M0001", today=date(2025, 3, 10), anchor="warfarin")
