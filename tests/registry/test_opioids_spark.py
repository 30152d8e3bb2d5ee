"""The opioid expressions give identical member-level rows on PySpark (local mode) and DuckDB."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from openvbc.engine.backends import connect_duckdb, connect_spark, load_arrow_tables
from openvbc.engine.canonical import MEMBER_RESULT_COLUMN_NAMES
from openvbc.engine.opioids import daily_mme, evaluate_opioid_measures
from openvbc.rules.registry.schema import load_drug_products, load_opioid_measures
from openvbc.services.engine_inputs import read_store_tables
from openvbc.services.spine import OPIOID_INPUT_TABLES, opioid_period
from registry.opioid_cases import build_opioid_world


def _rows(con: object, arrow: dict) -> tuple[list[dict], list[dict]]:
    tables = load_arrow_tables(con, arrow)
    rule, products, period = load_opioid_measures(2025), load_drug_products(), opioid_period(2025)
    results = evaluate_opioid_measures(tables, rule, products, period).select(
        list(MEMBER_RESULT_COLUMN_NAMES)
    )
    mme = daily_mme(tables, products, period).select("member_id", "day", "mme")
    key = ("measure_id", "member_id")
    return (
        sorted(results.to_pyarrow().to_pylist(), key=lambda r: tuple(r[k] for k in key)),
        sorted(mme.to_pyarrow().to_pylist(), key=lambda r: (r["member_id"], r["day"])),
    )


@pytest.mark.spark
def test_spark_matches_duckdb(sqlite_engine: Engine) -> None:
    build_opioid_world().insert_into(sqlite_engine)
    arrow = read_store_tables(sqlite_engine, OPIOID_INPUT_TABLES)
    duck_results, duck_mme = _rows(connect_duckdb(), arrow)
    spark_results, spark_mme = _rows(connect_spark(), arrow)
    assert spark_results == duck_results
    assert [(r["member_id"], r["day"], round(r["mme"], 9)) for r in spark_mme] == [
        (r["member_id"], r["day"], round(r["mme"], 9)) for r in duck_mme
    ]
