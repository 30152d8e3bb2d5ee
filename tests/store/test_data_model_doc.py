"""docs/data-model.md must describe every column of the canonical model."""

from __future__ import annotations

import re
from pathlib import Path

from openvbc.store.tables import metadata

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-model.md"


def test_every_column_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    words = set(re.findall(r"[a-z_0-9]+", text))
    missing = [
        f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        if column.name not in words
    ]
    assert missing == []


def test_every_table_has_a_section() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [table.name for table in metadata.sorted_tables if table.name not in text]
    assert missing == []
