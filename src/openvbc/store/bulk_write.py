"""The databases' own bulk paths for Arrow tables: ``COPY`` on PostgreSQL, ``executemany`` on SQLite.

Both run on the caller's connection, so the rows join the caller's transaction (an import stays
all-or-nothing). Values are serialised the way SQLAlchemy would store them, so rows written
here compare equal to rows written through SQLAlchemy (ISO text dates, 0/1 booleans on SQLite).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Connection

# Rows per COPY write / executemany call: large enough that per-call overhead vanishes, small
# enough that the text of one batch (CSV or Python tuples) stays well under 100 MB.
BATCH_ROWS = 250_000


def write_rows(connection: Connection, table: str, rows: pa.Table) -> int:
    """Append ``rows`` (column names = table columns) to ``table``; returns the rows written."""
    if rows.num_rows == 0:
        return 0
    if connection.dialect.name == "postgresql":
        return copy_rows(connection, table, rows)
    return insert_rows(connection, table, rows)


def copy_rows(connection: Connection, table: str, rows: pa.Table) -> int:
    """PostgreSQL ``COPY … FROM STDIN (FORMAT csv)`` of Arrow-written CSV (empty unquoted = NULL)."""
    driver = connection.connection.driver_connection
    assert driver is not None
    statement = f'COPY "{table}" ({_column_list(rows.column_names)}) FROM STDIN (FORMAT csv)'
    options = pacsv.WriteOptions(include_header=False, batch_size=8192)
    with driver.cursor() as cursor:
        with cursor.copy(statement) as copy:
            for batch in _batches(rows):
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, options)
                copy.write(buffer.getbuffer())
        return int(cursor.rowcount)


def insert_rows(connection: Connection, table: str, rows: pa.Table) -> int:
    """SQLite ``executemany`` of the rows as tuples, one prepared statement for all batches."""
    marks = ", ".join("?" for _ in rows.column_names)
    statement = f'INSERT INTO "{table}" ({_column_list(rows.column_names)}) VALUES ({marks})'
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    written = 0
    try:
        for batch in _batches(as_sqlite_values(rows)):
            cursor.executemany(statement, zip(*(column.to_pylist() for column in batch.columns), strict=True))
            written += cursor.rowcount
    finally:
        cursor.close()
    return written


def as_sqlite_values(rows: pa.Table) -> pa.Table:
    """Arrow values as SQLite stores them through SQLAlchemy (ISO text dates, 0/1 booleans)."""
    columns = []
    for column in rows.columns:
        kind = column.type
        if pa.types.is_timestamp(kind):
            column = pc.cast(pc.cast(column, pa.timestamp("us")), pa.string())  # 'YYYY-MM-DD HH:MM:SS.ffffff'
        elif pa.types.is_date(kind) or pa.types.is_decimal(kind):
            column = pc.cast(column, pa.string())
        elif pa.types.is_boolean(kind):
            column = pc.cast(column, pa.int8())
        columns.append(column)
    return pa.table(dict(zip(rows.column_names, columns, strict=True)))


def _column_list(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _batches(rows: pa.Table) -> Iterator[pa.Table]:
    for start in range(0, rows.num_rows, BATCH_ROWS):
        yield rows.slice(start, BATCH_ROWS)
