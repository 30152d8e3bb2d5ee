"""Loading validated rows into an empty table at the database's own bulk rate.

When a table holds no rows yet there is nothing to match, update or keep: every row is new.
Rather than staging the rows and joining them into the target (three writes per row), the
references are resolved in Arrow against key maps read from the referenced tables, and the
rows go straight into the target with ``COPY`` / ``executemany`` in file order, so surrogate
ids stay dense and follow the file. Every guarantee of the upsert path holds:

- Unknown required references are reported by row before anything is written to the table.
- Referential integrity: every id written was read from the referenced table inside the same
  write transaction (SQLite holds the write lock; PostgreSQL locks the referenced rows' table
  against writers with the target's ``EXCLUSIVE`` lock and nothing in an import deletes parent
  rows). Per-row foreign-key checks would only repeat that proof, so PostgreSQL's foreign keys
  on the target are dropped for the load and re-added afterwards, which validates every row in
  one set-based query; SQLite's are off for the import connection (see ``begin_bulk_write``).
- Natural keys stay unique: the unique indexes are in place during the load (and validation
  has already refused duplicates within a file).
- The number of rows the database reports written must equal the rows given (else an error).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Table

from openvbc.store.bulk_write import write_rows


@dataclass(frozen=True)
class Reference:
    """A ``*_key`` column of the incoming rows that names a row of another table."""

    column: str  # incoming column, e.g. member_key
    table: str  # referenced table
    natural_key: str  # its natural key column
    surrogate: str  # its surrogate key, copied into the target
    target: str  # target column receiving the surrogate key
    required: bool  # unknown value is an error (else the target column stays null)


@dataclass
class KeyMaps:
    """Natural key -> surrogate key of referenced tables, read at most once per import.

    A map is dropped (``forget``) as soon as its table is written, so it always reflects the
    rows of the current transaction.
    """

    maps: dict[tuple[str, str, str], pa.Table] = field(default_factory=dict)

    def lookup(self, connection: Connection, ref: Reference) -> pa.Table:
        """A table (key, id) of every row of ``ref.table``."""
        cache_key = (ref.table, ref.natural_key, ref.surrogate)
        if cache_key not in self.maps:
            self.maps[cache_key] = read_key_map(connection, ref.table, ref.natural_key, ref.surrogate)
        return self.maps[cache_key]

    def forget(self, table: str) -> None:
        for cache_key in [k for k in self.maps if k[0] == table]:
            del self.maps[cache_key]


def read_key_map(connection: Connection, table: str, natural_key: str, surrogate: str) -> pa.Table:
    """Every (natural key, surrogate) pair of ``table`` as Arrow columns ``key`` and ``id``."""
    query = f'SELECT "{natural_key}", "{surrogate}" FROM "{table}"'
    schema = pa.schema([("key", pa.string()), ("id", pa.int64())])
    if connection.dialect.name == "postgresql":
        # COPY TO of two columns is parsed by Arrow's CSV reader: no Python object per row.
        driver = connection.connection.driver_connection
        assert driver is not None
        buffer = io.BytesIO()
        with driver.cursor() as cursor, cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as copy:
            for block in copy:
                buffer.write(block)
        if buffer.tell() == 0:
            return schema.empty_table()
        return pacsv.read_csv(
            io.BytesIO(buffer.getvalue()),
            read_options=pacsv.ReadOptions(column_names=["key", "id"]),
            convert_options=pacsv.ConvertOptions(column_types=schema),
        )
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()  # the driver's own tuples: SQLAlchemy row objects cost 3x more here
    try:
        rows = cursor.execute(query).fetchall()
    finally:
        cursor.close()
    if not rows:
        return schema.empty_table()
    keys, ids = zip(*rows, strict=True)
    return pa.table([pa.array(keys, pa.string()), pa.array(ids, pa.int64())], schema=schema)


def is_empty(connection: Connection, table: str) -> bool:
    """True when ``table`` has no row; on PostgreSQL the table is first locked against writers."""
    if connection.dialect.name == "postgresql":
        # EXCLUSIVE blocks other writers (not readers) until commit, so "empty" stays true.
        connection.exec_driver_sql(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
    return connection.exec_driver_sql(f'SELECT 1 FROM "{table}" LIMIT 1').first() is None


@dataclass
class Resolved:
    """Rows ready for the target (surrogate references filled), or the rows naming unknown keys."""

    rows: pa.Table | None
    unknown: list[tuple[int, str, str, str]]  # (row, column, value, referenced table)


def resolve_references(
    connection: Connection,
    target: Table,
    data: pa.Table,
    references: Sequence[Reference],
    key_maps: KeyMaps,
) -> Resolved:
    """Target-shaped rows: the data's target columns plus each reference's surrogate id."""
    columns = {
        name: data.column(name)
        for name in data.column_names
        if name in target.c and not target.c[name].primary_key
    }
    unknown: list[tuple[int, str, str, str]] = []
    checked: set[str] = set()
    for ref in references:
        if ref.column not in data.column_names:
            continue
        keys = data.column(ref.column)
        found = key_maps.lookup(connection, ref)
        position = pc.index_in(keys, value_set=found.column("key"))
        if ref.required and ref.column not in checked:
            checked.add(ref.column)
            missing = pc.and_(pc.is_valid(keys), pc.is_null(position))
            for row in pc.indices_nonzero(missing).to_pylist():
                unknown.append((row, ref.column, str(keys[row].as_py()), ref.table))
        ids = found.column("id").take(position)
        columns[ref.target] = ids
    if unknown:
        unknown.sort()
        return Resolved(None, unknown)
    return Resolved(pa.table(columns), [])


def insert_into_empty(connection: Connection, target: Table, rows: pa.Table) -> int:
    """Write ``rows`` into the empty ``target`` with the bulk path; returns the rows written."""
    dropped = _drop_foreign_keys(connection, target.name)
    written = write_rows(connection, target.name, rows)
    _restore_foreign_keys(connection, target.name, dropped)
    if written != rows.num_rows:
        raise RuntimeError(f"{target.name}: the database wrote {written} of {rows.num_rows} rows")
    return written


def _drop_foreign_keys(connection: Connection, table: str) -> list[tuple[str, str]]:
    """PostgreSQL: drop the table's foreign keys, returning (name, definition) to restore them."""
    if connection.dialect.name != "postgresql":
        return []
    found = connection.exec_driver_sql(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %(table)s::regclass AND contype = 'f' ORDER BY conname",
        {"table": f'"{table}"'},
    ).fetchall()
    for name, _definition in found:
        connection.exec_driver_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    return [(str(name), str(definition)) for name, definition in found]


def _restore_foreign_keys(connection: Connection, table: str, dropped: list[tuple[str, str]]) -> None:
    # ADD CONSTRAINT checks every existing row with one join; a violation aborts the import.
    for name, definition in dropped:
        connection.exec_driver_sql(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
