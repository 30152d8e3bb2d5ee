"""Backends for the program-year tests: DuckDB always, PostgreSQL and PySpark when marked."""

from __future__ import annotations

import hashlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openvbc.domain.contract import ProgramContract
from openvbc.rules.loader import parse_program_contract

CONTRACT_FILE = Path(__file__).resolve().parents[1] / "data" / "program" / "test-contract.yaml"


@pytest.fixture(scope="session")
def test_contract() -> ProgramContract:
    return parse_program_contract(
        CONTRACT_FILE.read_text(encoding="utf-8"), "tests/data/program/test-contract.yaml"
    )


@pytest.fixture(scope="module")
def postgres_ibis() -> Iterator[Any]:
    import ibis
    import psycopg

    if os.environ.get("OPENVBC_SKIP_POSTGRES") == "1":
        pytest.skip("OPENVBC_SKIP_POSTGRES=1")
    url = os.environ.get("OPENVBC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"openvbc_program_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(url, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    con = ibis.connect(urlunparse(urlparse(url)._replace(path=f"/{name}")))
    try:
        yield con
    finally:
        con.disconnect()
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


# The hand-built plan has a few dozen rows: on Spark, planning and code generation cost far more
# than the data. These runtime SQL settings make each query a single small job; they are set on
# the shared session only while a program test module runs and restored after it, so other
# modules sharing the session see their own settings.
SMALL_DATA_SPARK_CONF = {
    "spark.sql.shuffle.partitions": "1",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


@pytest.fixture(scope="module")
def spark_small() -> Iterator[Any]:
    """The shared PySpark session (``connect_spark``), tuned for tiny data for the program tests."""
    from openvbc.engine.backends import connect_spark

    con = connect_spark()
    conf = con._session.conf
    before = {key: conf.get(key, None) for key in SMALL_DATA_SPARK_CONF}
    for key, value in SMALL_DATA_SPARK_CONF.items():
        conf.set(key, value)
    try:
        yield con
    finally:
        for key, value in before.items():
            if value is None:
                conf.unset(key)
            else:
                conf.set(key, value)


@pytest.fixture(
    params=[
        "duckdb",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("spark", marks=pytest.mark.spark),
    ]
)
def engine_con(request: pytest.FixtureRequest) -> Any:
    """An Ibis backend: the same tests run on DuckDB, PostgreSQL and PySpark."""
    return _connect(request)


@pytest.fixture(
    params=[
        "duckdb",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("spark", marks=[pytest.mark.spark, pytest.mark.slow]),
    ]
)
def engine_con_spark_slow(request: pytest.FixtureRequest) -> Any:
    """The same backends, with the PySpark run kept for ``-m slow`` (many queries on Spark)."""
    return _connect(request)


def _connect(request: pytest.FixtureRequest) -> Any:
    if request.param == "duckdb":
        from openvbc.engine.backends import connect_duckdb

        return connect_duckdb()
    if request.param == "postgres":
        return request.getfixturevalue("postgres_ibis")
    return request.getfixturevalue("spark_small")


def load_tables(con: Any, tables: dict[str, Any]) -> dict[str, Any]:
    """Arrow tables into the backend (temporary views on PySpark, see services.attribution.upload_arrow).

    On the shared PySpark session each upload is a Spark job and most tests load the same
    hand-built plan, so a view is named after its content (a digest of the Arrow data) and reused
    while the session has it; engine code reaches tables through this dict, never by name.
    """
    from openvbc.services.attribution import upload_arrow

    if getattr(con, "name", "") != "pyspark":
        return {name: upload_arrow(con, name, data) for name, data in tables.items()}
    out = {}
    for name, data in tables.items():
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, data.schema) as writer:
            writer.write_table(data)
        view = f"openvbc_program_{name}_{hashlib.sha256(sink.getvalue()).hexdigest()[:16]}"
        if con._session.catalog.tableExists(view):
            out[name] = con.table(view)
        else:
            out[name] = upload_arrow(con, view, data)
    return out
