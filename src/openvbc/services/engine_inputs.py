"""Move canonical tables from the store into the population engine.

SQLite (the embedded default) is read through Python's sqlite3 into Arrow and handed to
DuckDB; DuckDB's own sqlite extension would be simpler but downloads itself on first use,
which this product must never do. PostgreSQL needs no copy: Ibis runs the expressions in
the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine

from openvbc.engine.backends import connect_duckdb, connect_postgres, load_arrow_tables
from openvbc.store.database import is_postgres, is_sqlite
from openvbc.store.tables import POPULATION_TABLES

ALL_POPULATION_TABLE_NAMES: tuple[str, ...] = tuple(table.name for table in POPULATION_TABLES)


def read_store_tables(
    engine: Engine, names: Iterable[str] = ALL_POPULATION_TABLE_NAMES
) -> dict[str, pa.Table]:
    """Read whole canonical tables from the store as Arrow tables (typed as in the store)."""
    wanted = list(names)
    if is_sqlite(engine):
        return _read_sqlite_tables(engine, wanted)
    return _read_sqlalchemy_tables(engine, wanted)


def _read_sqlite_tables(engine: Engine, names: list[str]) -> dict[str, pa.Table]:
    """Read through the same SQLite library SQLAlchemy uses (Python's sqlite3).

    A second copy of SQLite in the process (ADBC's driver bundles one) is unsafe: POSIX
    advisory locks belong to the process, so when one copy closes its file descriptor the
    locks the other copy holds are dropped too, and WAL readers then see stale pages or
    fail with I/O errors (SQLite, "How To Corrupt An SQLite Database File", §2.2.1). So the
    rows come through the pooled sqlite3 connection and are turned into Arrow columns here.
    """
    out: dict[str, pa.Table] = {}
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for name in names:
            cursor.execute(_typed_select(name))  # names come from our own metadata
            columns = [d[0] for d in cursor.description]
            chunks: list[pa.Table] = []
            while True:
                rows = cursor.fetchmany(200_000)
                if not rows:
                    break
                values = list(zip(*rows, strict=True))
                chunks.append(
                    pa.table(
                        {
                            col: pa.array(values[i], type=_sqlite_arrow_type(name, col))
                            for i, col in enumerate(columns)
                        }
                    )
                )
            data = pa.concat_tables(chunks) if chunks else _empty_sqlite_table(name, columns)
            out[name] = _cast_to_store_types(name, data)
        cursor.close()
    finally:
        raw.close()
    return out


def _read_sqlalchemy_tables(engine: Engine, names: list[str]) -> dict[str, pa.Table]:
    by_name = {table.name: table for table in POPULATION_TABLES}
    out: dict[str, pa.Table] = {}
    with engine.connect() as connection:
        for name in names:
            table = by_name[name]
            result = connection.execute(table.select())
            rows = result.fetchall()
            columns = list(result.keys())
            data = {col: [row[i] for row in rows] for i, col in enumerate(columns)}
            out[name] = _cast_to_store_types(name, pa.table(data) if rows else _empty_table(name))
    return out


def _sqlite_arrow_type(name: str, column: str) -> pa.DataType:
    """Arrow type of a column as read from SQLite: numbers as numbers, everything else text."""
    store_type = _schema_for(name).field(column).type
    if pa.types.is_integer(store_type) or pa.types.is_boolean(store_type):
        return pa.int64()
    if pa.types.is_floating(store_type):
        return pa.float64()
    return pa.string()  # strings, and dates / date-times stored as ISO text


def _empty_sqlite_table(name: str, columns: list[str]) -> pa.Table:
    return pa.table({col: pa.array([], type=_sqlite_arrow_type(name, col)) for col in columns})


def _typed_select(name: str) -> str:
    """SELECT every column cast to its declared affinity.

    SQLite columns are dynamically typed; the casts give every row of a column one type.
    """
    table = next(t for t in POPULATION_TABLES if t.name == name)
    parts = []
    for column in table.columns:
        arrow_type = _arrow_type_for(column)
        if pa.types.is_integer(arrow_type) or pa.types.is_boolean(arrow_type):
            affinity = "INTEGER"
        elif pa.types.is_floating(arrow_type):
            affinity = "REAL"
        else:
            affinity = "TEXT"
        parts.append(f'CAST("{column.name}" AS {affinity}) AS "{column.name}"')
    return f'SELECT {", ".join(parts)} FROM "{name}"'


def _arrow_type_for(column: Any) -> pa.DataType:
    python_type_name = type(column.type).__name__.lower()
    if "datetime" in python_type_name:
        return pa.timestamp("us")
    if python_type_name == "date":
        return pa.date32()
    if "integer" in python_type_name:
        return pa.int64()
    if python_type_name in {"float", "numeric"}:
        return pa.float64()
    if python_type_name == "boolean":
        return pa.bool_()
    return pa.string()


def _schema_for(name: str) -> pa.Schema:
    table = next(t for t in POPULATION_TABLES if t.name == name)
    return pa.schema([pa.field(col.name, _arrow_type_for(col)) for col in table.columns])


def _empty_table(name: str) -> pa.Table:
    return _schema_for(name).empty_table()


def _cast_to_store_types(name: str, data: pa.Table) -> pa.Table:
    """SQLite hands back dates as text; give every engine the same column types."""
    schema = _schema_for(name)
    columns = []
    for field in schema:
        column = data.column(field.name) if field.name in data.column_names else None
        if column is None or data.num_rows == 0 or column.null_count == data.num_rows:
            column = pa.chunked_array([pa.nulls(data.num_rows, field.type)])
        elif column.type != field.type:
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                if pa.types.is_date32(field.type):
                    column = column.cast(pa.timestamp("us")).cast(pa.date32()) if data.num_rows else column
                column = column.cast(field.type)
            else:
                column = column.cast(field.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def open_engine_tables(
    engine: Engine, names: Iterable[str] = ALL_POPULATION_TABLE_NAMES, backend: str = "duckdb"
) -> tuple[Any, dict[str, Any]]:
    """An Ibis backend plus table expressions over the store's canonical tables."""
    wanted = list(names)
    if backend == "postgres":
        if not is_postgres(engine):
            raise ValueError("the postgres engine runs in place and needs a PostgreSQL store")
        con = connect_postgres(engine.url.render_as_string(hide_password=False))
        return con, {name: con.table(name) for name in wanted}
    if backend == "spark":
        from openvbc.engine.backends import connect_spark

        con = connect_spark()
        return con, load_arrow_tables(con, read_store_tables(engine, wanted))
    con = connect_duckdb()
    return con, load_arrow_tables(con, read_store_tables(engine, wanted))
