"""Import throughput versus the database's own bulk load of the same rows (not a test).

Usage: .venv/bin/python tests/imports/bench_import.py [fills] [sqlite|postgres]
Writes a synthetic package (members + fills) to a temp dir, imports it with ``import_path``
and times a plain ``executemany`` (SQLite) / ``COPY`` (PostgreSQL) of the same fill rows
into an unindexed table as the floor.
"""

from __future__ import annotations

import csv
import io
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import create_engine, make_url, text

from openvbc.domain.npi import make_npi
from openvbc.interop.plan_package import FILLS, MEMBERS
from openvbc.services.imports import import_path
from openvbc.store.database import open_engine
from openvbc.store.migrate import upgrade_schema

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def write_package(directory: Path, fills: int, members: int) -> None:
    rng = np.random.default_rng(7)
    with (directory / "members.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MEMBERS.columns)
        for index in range(members):
            writer.writerow(
                [f"M{index:07d}", "", "", "1960-01-01", "F", "", "", "", "", "MN", "", "medicare", "", ""]
            )
    member_keys = np.char.add("M", np.char.zfill(rng.integers(0, members, fills).astype(str), 7))
    days = rng.integers(0, 365, fills)
    fill_dates = (np.datetime64("2024-01-01") + days).astype(str)
    table = pa.table(
        {
            "fill_key": np.char.add("F", np.arange(fills).astype(str)),
            "member_key": member_keys,
            "ndc": np.where(rng.random(fills) < 0.5, "00071015523", "0071-0155-23"),
            "ingredient": np.full(fills, "atorvastatin"),
            "drug_class": np.full(fills, "statin"),
            "fill_date": fill_dates,
            "days_supply": rng.choice(["30", "90"], fills),
            "quantity": rng.choice(["30", "90"], fills),
            "pharmacy_npi": np.full(fills, make_npi("123456789")),
            "prescriber_npi": np.full(fills, make_npi("111111111")),
            "allowed_amount": np.full(fills, "12.50"),
            "paid_amount": np.full(fills, "10.00"),
        }
    )
    assert tuple(table.column_names) == FILLS.columns
    pacsv.write_csv(table, directory / "fills.csv", pacsv.WriteOptions(quoting_style="none"))


def floor_rate(url: str, directory: Path) -> float:
    """Rows/s of the plainest bulk load of the fills file's rows into an unindexed table."""
    rows = pacsv.read_csv(
        directory / "fills.csv",
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(FILLS.columns, pa.string())),
    )
    engine = create_engine(url)
    columns = ", ".join(f"{c} TEXT" for c in FILLS.columns)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS bench_floor")
        connection.exec_driver_sql(f"CREATE TABLE bench_floor ({columns})")
    start = time.perf_counter()
    with engine.begin() as connection:
        driver = connection.connection.driver_connection
        assert driver is not None
        if engine.dialect.name == "postgresql":
            buffer = io.BytesIO()
            pacsv.write_csv(rows, buffer, pacsv.WriteOptions(include_header=False))
            with driver.cursor() as cursor, cursor.copy("COPY bench_floor FROM STDIN (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())
        else:
            values = zip(*[column.to_pylist() for column in rows.columns], strict=True)
            marks = ", ".join("?" for _ in FILLS.columns)
            driver.cursor().executemany(f"INSERT INTO bench_floor VALUES ({marks})", values)
    elapsed = time.perf_counter() - start
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE bench_floor")
    engine.dispose()
    return rows.num_rows / elapsed


def main() -> None:
    fills = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    backend = sys.argv[2] if len(sys.argv) > 2 else "sqlite"
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        write_package(directory, fills, max(1000, fills // 15))
        database = None
        if backend == "postgres":
            database = f"openvbc_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{database}"'))
            url = make_url(PG_SERVER).set(database=database).render_as_string(hide_password=False)
        else:
            url = f"sqlite:///{directory / 'bench.db'}"
        try:
            engine = open_engine(url)
            upgrade_schema(engine)
            start = time.perf_counter()
            report = import_path(engine, directory, check_only=False, today=date(2025, 1, 1))
            first = time.perf_counter() - start
            start = time.perf_counter()
            (directory / "fills.csv").write_bytes(b"\xef\xbb\xbf" + (directory / "fills.csv").read_bytes())
            import_path(engine, directory / "fills.csv", check_only=False, today=date(2025, 1, 1))
            again = time.perf_counter() - start
            engine.dispose()
            floor = floor_rate(url, directory)
        finally:
            if database is not None:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        rows = sum(item.rows for item in report.files)
        print(f"{backend}: {rows} rows imported in {first:.1f} s = {rows / first:,.0f} rows/s")
        print(f"{backend}: re-import of {fills} equal fills (new checksum, all unchanged) in {again:.1f} s")
        print(
            f"{backend}: plain bulk load floor {floor:,.0f} rows/s; import/floor = {rows / first / floor:.2f}"
        )


if __name__ == "__main__":
    main()
