"""Population-engine backends: one Ibis expression, three places to run it.

DuckDB in-process is the default; PostgreSQL runs the expressions in place over the store;
PySpark local mode proves the distributed path. Engine code receives an ``ibis`` backend
and table expressions and never asks which backend it is on.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from typing import Any

import ibis
import pyarrow as pa

ENGINE_NAMES = ("duckdb", "postgres", "spark")


def connect_duckdb(path: str = ":memory:", threads: int | None = None) -> Any:
    """An in-process DuckDB backend (the default engine)."""
    con = ibis.duckdb.connect(path)
    if threads:
        con.raw_sql(f"SET threads = {int(threads)}")
    return con


def connect_postgres(url: str) -> Any:
    """An Ibis backend over the PostgreSQL store (expressions run in place, in the database)."""
    clean = url.replace("postgresql+psycopg://", "postgresql://").replace("postgres://", "postgresql://")
    return ibis.connect(clean)


_SPARK_SESSION: Any = None


def connect_spark(partitions: int = 2) -> Any:
    """An Ibis backend on a shared PySpark local-mode session (started once per process)."""
    global _SPARK_SESSION
    if _SPARK_SESSION is None:
        from pyspark.sql import SparkSession

        _SPARK_SESSION = (
            SparkSession.builder.master("local[2]")
            .appName("openvbc")
            .config("spark.sql.shuffle.partitions", str(partitions))
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", "2g")
            # Tables Ibis creates must not land in the caller's working directory.
            .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="openvbc-spark-warehouse-"))
            .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={tempfile.gettempdir()}")
            .getOrCreate()
        )
        _SPARK_SESSION.sparkContext.setLogLevel("ERROR")
    return ibis.pyspark.connect(_SPARK_SESSION)


def load_arrow_tables(con: Any, tables: Mapping[str, pa.Table], *, overwrite: bool = True) -> dict[str, Any]:
    """Create (or replace) backend tables from Arrow tables; return Ibis table expressions."""
    loaded: dict[str, Any] = {}
    session = getattr(con, "_session", None)
    for name, data in tables.items():
        if session is not None and overwrite:
            # On Spark a temporary view shadows a table of the same name, so a view left by
            # an earlier caller in the shared session would be read instead of this data.
            session.catalog.dropTempView(name)
        loaded[name] = con.create_table(name, data, overwrite=overwrite)
    return loaded


def to_arrow(expr: Any) -> pa.Table:
    """Execute an expression and return the rows as an Arrow table."""
    return expr.to_pyarrow()
