"""What the population engine reads and writes.

Input: the canonical tables (names and columns as in ``openvbc.store.tables``, with the
dense integer ``*_id`` keys) as Ibis table expressions on any backend.

Output of every measure: one row per (measure, group, member) with the population flags
and the evidence that explains them (DESIGN.md decision 5). Payments, worklists, the
registry and the web app read only these columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# name -> Ibis table expression (typed as Any: Ibis has no stable public table type alias)
CanonicalTables = Mapping[str, Any]

MEMBER_RESULT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("measure_id", "string"),
    ("group_id", "string"),
    ("member_id", "int64"),
    ("initial_population", "boolean"),
    ("denominator", "boolean"),
    ("denominator_exclusion", "boolean"),
    ("denominator_exception", "boolean"),
    ("numerator", "boolean"),
    ("numerator_exclusion", "boolean"),
    # the fact that decided the numerator (or its absence): date, value and where it came from
    ("evidence_date", "date"),
    ("evidence_value", "string"),  # e.g. "132/84 mmHg", "HbA1c 9.4 %", "PDC 0.812"
    ("evidence_source", "string"),  # e.g. "observation:123", "fill:456", "none"
    ("reason", "string"),  # one human sentence: why in / out of each population
    ("rule_file", "string"),  # e.g. "measures/CMS165/2025.yaml"
    ("rule_version", "string"),
)

MEMBER_RESULT_COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in MEMBER_RESULT_COLUMNS)
