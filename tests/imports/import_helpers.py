"""Helpers for the import tests: editing package copies, probing the store."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, func, select

from openvbc.store.tables import POPULATION_TABLES, load_ledger

PACKAGE = Path(__file__).parents[1] / "data" / "imports" / "package"
TODAY = date(2024, 6, 30)  # "today" for every import test; the package's dates are all before it


def edit_file(path: Path, old: str, new: str) -> None:
    """Replace exactly one occurrence of ``old`` (so a typo in a test cannot pass silently)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def count_rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        counts = {
            table.name: int(connection.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (*POPULATION_TABLES, load_ledger)
        }
    return counts


def hash_store(engine: Engine) -> str:
    """SHA-256 over every population table's rows in primary-key order (surrogate ids included)."""
    digest = hashlib.sha256()
    with engine.connect() as connection:
        for table in POPULATION_TABLES:
            order = list(table.primary_key.columns)
            for row in connection.execute(select(table).order_by(*order)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()
