"""A per-chunk collector of package rows: each generator module adds column dicts per file."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openvbc.synth.arrays import IntArray, format_sequence_keys, rank_within
from openvbc.synth.writer import build_table

HOUR = 3600  # seconds


class ChunkTables:
    """Column dicts per package file, concatenated into one Arrow table per file at the end."""

    def __init__(self) -> None:
        self.parts: dict[str, list[pa.Table]] = {}

    def add(self, name: str, columns: dict[str, Any]) -> None:
        table = build_table(name, columns)
        if table.num_rows:
            self.parts.setdefault(name, []).append(table)

    def add_table(self, name: str, table: pa.Table) -> None:
        if table.num_rows:
            self.parts.setdefault(name, []).append(table)

    def table(self, name: str) -> pa.Table | None:
        parts = self.parts.get(name)
        if not parts:
            return None
        return pa.concat_tables(parts) if len(parts) > 1 else parts[0]


def event_keys(prefix: str, member_numbers: IntArray, tag: str, owner: IntArray) -> pa.Array:
    """Keys like ``E000000123-V002``: member number, a record tag and a 1-based sequence per member.

    ``owner`` must be sorted; the sequence restarts for every member, so keys do not depend on
    how members are split into chunks.
    """

    return format_sequence_keys(prefix, member_numbers[owner], tag, rank_within(owner) + 1)


def seconds(epoch_day: IntArray, second_of_day: IntArray | int) -> IntArray:
    """Unix seconds from epoch days and seconds into the day."""
    return np.asarray(epoch_day, dtype=np.int64) * 86_400 + np.asarray(second_of_day, dtype=np.int64)


def drop_member_rows(
    tables: ChunkTables, name: str, member_keys: list[str], codes: list[str] | None = None
) -> None:
    """Remove rows of ``member_keys`` from one file (only rows with a code in ``codes`` if given)."""

    keys = pa.array(member_keys, pa.string())
    kept = []
    for part in tables.parts.get(name, []):
        mask = pc.is_in(part.column("member_key"), value_set=keys)
        if codes is not None:
            mask = pc.and_(mask, pc.is_in(part.column("code"), value_set=pa.array(codes, pa.string())))
        kept.append(part.filter(pc.invert(pc.fill_null(mask, False))))
    tables.parts[name] = kept
