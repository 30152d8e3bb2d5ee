"""Attribution on the hand-built plan (tests/program/dataset.py), identical on every backend.

Expected answers, worked by hand from dataset.py, look-back 2025-01-01..2025-12-31:

plurality of fills (ties: most recent fill, then lowest pharmacy id)
  M1: P1 3 fills, P2 1 fill             -> P1 (3/4)
  M2: P1 2 (last 02-10), P2 2 (last 04-10) -> tie on count, P2 more recent -> P2 (2/4)
  M3: P2 1, P3 1, both on 12-01         -> tie on count and date -> lowest id P2 (1/2)
  M4: no fills -> none; M5: exchange (not a program line) -> not eligible;
  M6: died 2025-06-30 -> not eligible; M7: fills only in 2024 -> none
PQA >= 51 % of target-drug days supply (statins, ACE inhibitors in the test contract)
  M1: P1 90 days, P2 90 days -> 50 % < 51 % -> none
  M2: P1 60, P2 180 -> P2 75 %;  M3: only P2's statin counts (P3's fill is an anti-infective) -> P2 100 %
MSSP-style practice (primary care codes 99213/99214, PCP taxonomies 207Q/207R)
  M1: PR1 $100 + $60 = $160 vs PR2 $150 -> PR1 (step 1, 160/310)
  M2: only a cardiologist's 99213 at PR1 -> step 2 -> PR1;  M3: 93000 is not primary care -> none
"""

from __future__ import annotations

from datetime import date
from typing import Any

from openvbc.engine.attribution import (
    attribute_pharmacies,
    attribute_practices,
    month_ends,
    months_back,
    snapshot_pharmacies,
)
from program.conftest import load_tables
from program.dataset import build_tables

YEAR_END = date(2025, 12, 31)


def _rows(expr: Any) -> dict[int, tuple[Any, ...]]:
    rows = expr.to_pyarrow().to_pylist()
    return {
        r["member_id"]: (r["provider_id"], None if r["share"] is None else round(r["share"], 4), r["reason"])
        for r in rows
    }


def test_plurality_pqa_and_practice_by_hand(engine_con: Any, test_contract: Any) -> None:
    tables = load_tables(engine_con, build_tables())
    plurality = _rows(attribute_pharmacies(tables, test_contract, YEAR_END, "plurality_fills"))
    assert {m: v[0] for m, v in plurality.items()} == {1: 1, 2: 2, 3: 2, 4: None, 5: None, 6: None, 7: None}
    assert plurality[1][1] == 0.75 and plurality[2][1] == 0.5 and plurality[3][1] == 0.5
    assert plurality[5][2] == "not eligible: covered on 2025-12-31 but not in commercial/medicare/medicaid"
    assert plurality[6][2] == "not eligible: died 2025-06-30"
    assert plurality[7][2] == "not attributed: no fills in 2025-01-01..2025-12-31"
    assert plurality[2][2].startswith(
        "attributed: 2 of 4 fills (50 %) at pharmacy 1000000002 across 2 pharmacies"
    )
    pqa = _rows(attribute_pharmacies(tables, test_contract, YEAR_END, "pqa_days_supply"))
    assert {m: v[0] for m, v in pqa.items()} == {1: None, 2: 2, 3: 2, 4: None, 5: None, 6: None, 7: None}
    assert "50 % of target-drug days supply" in pqa[1][2] and "below 51 %" in pqa[1][2]
    practice = _rows(attribute_practices(tables, test_contract, YEAR_END))
    assert {m: v[0] for m, v in practice.items()} == {
        1: 10,
        2: 10,
        3: None,
        4: None,
        5: None,
        6: None,
        7: None,
    }
    assert practice[1][1] == round(160 / 310, 4)
    assert "step 1" in practice[1][2] and "step 2" in practice[2][2]


def test_monthly_snapshots_follow_the_lookback(engine_con: Any, test_contract: Any) -> None:
    """M2 at the end of February: only P1's two fills are in the window -> P1; from April on -> P2."""
    tables = load_tables(engine_con, build_tables())
    dates = [d for d in month_ends(date(2025, 1, 1), YEAR_END) if d.month in (2, 3, 4)]  # 3 keep Spark quick
    rows = snapshot_pharmacies(tables, test_contract, dates).to_pyarrow().to_pylist()
    m2 = {r["as_of"]: r["provider_id"] for r in rows if r["member_id"] == 2}
    assert len(rows) == 3 * 7
    assert m2[date(2025, 2, 28)] == 1 and m2[date(2025, 3, 31)] == 1  # 2 vs 1 fills in March
    assert m2[date(2025, 4, 30)] == 2  # 2-2 tie, P2 most recent


def test_monthly_aggregate_equals_one_attribution_per_date(
    engine_con_spark_slow: Any, test_contract: Any
) -> None:
    """The month-end fast path (one monthly aggregate) gives exactly the rows of one attribution per date.

    Both methods, three month ends whose windows start in different years (2024-03-01, 2024-07-01,
    2025-01-01), so fills before, inside and after each window are all exercised.
    """
    tables = load_tables(engine_con_spark_slow, build_tables())
    dates = [date(2025, 2, 28), date(2025, 6, 30), YEAR_END]
    methods = ["plurality_fills", "pqa_days_supply"]
    fast = snapshot_pharmacies(tables, test_contract, dates, methods).to_pyarrow().to_pylist()
    slow = [
        row
        for day in dates
        for method in methods
        for row in attribute_pharmacies(tables, test_contract, day, method).to_pyarrow().to_pylist()
    ]

    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        return (row["as_of"], row["method"], row["member_id"])

    assert len(fast) == len(slow) == 3 * 2 * 7
    assert sorted(fast, key=key) == sorted(slow, key=key)


def test_lookback_windows() -> None:
    assert months_back(date(2025, 12, 31), 12) == date(2025, 1, 1)
    assert months_back(date(2025, 2, 28), 12) == date(2024, 3, 1)
    assert months_back(date(2025, 6, 30), 6) == date(2025, 1, 1)
    assert month_ends(date(2025, 1, 1), date(2025, 3, 31)) == [
        date(2025, 1, 31),
        date(2025, 2, 28),
        date(2025, 3, 31),
    ]
