"""Synthetic plan generation and import at scale, against the database's own bulk-load rate.

Usage::

    .venv/bin/python bench/synth_import_bench.py --members 100000 1000000 [--repeat 3]
        [--backends sqlite postgres] [--parquet-import-max 100000] [--json OUT]

For each member count, in one run (so every ratio compares figures taken minutes apart):

1. ``generate_plan`` to CSV and to Parquet (seed 42, year 2024, chunk 50,000).
2. ``import_path`` of the CSV package (and of the Parquet one up to ``--parquet-import-max``
   members) into a fresh, migrated SQLite file and PostgreSQL database.
3. The baseline: the same fill rows, already typed, written with a plain ``executemany``
   (SQLite, one transaction, the store's WAL/synchronous=FULL settings) or one ``COPY``
   (PostgreSQL) into an empty table with the columns and indexes of ``fill`` (no foreign keys).

Every step runs in a child process (``bench/peak.py::run_step``) for its own peak RSS; the
schema is made before a step starts. Import rows/s counts the rows of all 13 files; the baseline
counts fills. ``ratio`` = import rows/s / baseline rows/s of the same backend and size.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe_machine
from peak import run_step
from sqlalchemy import create_engine, make_url, text

from openvbc.store.database import open_engine
from openvbc.store.migrate import upgrade_schema

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SEED, YEAR, CHUNK = 42, 2024, 50_000

SYNTH_STEP = """
from pathlib import Path
from openvbc.synth.generator import generate_plan
m = generate_plan(Path({out!r}), {members}, seed={seed}, year={year}, fmt={fmt!r}, chunk_size={chunk})
RESULT = {{'rows': sum(m.files.values()), 'fills': m.files['fills.' + {fmt!r}]}}
"""

IMPORT_STEP = """
from datetime import date
from pathlib import Path
from openvbc.services.imports import import_path
from openvbc.store.database import open_engine
engine = open_engine({url!r})
report = import_path(engine, Path({package!r}), check_only=False, today=date({year} + 1, 1, 1))
RESULT = {{'rows': sum(f.rows for f in report.files), 'inserted': sum(f.inserted for f in report.files)}}
"""

# The baseline's input is prepared before t0 of the timed part: fills read and typed as the
# importer would write them (member ids follow member numbers: members load first, in order).
BASELINE_STEP = """
import io, time
import pyarrow as pa, pyarrow.compute as pc, pyarrow.csv as pacsv
from openvbc.interop.plan_package import FILLS
from openvbc.store.bulk_write import as_sqlite_values
raw = pacsv.read_csv({fills!r}, convert_options=pacsv.ConvertOptions(
    column_types=dict.fromkeys(FILLS.columns, pa.string()), strings_can_be_null=True))
member_id = pc.cast(pc.utf8_slice_codeunits(raw['member_key'], 1, 10), pa.int64())
rows = pa.table({{
    'fill_key': raw['fill_key'], 'member_id': member_id, 'ndc11': raw['ndc'],
    'ingredient': raw['ingredient'], 'drug_class': raw['drug_class'],
    'fill_date': pc.cast(raw['fill_date'], pa.date32()),
    'days_supply': pc.cast(raw['days_supply'], pa.int32()),
    'quantity': pc.cast(raw['quantity'], pa.float64()), 'pharmacy_npi': raw['pharmacy_npi'],
    'prescriber_npi': raw['prescriber_npi'],
    'allowed_amount': pc.cast(raw['allowed_amount'], pa.decimal128(14, 2)),
    'paid_amount': pc.cast(raw['paid_amount'], pa.decimal128(14, 2))}})
del raw
names = ', '.join(rows.column_names)
t0 = time.perf_counter()
if {backend!r} == 'postgresql':
    import psycopg
    with psycopg.connect({dsn!r}) as conn, conn.cursor() as cur:
        with cur.copy(f'COPY bench_fill ({{names}}) FROM STDIN (FORMAT csv)') as copy:
            for start in range(0, rows.num_rows, 250_000):
                buffer = io.BytesIO()
                pacsv.write_csv(rows.slice(start, 250_000), buffer, pacsv.WriteOptions(include_header=False))
                copy.write(buffer.getbuffer())
        conn.commit()
