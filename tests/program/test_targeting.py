"""Targeting and risk on the hand-built plan (test contract: >= 2 core conditions, >= 1 maintenance
drug, >= $20.00 drug cost in the 12 months to 2025-12-31; every fill is $10 of metformin).

M1: diabetes (E119) + hypertension (I10), 1 maintenance drug, 4 fills = $40 -> targeted,
    risk 2 + 1/2 + 40/20 = 4.5
M3: dyslipidemia (E785) + diabetes (claim diagnosis E1165 on 2025-07-01), 2 fills = $20 -> targeted, 3.5
M2: hypertension only -> not targeted, risk 1 + 0.5 + 2 = 3.5 (ties M3; lower member id ranks first)
M5, M6: one fill each -> 0 + 0.5 + 0.5 = 1.0; M4 and M7 (fill in 2024, outside the window): 0.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from openvbc.engine.backends import connect_duckdb
from openvbc.engine.targeting import target_members
from program.conftest import load_tables
from program.dataset import DRUG_REFERENCE, build_tables, load_into_store


def test_targeting_and_risk_rank_by_hand(test_contract: Any) -> None:
    con = connect_duckdb()
    tables = load_tables(con, {**build_tables(), "drug_reference": DRUG_REFERENCE})
    rows = target_members(tables, test_contract, date(2025, 12, 31), tables["drug_reference"]).to_pyarrow()
    by_member = {r["member_id"]: r for r in rows.to_pylist()}
    assert {m for m, r in by_member.items() if r["targeted"]} == {1, 3}
    assert by_member[1]["risk_score"] == 4.5 and by_member[3]["risk_score"] == 3.5
    assert by_member[1]["condition_names"] == "diabetes|hypertension"
    ranks = {m: r["risk_rank"] for m, r in by_member.items()}
    assert ranks == {1: 1, 2: 2, 3: 3, 5: 4, 6: 5, 4: 6, 7: 7}
    assert by_member[2]["reason"].startswith("not targeted: 1 core condition(s), 1 maintenance drug(s)")


def test_program_year_end_to_end(sqlite_engine: Any, tmp_path: Path) -> None:
    """The lead's entry point over a store: files written, HTML report, ROI computed without error."""
    from openvbc.services.program_year import run_program_year

    load_into_store(sqlite_engine)
    result = run_program_year(sqlite_engine, "pie", 2025, tmp_path, date(2025, 11, 1))
    assert result.report.exists() and "program year report" in result.report.read_text()
    assert result.roi is not None and "difference in differences" in result.roi.method.lower()
    assert (tmp_path / "payments" / "payments-pie-2025.pdf").exists()
