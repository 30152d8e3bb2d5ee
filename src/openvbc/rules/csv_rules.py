"""CSV rule files: exact headers and typed rows, every problem reported with its line and column."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from openvbc.domain.errors import InputIssue

VALUE_SET_HEADER = ["system", "code", "display"]
NDC_REFERENCE_HEADER = [
    "ndc11",
    "ingredient",
    "rxnorm_ingredient",
    "drug_class",
    "strength",
    "dose_form",
    "is_maintenance",
    "source",
]
_NDC11 = re.compile(r"^\d{11}$")
_RXCUI = re.compile(r"^\d+$")


@dataclass(frozen=True)
class CsvSummary:
    """What a valid CSV rule file holds (for listing)."""

    rows: int
    keys: frozenset[str]


def _read(
    text: str, file: str, header: list[str]
) -> tuple[list[tuple[int, dict[str, str]]], list[InputIssue]]:
    reader = csv.reader(io.StringIO(text))
    try:
        found = next(reader)
    except StopIteration:
        return [], [InputIssue(file, 1, None, f"empty file; expected header {','.join(header)}")]
    if found != header:
        message = f"header is {','.join(found)!r}; expected exactly {','.join(header)!r}"
        return [], [InputIssue(file, 1, None, message)]
    rows = []
    issues = []
    for row in reader:
        line = reader.line_num
        if not row:
            continue
        if len(row) != len(header):
            issues.append(InputIssue(file, line, None, f"{len(row)} columns; expected {len(header)}"))
            continue
        rows.append((line, dict(zip(header, row, strict=True))))
    return rows, issues


def validate_value_set_csv(text: str, file: str) -> tuple[CsvSummary, list[InputIssue]]:
    """``valuesets/<oid>.csv``: system and code required, no (system, code) twice."""
    rows, issues = _read(text, file, VALUE_SET_HEADER)
    seen: set[tuple[str, str]] = set()
    for line, row in rows:
        for column in ("system", "code"):
            if not row[column].strip():
                issues.append(InputIssue(file, line, column, "must not be empty"))
        pair = (row["system"], row["code"])
        if pair in seen:
            issues.append(InputIssue(file, line, "code", f"{pair[0]} {pair[1]} is listed twice"))
        seen.add(pair)
    return CsvSummary(rows=len(rows), keys=frozenset(f"{s}|{c}" for s, c in seen)), issues


def validate_ndc_reference_csv(
    text: str, file: str, known_classes: set[str] | None = None
) -> tuple[CsvSummary, list[InputIssue]]:
    """``drugs/ndc_reference.csv``: 11-digit unique NDCs, aligned ingredient/RxCUI lists, known classes."""
    rows, issues = _read(text, file, NDC_REFERENCE_HEADER)
    seen: set[str] = set()
    checks: list[tuple[str, Callable[[str], bool], str]] = [
        ("ndc11", lambda v: bool(_NDC11.match(v)), "must be 11 digits (5-4-2 without hyphens)"),
        (
            "ingredient",
            lambda v: all(p.strip() for p in v.split("|")),
            "must list ingredients separated by |",
        ),
        ("rxnorm_ingredient", lambda v: all(_RXCUI.match(p) for p in v.split("|")), "must be numeric RxCUIs"),
        ("is_maintenance", lambda v: v in ("true", "false"), "must be true or false"),
        ("source", lambda v: bool(v.strip()), "must name the source (synthetic, fda-ndc-directory ...)"),
        ("dose_form", lambda v: bool(v.strip()), "must not be empty"),
    ]
    for line, row in rows:
        for column, is_valid, message in checks:
            if not is_valid(row[column]):
                issues.append(InputIssue(file, line, column, f"{row[column]!r} {message}"))
        if len(row["ingredient"].split("|")) != len(row["rxnorm_ingredient"].split("|")):
            issues.append(InputIssue(file, line, "rxnorm_ingredient", "needs one RxCUI per ingredient"))
        for drug_class in row["drug_class"].split("|"):
            if known_classes is not None and drug_class not in known_classes:
                issues.append(InputIssue(file, line, "drug_class", f"unknown drug class {drug_class!r}"))
        if row["ndc11"] in seen:
            issues.append(InputIssue(file, line, "ndc11", f"{row['ndc11']} is listed twice"))
        seen.add(row["ndc11"])
    return CsvSummary(rows=len(rows), keys=frozenset(seen)), issues
