"""Worklist order on the hand-built plan, identical on every backend (today = 2025-11-01).

Test contract weights: bp_not_controlled 3, tobacco_user 2, pdc_below_80 2, pdc_at_risk 3,
benchmark mover 5, 1 point per 30 days since contact (max 6).
PDC-STA rows (period ends 2025-12-31, threshold 80 %):
  M1: 200 of 300 days covered -> needs ceil(240) - 200 = 40 more -> last refill 12-31 - 39 = 2025-11-22
      (21 days from today: at risk) -> pdc_below_80 2 + pdc_at_risk 3 + contact 90 days // 30 = 3 -> 8
  M2: 100 of 300 -> needs 140 -> last refill 2025-08-14, already past: unreachable, no at-risk gap;
      pdc_below_80 2 + contact 180 days (E3 05-05) // 30 = 6 (max 6) -> 8
  M3: BP not controlled 3 + tobacco user 2; P2 misses tobacco (0/1, target 100 %) by 1 member and has
      1 open gap there -> benchmark mover 5; last contact E4 06-06, 148 days -> 4 -> 14
Order: P1 [M1]; P2 [M3 (14), M2 (8)].
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa

from openvbc.services.worklists import compute_worklist
from program.dataset import RESULT_SCHEMA, measure_rows
from program.test_payments import program_inputs

PDC_SCHEMA = (
    RESULT_SCHEMA.append(pa.field("period_end", pa.date32()))
    .append(pa.field("period_days", pa.int64()))
    .append(pa.field("covered_days", pa.int64()))
)


def _pdc_rows() -> pa.Table:
    rows = measure_rows("PDC-STA", "PDC-STA", {1: False, 2: False})
    for row, covered in zip(rows, (200, 100), strict=True):
        row.update(period_end=date(2025, 12, 31), period_days=300, covered_days=covered)
    return pa.Table.from_pylist(rows, schema=PDC_SCHEMA)


def test_worklist_order_by_hand(engine_con: Any, test_contract: Any) -> None:
    from openvbc.services.attribution import upload_arrow

    inputs = program_inputs(engine_con, test_contract)
    pdc = upload_arrow(engine_con, "pdc_results", _pdc_rows())
    table = compute_worklist(engine_con, inputs, test_contract, date(2025, 11, 1), pdc_results=pdc)
    rows = [
        (
            r["pharmacy_id"],
            r["rank"],
            r["member_id"],
            r["points"],
            r["gaps"],
            r["benchmark_mover"],
            r["pdc_last_refill_date"],
        )
        for r in table.to_pylist()
    ]
    assert rows == [
        (1, 1, 1, 8, "pdc_at_risk|pdc_below_80", False, date(2025, 11, 22)),
        (2, 1, 3, 14, "bp_not_controlled|tobacco_user", True, None),
        (2, 2, 2, 8, "pdc_below_80", False, None),
    ]
    reason = table.to_pylist()[0]["reason"]
    assert reason.endswith("refill by 2025-11-22 to still reach PDC 80 %")


def test_reached_outreach_counts_as_contact(test_contract: Any) -> None:
    """A reached call to M2 on 2025-10-20 (12 days ago) drops M2's contact points from 6 to 0."""
    from datetime import datetime

    from openvbc.engine.backends import connect_duckdb
    from openvbc.services.attribution import upload_arrow

    con = connect_duckdb()
    inputs = program_inputs(con, test_contract)
    outreach = [
        {"member_id": 2, "attempted_at": datetime(2025, 10, 20, 10), "outcome": "reached"},
        {"member_id": 3, "attempted_at": datetime(2025, 10, 21, 10), "outcome": "no_answer"},
    ]
    table = compute_worklist(
        con,
        inputs,
        test_contract,
        date(2025, 11, 1),
        pdc_results=upload_arrow(con, "pdc_results", _pdc_rows()),
        outreach_rows=outreach,
    )
    points = {r["member_id"]: r["points"] for r in table.to_pylist()}
    assert points == {1: 8, 2: 2, 3: 14}
