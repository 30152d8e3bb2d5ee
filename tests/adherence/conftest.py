"""Backends for the PDC golden suite: DuckDB always, PostgreSQL and PySpark when marked.

PostgreSQL: a database of our own (``openvbc_pdc_<random>``) on the server named by
``OPENVBC_TEST_POSTGRES_URL``, dropped at the end of the session. PySpark: the shared local session
from ``openvbc.engine.backends.connect_spark``; tables are registered as temporary views so no
warehouse folder is written.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest

from openvbc.engine import backends

DEFAULT_TEST_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

Loader = Callable[[dict[str, pa.Table]], dict[str, Any]]


@pytest.fixture(scope="session")
def duckdb_loader() -> Loader:
    con = backends.connect_duckdb()
    return lambda tables: backends.load_arrow_tables(con, tables)


@pytest.fixture(scope="session")
def postgres_loader() -> Iterator[Loader]:
    import psycopg

    server = os.environ.get("OPENVBC_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL)
    server = server.replace("postgresql+psycopg://", "postgresql://")
    name = f"openvbc_pdc_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server.rpartition("/")
    con = backends.connect_postgres(f"{base}/{name}")
    try:
        yield lambda tables: backends.load_arrow_tables(con, tables)
    finally:
        con.disconnect()
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def spark_loader() -> Loader:
    con = backends.connect_spark()
    session = con._session

    def load(tables: dict[str, pa.Table]) -> dict[str, Any]:
        loaded = {}
        for name, data in tables.items():
            frame = session.createDataFrame(data.to_pandas(), schema=_spark_schema(data.schema))
            frame.createOrReplaceTempView(name)
            loaded[name] = con.table(name)
        return loaded

    return load


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql import types as T

    kinds = {
        pa.int64(): T.LongType(),
        pa.string(): T.StringType(),
        pa.date32(): T.DateType(),
        pa.bool_(): T.BooleanType(),
        pa.timestamp("us"): T.TimestampNTZType(),
        pa.float64(): T.DoubleType(),
    }
    return T.StructType([T.StructField(field.name, kinds[field.type], True) for field in schema])