else:
    import sqlite3
    conn = sqlite3.connect({path!r}, isolation_level=None)
    for pragma in ('journal_mode=WAL', 'synchronous=FULL', 'cache_size=-262144', 'temp_store=MEMORY'):
        conn.execute('PRAGMA ' + pragma)
    conn.execute('BEGIN')
    marks = ', '.join('?' for _ in rows.column_names)
    typed = as_sqlite_values(rows)
    for start in range(0, typed.num_rows, 250_000):
        batch = typed.slice(start, 250_000)
        conn.executemany(f'INSERT INTO bench_fill ({{names}}) VALUES ({{marks}})',
                         zip(*(c.to_pylist() for c in batch.columns)))
    conn.execute('COMMIT')
    conn.close()
RESULT = {{'rows': rows.num_rows, 'write_seconds': time.perf_counter() - t0}}
"""


def fresh_store(backend: str, work: Path) -> tuple[str, str | None]:
    """A migrated empty store; returns (url, PostgreSQL database name to drop afterwards)."""
    if backend == "sqlite":
        path = work / f"store_{uuid.uuid4().hex[:6]}.db"
        url = f"sqlite:///{path}"
        name = None
    else:
        name = f"openvbc_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    engine = open_engine(url)
    upgrade_schema(engine)
    engine.dispose()
    return url, name


def make_baseline_table(url: str) -> None:
    """``bench_fill``: the columns and indexes of ``fill``, empty, without foreign keys."""
    engine = open_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("CREATE TABLE bench_fill (LIKE fill INCLUDING ALL)")
        else:
            rows = connection.exec_driver_sql(
                "SELECT type, sql FROM sqlite_master "
                "WHERE tbl_name = 'fill' AND sql IS NOT NULL ORDER BY type DESC"
            ).fetchall()
            for kind, sql in rows:
                statement = sql.replace('"fill"', "bench_fill").replace("TABLE fill", "TABLE bench_fill")
                statement = statement.replace(" ON fill ", " ON bench_fill ").replace(
                    "INDEX ix_", "INDEX bx_"
                )
                statement = statement.replace("INDEX uq_", "INDEX bq_")
                if kind == "table":
                    # Keep columns, keys and checks; drop the foreign key (no parent rows here).
                    statement = re.sub(
                        r"\s*CONSTRAINT \w+ FOREIGN KEY\([^)]*\) REFERENCES \w+ \([^)]*\),", "", statement
                    )
                connection.exec_driver_sql(statement)
    engine.dispose()


def drop_store(name: str | None) -> None:
    if name is None:
        return
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def measure_size(members: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"members": members}
    packages = {}
    for fmt in ("csv", "parquet"):
        out = work / f"plan_{members}_{fmt}"
        step = run_step(
            SYNTH_STEP.format(out=str(out), members=members, seed=SEED, year=YEAR, fmt=fmt, chunk=CHUNK)
        )
        results[f"synth_{fmt}"] = step
        packages[fmt] = out
        print(f"synth {members:,} {fmt}: {step['seconds']:.1f} s, {step['peak_rss_mib']:.0f} MiB", flush=True)
    for backend in args.backends:
        imports, baselines = [], []
        for _ in range(args.repeat):
            url, name = fresh_store(backend, work)
            try:
                imports.append(run_step(IMPORT_STEP.format(url=url, package=str(packages["csv"]), year=YEAR)))
                make_baseline_table(url)
                dialect = "postgresql" if backend == "postgres" else "sqlite"
                plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
                path = url.removeprefix("sqlite:///")
                fills = str(packages["csv"] / "fills.csv")
                baselines.append(
                    run_step(BASELINE_STEP.format(fills=fills, backend=dialect, dsn=plain, path=path))
                )
            finally:
                drop_store(name)
                if backend == "sqlite":
                    for suffix in ("", "-wal", "-shm"):
                        Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
            print(
                f"import {members:,} csv {backend}: {imports[-1]['seconds']:.1f} s; "
                f"baseline {baselines[-1]['write_seconds']:.1f} s",
                flush=True,
            )
        results[f"import_csv_{backend}"] = summarise(imports, "seconds")
        results[f"baseline_{backend}"] = summarise(baselines, "write_seconds")
        import_rate = results[f"import_csv_{backend}"]["rows_per_second"]
        base_rate = results[f"baseline_{backend}"]["rows_per_second"]
        results[f"ratio_{backend}"] = import_rate / base_rate
        # Ratio of each run's own pair, whose median is steadier on a shared machine.
        results[f"paired_ratio_{backend}"] = statistics.median(
            (i["rows"] / i["seconds"]) / (b["rows"] / b["write_seconds"])
            for i, b in zip(imports, baselines, strict=True)
        )
        if members <= args.parquet_import_max:
            url, name = fresh_store(backend, work)
            try:
                step = run_step(IMPORT_STEP.format(url=url, package=str(packages["parquet"]), year=YEAR))
            finally:
                drop_store(name)
            results[f"import_parquet_{backend}"] = summarise([step], "seconds")
            print(f"import {members:,} parquet {backend}: {step['seconds']:.1f} s", flush=True)
    for folder in packages.values():
        shutil.rmtree(folder, ignore_errors=True)
    return results


def summarise(steps: list[dict[str, Any]], clock: str) -> dict[str, Any]:
    seconds = statistics.median(step[clock] for step in steps)
    rows = steps[0]["rows"]
    return {
        "runs": len(steps),
        "seconds": seconds,
        "all_seconds": [round(step[clock], 2) for step in steps],
        "rows": rows,
        "rows_per_second": rows / seconds,
        "peak_rss_mib": max(step["peak_rss_mib"] for step in steps),
    }


SECTION = "## Synthetic plan and import"
DOC_HEADER = """# Benchmarks

