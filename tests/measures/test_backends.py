"""One implementation, three engines: PostgreSQL and PySpark give DuckDB's member-level results.

The golden subset is the eCQM decks, evaluated for all five measures: every bundle on
PostgreSQL; on Spark, by default a quick run over ``SPARK_QUICK_CASES`` (four bundles per deck,
one input, one load), and every bundle under ``-m "spark and slow"`` (see conftest.py).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse, urlunparse

import ibis
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


# Four bundles per deck that between them take every population path of the five measures
# (case uuid prefix -> README name and why it is in the quick Spark run).
SPARK_QUICK_CASES = {
    "CMS165": {
        "f2d1fd7e": "NUMERPass SBP139DBP89DuringMP: BP panel path into the numerator",
        "bff7264b": "NUMERFail SBP140DBP89DuringMP: denominator only, the 140 boundary",
        "821185af": "DENEXPass FrailtyDeviceRequest...: DeviceRequest + age exclusion path",
        "642ef7f9": "IPFail HypertensionOnsetsAfterFirst6Months: condition window, not in IP",
    },
    "CMS122": {  # also the GSD input
        "ab29ab81": "NUMPass LabA1cNoResultInMP: result without a value (CMS122 / GSD >9 numerator)",
        "5ed37c9e": "NUMFail HbA1cLessThan9: a % result (GSD <8 path)",
        "6b6a5f96": "DENEXPass HospiceServiceRequestDuringMP: ServiceRequest hospice exclusion",
        "1fa14a28": "IPFail PatientAge76: age limit, not in IP",
    },
    "CMS138": {
        "7c310440": "NUM2Pass counseling: user, procedure intervention, all three groups",
        "9dd6e1c5": "NUM1Pass TobaccoNonUser: non-user screening path",
        "bf7e475b": "NUM2Pass MedRequest 6 months prior: medication_order period path",
        "73d69a14": "DEN1EXPass hospice during MP: exclusion in a multi-group measure",
    },
}


def _spark_inputs(quick: bool) -> MeasureInputs:
    """All decks in one input (the five measures then share one Spark load)."""
    pairs = []
    for deck in DECKS:
        _rule, _inputs_all, bundles, _names = load_deck(deck)
        chosen = SPARK_QUICK_CASES[deck] if quick else None
        pairs += [
            (case, bundle) for case, bundle in sorted(bundles.items()) if chosen is None or case[:8] in chosen
        ]
    return build_measure_inputs(pairs)


def _spark_rows(con: Any, views: dict[str, Any], measure: str) -> list[tuple[Any, ...]]:
    expr = evaluate_measure(views, load_measure_rule(measure, 2025), PERIOD_2025)
    rows = con.to_pyarrow(expr).to_pylist()
    return sorted(tuple(str(v) for v in row.values()) for row in rows)


def _spark_views(con: Any, inputs: MeasureInputs) -> dict[str, Any]:
    # Temporary views, not tables: nothing is written to a warehouse directory.
    return {
        name: con.create_view(name, ibis.memtable(t), overwrite=True) for name, t in inputs.tables.items()
    }


@pytest.fixture(scope="module")
def spark_quick(spark_con: Any) -> tuple[Any, dict[str, Any], MeasureInputs]:
    inputs = _spark_inputs(quick=True)
    return spark_con, _spark_views(spark_con, inputs), inputs


def test_quick_spark_cases_exist() -> None:
    for deck, cases in SPARK_QUICK_CASES.items():
        _rule, _inputs, bundles, _names = load_deck(deck)
        assert all(sum(case.startswith(prefix) for case in bundles) == 1 for prefix in cases), deck


@pytest.mark.spark
@pytest.mark.parametrize("measure", list(MEASURE_DECKS))
def test_spark_matches_duckdb(spark_quick: tuple[Any, dict[str, Any], MeasureInputs], measure: str) -> None:
    con, views, inputs = spark_quick
    spark = _spark_rows(con, views, measure)
    assert spark == _rows(connect_duckdb(), inputs, measure)
    assert len(spark) >= 4  # at least the four bundles of the measure's deck have rows


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("measure", list(MEASURE_DECKS))
def test_spark_matches_duckdb_every_bundle(spark_con: Any, measure: str) -> None:
    inputs = _spark_inputs(quick=False)
    views = _spark_views(spark_con, inputs)
    assert _spark_rows(spark_con, views, measure) == _rows(connect_duckdb(), inputs, measure)


def test_deck_ids_cover_every_measure() -> None:
    assert set(MEASURE_DECKS.values()) == set(DECKS)
