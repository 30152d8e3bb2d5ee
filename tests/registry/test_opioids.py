"""PQA OHD and COB over the store, on DuckDB (SQLite store) and in place on PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine

from openvbc.services.spine import read_daily_mme, run_opioid_measures
from registry.opioid_cases import (
    EXPECTED_COB,
    EXPECTED_DENOMINATOR,
    EXPECTED_EXCLUDED,
    EXPECTED_OHD,
    EXPECTED_PEAK_MME,
    EXPECTED_RUN,
    build_opioid_world,
)


def _backend(engine: Engine) -> str:
    return "postgres" if engine.dialect.name == "postgresql" else "duckdb"


def test_opioid_measures_match_hand_calculation(store_engine: Engine) -> None:
    build_opioid_world().insert_into(store_engine)
    rows = run_opioid_measures(store_engine, 2025, backend=_backend(store_engine)).to_pylist()
    for measure_id, expected_numerator in (("PQA-OHD", EXPECTED_OHD), ("PQA-COB", EXPECTED_COB)):
        mine = [r for r in rows if r["measure_id"] == measure_id]
        assert {r["member_id"] for r in mine if r["denominator"]} == EXPECTED_DENOMINATOR
        assert {r["member_id"] for r in mine if r["denominator_exclusion"]} == EXPECTED_EXCLUDED
        assert {r["member_id"] for r in mine if r["numerator"]} == expected_numerator
        assert all(r["rule_file"] == "registry/opioids/pqa_2025.yaml" for r in mine)
    ohd = {r["member_id"]: r for r in rows if r["measure_id"] == "PQA-OHD"}
    for member, run in EXPECTED_RUN.items():
        assert ohd[member]["evidence_value"].startswith(f"{run} consecutive day(s)"), ohd[member]
    assert "cancer diagnosis condition:" in ohd[5]["reason"]
    assert "sickle_cell diagnosis claim:" in ohd[6]["reason"]
    assert "hospice encounter:" in ohd[14]["reason"]
    assert str(ohd[1]["evidence_date"]) == "2025-01-01"  # the 120-day run starts on day 0
    assert str(ohd[4]["evidence_date"]) == "2025-02-01"  # day 31


def test_daily_mme_matches_hand_calculation(store_engine: Engine) -> None:
    build_opioid_world().insert_into(store_engine)
    rows = read_daily_mme(store_engine, 2025, backend=_backend(store_engine)).to_pylist()
    peaks: dict[int, float] = {}
    for row in rows:
        peaks[row["member_id"]] = max(peaks.get(row["member_id"], 0.0), row["mme"])
    for member, peak in EXPECTED_PEAK_MME.items():
        assert round(peaks[member], 6) == peak
    days_of_4 = [r for r in rows if r["member_id"] == 4]
    assert len(days_of_4) == 90 and {r["fills"] for r in days_of_4} == {2}
    # member 3: 30 + 30 + 29 + 30 supplied days
    assert len([r for r in rows if r["member_id"] == 3]) == 119