Measured figures for openvbc's heavy paths, each with the command that reproduces it and the
machine it ran on. The machines are shared 2-core VMs where other test suites run at the same
time, so each section states its load and compares figures taken in the same run.

Run: `.venv/bin/python bench/<script>.py --help` for each benchmark below.

"""


def render_section(reports: list[dict[str, Any]]) -> str:
    """The markdown of the "Synthetic plan and import" section from one or more result files."""
    machine = reports[0]["machine"]
    lines = [
        SECTION,
        "",
        "`bench/synth_import_bench.py` (seed 42, year 2024, chunk 50,000; each step in its own process).",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, kernel {machine['kernel']}.",
        "",
        "| Members | Step | Runs | Time (median) | Rows | Rows/s | Peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    ratios = []
    for report in reports:
        for size in report["sizes"]:
            members = f"{size['members']:,}"
            for key, label in (("synth_csv", "synth → CSV"), ("synth_parquet", "synth → Parquet")):
                step = size[key]
                lines.append(
                    f"| {members} | {label} | 1 | {step['seconds']:.1f} s | {step['rows']:,} | "
                    f"{step['rows'] / step['seconds']:,.0f} | {step['peak_rss_mib']:,.0f} MiB |"
                )
            for backend in ("sqlite", "postgres"):
                for key, label in (
                    (f"import_csv_{backend}", f"import CSV → {backend}"),
                    (f"import_parquet_{backend}", f"import Parquet → {backend}"),
                    (
                        f"baseline_{backend}",
                        f"baseline: fills by {'COPY' if backend == 'postgres' else 'executemany'}",
                    ),
                ):
                    if key not in size:
                        continue
                    step = size[key]
                    lines.append(
                        f"| {members} | {label} | {step['runs']} | {step['seconds']:.1f} s | "
                        f"{step['rows']:,} | {step['rows_per_second']:,.0f} | "
                        f"{step['peak_rss_mib']:,.0f} MiB |"
                    )
                if f"ratio_{backend}" in size:
                    ratios.append(
                        f"| {members} | {backend} | {size[f'ratio_{backend}']:.2f} | "
                        f"{size[f'paired_ratio_{backend}']:.2f} |"
                    )
    lines += [
        "",
        "Import ÷ baseline (rows/s of the whole package import ÷ rows/s of the plain bulk write of",
        "its fills into an empty table with `fill`'s columns and indexes, no foreign keys):",
        "",
        "| Members | Store | Ratio of medians | Median of per-run ratios |",
        "|---|---|---|---|",
        *ratios,
        "",
    ]
    return "\n".join(lines) + "\n"


def write_section(doc: Path, section: str) -> None:
    """Replace (or append) this benchmark's section, leaving every other section as it is."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else DOC_HEADER
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        following = text.find("\n## ", start + len(SECTION))
        end = len(text) if following < 0 else following + 1
        text = text[:start] + section + ("\n" + text[end:] if following >= 0 else "")
    doc.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--parquet-import-max", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--render", type=Path, nargs="+", default=None, help="result JSON files to render")
    parser.add_argument("--notes", type=Path, default=None, help="markdown appended to the rendered section")
    parser.add_argument("--doc", type=Path, default=None, help="write the rendered section into this file")
    args = parser.parse_args()
    if args.render:
        section = render_section([json.loads(path.read_text()) for path in args.render])
        if args.notes:
            section += "\n" + args.notes.read_text(encoding="utf-8")
        if args.doc:
            write_section(args.doc, section)
        print(section)
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="synth_import_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"machine": describe_machine(), "sizes": []}
    try:
        for members in args.members:
            report["sizes"].append(measure_size(members, args, work))
            if args.json:
                args.json.write_text(json.dumps(report, indent=2) + "\n")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
