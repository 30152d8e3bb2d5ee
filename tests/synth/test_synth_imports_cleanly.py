"""The generator's output is a valid plan data package: the importer accepts every row of it.

A plan of 3,000 members (three chunks, so chunk boundaries are crossed) is generated as CSV
and as Parquet with the same seed, then imported into SQLite and PostgreSQL with "today" set
to 1 January of the following year, the earliest day a plan could send a whole year's extract
(so any row dated after the plan year, or before a member's birth, is caught). Expectations
come from the generator's own manifest: every file's row count must arrive in its table.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from openvbc.domain.errors import InvalidInput
from openvbc.interop.plan_package import PACKAGE_FILES
from openvbc.services.imports import ImportReport, import_path
from openvbc.store.tables import POPULATION_TABLES, claim_diagnosis, load_ledger
from openvbc.synth.generator import PlanManifest, generate_plan

MEMBERS = 3_000
CHUNK = 1_000
SEED = 31
YEAR = 2024
TODAY = date(YEAR + 1, 1, 1)
TABLE_OF = {spec.name: spec.table for spec in PACKAGE_FILES}


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, PlanManifest]]:
    """The same plan written as CSV and as Parquet."""
    made = {}
    for fmt in ("csv", "parquet"):
        folder = tmp_path_factory.mktemp(f"plan_{fmt}")
        made[fmt] = (folder, generate_plan(folder, MEMBERS, seed=SEED, year=YEAR, fmt=fmt, chunk_size=CHUNK))
    return made


def import_cleanly(engine: Engine, path: Path, *, check_only: bool) -> ImportReport:
    """Import, turning a rejection into a test failure that shows the first issues."""
    try:
        return import_path(engine, path, check_only=check_only, today=TODAY)
    except InvalidInput as error:
        shown = "\n".join(str(issue) for issue in error.issues[:40])
        pytest.fail(f"{len(error.issues)} issue(s) in generated data, first ones:\n{shown}")


def expected_rows(manifest: PlanManifest) -> dict[str, int]:
    """Rows per store table, from the manifest's rows per file."""
    return {TABLE_OF[name.rsplit(".", 1)[0]]: rows for name, rows in manifest.files.items()}


def count_tables(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: int(connection.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (*POPULATION_TABLES, load_ledger)
        }


def hash_store(engine: Engine) -> str:
    """SHA-256 over every population table's rows in primary-key order (surrogate ids included)."""
    digest = hashlib.sha256()
    with engine.connect() as connection:
        for table in POPULATION_TABLES:
            for row in connection.execute(select(table).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_check_finds_no_issue_and_writes_nothing(
    sqlite_engine: Engine, plans: dict[str, tuple[Path, PlanManifest]], fmt: str
) -> None:
    folder, manifest = plans[fmt]
    report = import_cleanly(sqlite_engine, folder, check_only=True)
    assert {item.file: item.rows for item in report.files} == manifest.files
    assert {item.status for item in report.files} == {"checked"}
    assert all(item.inserted == item.rows for item in report.files)
    assert set(count_tables(sqlite_engine).values()) == {0}


def test_import_loads_every_row_and_reimports_change_nothing(
    store_engine: Engine, plans: dict[str, tuple[Path, PlanManifest]]
) -> None:
    csv_folder, manifest = plans["csv"]
    report = import_cleanly(store_engine, csv_folder, check_only=False)
    assert {item.file: item.inserted for item in report.files} == manifest.files
    counts = count_tables(store_engine)
    assert {name: counts[name] for name in expected_rows(manifest)} == expected_rows(manifest)
    assert counts["load_ledger"] == len(PACKAGE_FILES)
    with store_engine.connect() as connection:
        diagnoses = connection.execute(select(func.count()).select_from(claim_diagnosis)).scalar_one()
    assert diagnoses >= counts["medical_claim"]  # every generated claim carries a principal diagnosis
    before = hash_store(store_engine)

    # The same files again: recognised by checksum in the ledger and not read.
    again = import_cleanly(store_engine, csv_folder, check_only=False)
    assert {item.status for item in again.files} == {"already loaded"}

    # The same plan as Parquet: other bytes, same rows, so every row matches by natural key.
    parquet = import_cleanly(store_engine, plans["parquet"][0], check_only=False)
    assert {item.status for item in parquet.files} == {"loaded"}
    assert all(item.inserted == item.updated == 0 for item in parquet.files)
    assert {item.file.replace(".parquet", ".csv"): item.unchanged for item in parquet.files} == manifest.files
    assert hash_store(store_engine) == before
    assert count_tables(store_engine) == {**counts, "load_ledger": 2 * len(PACKAGE_FILES)}
