"""Issues found in the rows of one package file, collected check by check.

Each check hands a boolean mask of failing rows and a function that words the message for one
row; only failing rows are worded (at most ``MAX_MESSAGES_PER_CHECK`` per check, then one
summary), so checking millions of valid rows costs vector passes only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openvbc.domain.errors import InputIssue

MAX_MESSAGES_PER_CHECK = 10_000  # past this, one summary issue per check keeps reports readable


class IssueCollector:
    """Accumulates failing rows per check and words their messages."""

    def __init__(self, table: pa.Table, file_label: str, lines: np.ndarray, labels: list[str] | None) -> None:
        self.table = table
        self.file_label = file_label
        self.lines = lines
        self.labels = labels
        self.issues: list[InputIssue] = []
        self.bad = np.zeros(table.num_rows, dtype=bool)

    def add(self, mask: np.ndarray, column: str, explain: Callable[[int], str]) -> None:
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        self.bad[rows] = True
        for row in rows[:MAX_MESSAGES_PER_CHECK].tolist():
            label = self.labels[row] if self.labels is not None else self.file_label
            self.issues.append(InputIssue(label, int(self.lines[row]), column, explain(row)))
        if rows.size > MAX_MESSAGES_PER_CHECK:
            more = rows.size - MAX_MESSAGES_PER_CHECK
            self.issues.append(
                InputIssue(self.file_label, None, column, f"... and {more} more rows fail this check")
            )

    def cell(self, column: str, row: int) -> str | None:
        value = self.table.column(column)[row].as_py()
        return None if value is None else str(value)


def as_mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numpy boolean mask from an Arrow boolean column (null counts as False)."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def matches(raw: pa.Array, pattern: str) -> pa.Array:
    return pc.match_substring_regex(raw, pattern)
