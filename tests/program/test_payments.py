"""Payments on the hand-built plan, to the cent, identical on every backend.

Contract: tests/data/program/test-contract.yaml. Attribution (plurality, see test_attribution):
P1 = {M1}, P2 = {M2, M3}. Measure outcomes fed in (True = numerator, False = denominator only,
None = excluded):  BP (CMS165/G1, target >= 50 %): M1 T, M2 T, M3 F.
Tobacco-free (target >= 100 %): M1 T, M2 excluded, M3 F.

P1: BP 1/1 met, tobacco 1/1 met -> 2 of 2 met (>= 1 required) -> tier 1 = 1 member x $10 = $10.00.
    Engagement (CMR/TMR at the attributed pharmacy): M1 had E1 + E2 at P1 -> 1/1 = 100 % >= 50 %
    -> tier 2 = 1 x $20 = $20.00.
P2: BP 1/2 = 50 % met; tobacco 0/1 not met -> 1 of 2 met -> tier 1 = 2 x $10 = $20 -> cap $15.00.
    Engagement: M2 E3 at P2; M3's E4 was at P1 (not the attributed pharmacy) -> 1/2 = 50 % -> $20.00.
Encounter fees (any_partial, 15-min blocks, 99605 $75 / 99606 $50 / 99607 $25, look-back 365 days):
  E1 M1@P1 40 min, no earlier service -> new: 1 + (40-1)//15 = 3 units -> 75 + 2x25 = $125.00
  E2 M1@P1 15 min, E1 within 365 days -> established: 1 unit -> $50.00
  E3 M2@P2 31 min, E0 (2024-12-01) at P2 155 days earlier -> established: 3 units -> 50 + 50 = $100.00
  E4 M3@P1 20 min, new: 2 units -> 75 + 25 = $100.00 (fees are per service, to the pharmacy that served)
  E0 is in 2024: not paid.
Totals: P1 125 + 50 + 100 + 10 + 20 = $305.00; P2 100 + 15 + 20 = $135.00; program $440.00.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from openvbc.engine.attribution import attribute_pharmacies
from openvbc.services.payments import ProgramInputs, compute_payments
from openvbc.services.program_year import simulate
from openvbc.services.statements import write_statements
from program.conftest import load_tables
from program.dataset import RESULT_SCHEMA, build_tables, measure_rows

BP = {1: True, 2: True, 3: False}
TOBACCO = {1: True, 2: None, 3: False}


def program_inputs(
    con: Any,
    contract: Any,
    bp: Mapping[int, bool | None] = BP,
    tobacco: Mapping[int, bool | None] = TOBACCO,
) -> ProgramInputs:
    raw = build_tables()
    rows = measure_rows("CMS165", "G1", bp) + measure_rows("TOBACCO-FREE", "TOBACCO-FREE", tobacco)
    raw["results"] = pa.Table.from_pylist(rows, schema=RESULT_SCHEMA)
    tables = load_tables(con, raw)
    return ProgramInputs(
        tables, tables["results"], attribute_pharmacies(tables, contract, date(2025, 12, 31))
    )


def test_payments_to_the_cent(engine_con: Any, test_contract: Any) -> None:
    run = compute_payments(program_inputs(engine_con, test_contract), test_contract)
    by_pharmacy = {s.pharmacy_id: s for s in run.statements}
    p1, p2 = by_pharmacy[1], by_pharmacy[2]
    assert [(line.component, line.amount) for line in p1.lines] == [
        ("encounter_fee", Decimal("125.00")),
        ("encounter_fee", Decimal("50.00")),
        ("encounter_fee", Decimal("100.00")),
        ("tier1", Decimal("10.00")),
        ("tier2", Decimal("20.00")),
    ]
    assert [(line.component, line.amount) for line in p2.lines] == [
        ("encounter_fee", Decimal("100.00")),
        ("tier1", Decimal("15.00")),
        ("tier2", Decimal("20.00")),
    ]
    assert p1.total == Decimal("305.00") and p2.total == Decimal("135.00") and run.total == Decimal("440.00")
    tier1_p2 = p2.lines[1]
    assert tier1_p2.member_ids == (2, 3) and "capped at 15.00 (uncapped 20.00)" in tier1_p2.evidence
    assert tier1_p2.clause.startswith("tests/data/program/test-contract.yaml#tier1")
    assert "submitted as new" in p2.lines[0].evidence  # E3: the contract look-back decides, not the claim
    assert p2.lines[2].member_ids == (2,)


def test_tier2_closed_when_tier1_not_met(test_contract: Any) -> None:
    """Nobody controlled, nobody tobacco-free: no benchmark met -> tier 1 $0 and tier 2 $0 (gate)."""
    from openvbc.engine.backends import connect_duckdb

    inputs = program_inputs(
        connect_duckdb(), test_contract, {1: False, 2: False, 3: False}, {1: False, 2: False, 3: False}
    )
    run = compute_payments(inputs, test_contract)
    for statement in run.statements:
        assert statement.component_total("tier1") == 0 and statement.component_total("tier2") == 0
        tier2 = next(line for line in statement.lines if line.component == "tier2")
        assert tier2.evidence.startswith("gate closed")


def test_no_data_measure_is_reported_not_paid(test_contract: Any) -> None:
    from openvbc.engine.backends import connect_duckdb

    inputs = program_inputs(connect_duckdb(), test_contract, BP, {})
    run = compute_payments(inputs, test_contract)
    assert run.measure_status == {"bp_control": "scored", "tobacco_free": "no data"}
    assert any(note.startswith("tobacco_free (TOBACCO-FREE): no member") for note in run.notes)
    p2 = run.statement_for(2)
    assert p2 is not None and [s.status for s in p2.scores] == ["met", "no_data"]


def test_statements_reproducible_and_reconciled(tmp_path: Path, test_contract: Any) -> None:
    from openvbc.engine.backends import connect_duckdb

    first = write_statements(
        compute_payments(program_inputs(connect_duckdb(), test_contract), test_contract),
        tmp_path / "a",
        ("json", "csv", "html"),
    )
    second = write_statements(
        compute_payments(program_inputs(connect_duckdb(), test_contract), test_contract),
        tmp_path / "b",
        ("json", "csv", "html"),
    )
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    payload = json.loads(first[0].read_text())
    for statement in payload["statements"]:
        assert sum(Decimal(x["amount"]) for x in statement["lines"]) == Decimal(statement["total"])
    shares = (tmp_path / "a" / "payments-test-program-2025-member-shares.csv").read_text().splitlines()[1:]
    assert sum(Decimal(row.rsplit(",", 1)[1]) for row in shares) == Decimal("440.00")
    assert "Pharmacy 1000000001: $305.00" in first[-1].read_text()


def test_what_if_raising_bp_target(test_contract: Any) -> None:
    """BP target 50 % -> 60 %: P2 (1/2 controlled) misses BP, tobacco too -> loses tier 1 ($15) and tier 2
    ($20): $135.00 -> $100.00. One more controlled member (ceil(0.6 x 2) - 1 = 1) unlocks $35.00 again."""
    from openvbc.engine.backends import connect_duckdb

    inputs = program_inputs(connect_duckdb(), test_contract)
    changes = {
        c.pharmacy_id: c for c in simulate(inputs, test_contract, targets={"bp_control": Decimal("0.6")})
    }
    p2 = changes[2]
    assert (p2.before, p2.after, p2.change) == (Decimal("135.00"), Decimal("100.00"), Decimal("-35.00"))
    assert p2.members_to_unlock_tier2 == 1 and p2.tier2_if_unlocked == Decimal("35.00")
    assert changes[1].change == 0


def test_what_if_member_outcome(test_contract: Any) -> None:
    """M3 becomes tobacco-free: P2 meets tobacco too; payments unchanged (tier 1 already capped)."""
    from openvbc.engine.backends import connect_duckdb

    inputs = program_inputs(connect_duckdb(), test_contract)
    changes = {
        c.pharmacy_id: c for c in simulate(inputs, test_contract, outcomes={(3, "tobacco_free"): True})
    }
    assert changes[2].change == 0 and changes[2].members_to_unlock_tier2 == 0
