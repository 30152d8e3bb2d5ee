"""One implementation, three engines: PostgreSQL and PySpark give DuckDB's member-level results.

The golden subset is the eCQM decks (every bundle for PostgreSQL; the first 12 bundles of
each deck for Spark, to keep local mode fast), evaluated for all five measures.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse, urlunparse

import pytest

from measures.decks import DECKS, PERIOD_2025, load_deck
from openvbc.engine.backends import connect_duckdb, load_arrow_tables
from openvbc.services.measure_inputs import MeasureInputs, build_measure_inputs
from openvbc.services.measures import evaluate_measure, load_measure_rule

MEASURE_DECKS = {
    "CMS165": "CMS165",
    "CMS122": "CMS122",
    "GSD": "CMS122",
    "CMS138": "CMS138",
    "TOBACCO-FREE": "CMS138",
}


def _inputs(deck: str, limit: int | None) -> MeasureInputs:
    _rule, _inputs_all, bundles, _names = load_deck(deck)
    pairs = [(case, bundle) for case, bundle in sorted(bundles.items())][:limit]
    return build_measure_inputs(pairs)


def _rows(con: Any, inputs: MeasureInputs, measure: str) -> list[tuple[Any, ...]]:
    tables = load_arrow_tables(con, inputs.tables)
    rows = evaluate_measure(tables, load_measure_rule(measure, 2025), PERIOD_2025).to_pyarrow().to_pylist()
    return sorted(tuple(str(v) for v in row.values()) for row in rows)


@pytest.fixture(scope="module")
def postgres_con() -> Iterator[Any]:
    import ibis
    import psycopg

    url = os.environ.get("OPENVBC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"openvbc_measures_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as error:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL not reachable: {error}")
    admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlparse(url)
    con = ibis.connect(urlunparse(parts._replace(path=f"/{name}")))
    try:
        yield con
    finally:
        con.disconnect()
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.postgres
@pytest.mark.parametrize("measure", list(MEASURE_DECKS))
def test_postgres_matches_duckdb(postgres_con: Any, measure: str) -> None:
    inputs = _inputs(MEASURE_DECKS[measure], None)
    assert _rows(postgres_con, inputs, measure) == _rows(connect_duckdb(), inputs, measure)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("measure", list(MEASURE_DECKS))
def test_spark_matches_duckdb(measure: str) -> None:
    from openvbc.engine.backends import connect_spark

    inputs = _inputs(MEASURE_DECKS[measure], 12)
    assert _rows(connect_spark(), inputs, measure) == _rows(connect_duckdb(), inputs, measure)


def test_deck_ids_cover_every_measure() -> None:
    assert set(MEASURE_DECKS.values()) == set(DECKS)
