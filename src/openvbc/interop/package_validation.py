"""Validate and type the rows of one plan data package file (pure: no SQL, no clock).

Input: the package columns as strings (see ``package_reader``). Output: the typed columns of
the target store table (without surrogate ids, with ``member_key``/``claim_key``/
``encounter_key`` kept for the loader to resolve) and every problem found, each naming file,
line and field. Checks run column-wise with pyarrow.compute and numpy, so a file of millions
of rows costs a few vector passes; Python loops only touch the rows that fail, to word their
messages. The rules live by concern: ``column_rules`` (what each column must be), ``field_parsing``
(typing one column), ``identifiers`` (NPI, NDC), ``observation_units`` (units, plausible values,
BP panels, smoking status), ``row_issues`` (how problems are collected); this module runs them
over one file and checks across columns and rows. docs/plan-data-package.md lists every rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openvbc.domain.errors import InputIssue
from openvbc.interop.code_lists import (
    ADT_TRIGGERS,
    CLAIM_TYPES,
    FALSE_WORDS,
    LINES_OF_BUSINESS,
    MTM_KINDS,
    PATIENT_STATUSES,
    PROCEDURE_KINDS,
    PROVIDER_KINDS,
    SETTINGS,
    SEX,
    SOURCES,
    TRUE_WORDS,
)
from openvbc.interop.column_rules import ORDERED_PAIRS, RULES, FieldRule
from openvbc.interop.field_parsing import describe_bad_date, parse_column
from openvbc.interop.identifiers import load_ndc_reference, normalize_ndcs, validate_npis
from openvbc.interop.observation_units import convert_observations
from openvbc.interop.plan_package import PackageFile
from openvbc.interop.row_issues import MAX_MESSAGES_PER_CHECK, IssueCollector, as_mask

LINE_COLUMN = "__line__"  # optional int column: source line of each row (FHIR input)
SOURCE_COLUMN = "__source__"  # optional string column: source file of each row (FHIR input)

# Names other modules and tests import from here, from before the rules were split by concern.
__all__ = [
    "ADT_TRIGGERS",
    "CLAIM_TYPES",
    "FALSE_WORDS",
    "LINES_OF_BUSINESS",
    "LINE_COLUMN",
    "MAX_MESSAGES_PER_CHECK",
    "MTM_KINDS",
    "ORDERED_PAIRS",
    "PATIENT_STATUSES",
    "PROCEDURE_KINDS",
    "PROVIDER_KINDS",
    "RULES",
    "SETTINGS",
    "SEX",
    "SOURCES",
    "SOURCE_COLUMN",
    "TRUE_WORDS",
    "FieldRule",
    "ValidatedTable",
    "convert_observations",
    "describe_bad_date",
    "load_ndc_reference",
    "normalize_ndcs",
    "validate_npis",
    "validate_package_table",
]


@dataclass
class ValidatedTable:
    """Typed rows of one file plus every problem found in them."""

    spec: PackageFile
    data: pa.Table
    issues: list[InputIssue] = field(default_factory=list)
    bad_rows: list[int] = field(default_factory=list)
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    labels: list[str] | None = None  # per-row source file, when rows come from several files
    file_label: str = ""
    unverified_ndcs: int = 0

    def line_of(self, row: int) -> int:
        return int(self.lines[row])

    def label_of(self, row: int) -> str:
        return self.labels[row] if self.labels is not None else self.file_label


def validate_package_table(
    spec: PackageFile,
    table: pa.Table,
    *,
    file_label: str,
    first_line: int = 2,
    today: date,
    birth_dates: Mapping[str, date] | pa.Table | None = None,
    ndc_reference: pa.Table | None = None,
) -> ValidatedTable:
    """Check and type every row of one package file; never raises for data problems.

    ``birth_dates`` maps member_key to birth date (from the same package or the store) for the
    "not before birth" rule: a mapping, or a table of (member_key, birth_date) columns.
    ``ndc_reference`` defaults to the shipped rules/drugs reference.
    """
    table = table.combine_chunks()
    lines, labels = _row_positions(table, first_line)
    out = IssueCollector(table, file_label, lines, labels)
    rules = RULES.get(spec.name, {})
    typed: dict[str, pa.Array] = {}
    for column in spec.columns:
        raw = _text(table, column)
        if column in spec.required:
            out.add(as_mask(pc.is_null(raw)), column, lambda _row: "is required")
        rule = rules.get(column, FieldRule())
        if rule.default is not None:
            raw = pc.fill_null(raw, rule.default)
        typed[column] = parse_column(out, column, raw, rule)
    # FHIR input carries every coding of a coded fact in an extra column the package lacks.
    if "additional_codes" in table.column_names and "additional_codes" not in spec.columns:
        typed["additional_codes"] = _text(table, "additional_codes")
    _check_dates(out, spec, typed, rules, today, birth_dates)
    _check_duplicate_keys(out, spec, table)
    data, unverified = _assemble(out, spec, table, typed, ndc_reference)
    bad_rows = np.flatnonzero(out.bad).tolist()
    return ValidatedTable(spec, data, out.issues, bad_rows, lines, labels, file_label, unverified)


def _row_positions(table: pa.Table, first_line: int) -> tuple[np.ndarray, list[str] | None]:
    if LINE_COLUMN in table.column_names:
        lines = pc.cast(table.column(LINE_COLUMN), pa.int64()).to_numpy(zero_copy_only=False)
    else:
        lines = np.arange(first_line, first_line + table.num_rows, dtype=np.int64)
    labels = table.column(SOURCE_COLUMN).to_pylist() if SOURCE_COLUMN in table.column_names else None
    return lines, labels


def _text(table: pa.Table, column: str) -> pa.Array:
    if column not in table.column_names:
        return pa.nulls(table.num_rows, pa.string())
    return pc.cast(table.column(column), pa.string()).combine_chunks()


# --- dates across columns and rows -----------------------------------------------------------


def _check_dates(
    out: IssueCollector,
    spec: PackageFile,
    typed: dict[str, pa.Array],
    rules: Mapping[str, FieldRule],
    today: date,
    birth_dates: Mapping[str, date] | pa.Table | None,
) -> None:
    births = _lookup_births(typed, spec, birth_dates)
    for column, rule in rules.items():
        if not rule.service:
            continue
        day = pc.cast(typed[column], pa.date32()) if rule.kind == "datetime" else typed[column]
        future = pc.greater(day, pa.scalar(today, pa.date32()))
        out.add(as_mask(future), column, _explain_future(out, column, today))
        if births is not None and column != "birth_date":
            out.add(as_mask(pc.less(day, births)), column, _explain_before_birth(out, column, births))
    for earlier, later in ORDERED_PAIRS.get(spec.name, ()):
        first = pc.cast(typed[earlier], pa.timestamp("us"))
        second = pc.cast(typed[later], pa.timestamp("us"))
        out.add(as_mask(pc.less(second, first)), later, _explain_order(out, earlier, later))


def _explain_future(out: IssueCollector, column: str, today: date) -> Callable[[int], str]:
    return lambda row: f"{out.cell(column, row)} is after today ({today})"


def _explain_before_birth(out: IssueCollector, column: str, births: pa.Array) -> Callable[[int], str]:
    return lambda row: f"{out.cell(column, row)} is before the member's birth date ({births[row].as_py()})"


def _explain_order(out: IssueCollector, earlier: str, later: str) -> Callable[[int], str]:
    return lambda row: f"{out.cell(later, row)} is before {earlier} {out.cell(earlier, row)}"


def _lookup_births(
    typed: Mapping[str, pa.Array], spec: PackageFile, birth_dates: Mapping[str, date] | pa.Table | None
) -> pa.Array | None:
    if spec.name == "members":
        return typed["birth_date"]
    if birth_dates is None or "member_key" not in typed:
        return None
    if isinstance(birth_dates, pa.Table):
        # (member_key, birth_date) columns; the first row of a key wins.
        keys, values = birth_dates.column(0).combine_chunks(), birth_dates.column(1).combine_chunks()
    else:
        if not birth_dates:
            return None
        keys = pa.array(list(birth_dates.keys()), pa.string())
        values = pa.array(list(birth_dates.values()), pa.date32())
    return values.take(pc.index_in(typed["member_key"], value_set=keys))


def _check_duplicate_keys(out: IssueCollector, spec: PackageFile, table: pa.Table) -> None:
    names = spec.key.split("+")
    key = (
        _text(table, names[0])
        if len(names) == 1
        else pc.binary_join_element_wise(*[_text(table, n) for n in names], "\x1f")
    )
    counts = pa.table({"k": key}).group_by("k").aggregate([("k", "count")])
    doubled = counts.filter(pc.greater(counts.column("k_count"), 1)).column("k")
    if len(doubled) == 0:
        return
    mask = as_mask(pc.is_in(key, value_set=doubled.combine_chunks()))
    seen: dict[str, list[int]] = {}
    for row in np.flatnonzero(mask).tolist():
        seen.setdefault(key[row].as_py(), []).append(int(out.lines[row]))
    shown = "+".join(names)

    def explain(row: int) -> str:
        value = key[row].as_py()
        others = [line for line in seen[value] if line != out.lines[row]]
        shown_value = value.replace(chr(31), "+")
        return f"duplicate {shown} {shown_value!r}: also on line(s) {', '.join(map(str, others))}"

    out.add(mask, shown, explain)


# --- assembling the store-shaped table -------------------------------------------------------


def _assemble(
    out: IssueCollector,
    spec: PackageFile,
    table: pa.Table,
    typed: dict[str, pa.Array],
    ndc_reference: pa.Table | None,
) -> tuple[pa.Table, int]:
    columns = dict(typed)
    unverified = 0
    if spec.name == "fills":
        reference = ndc_reference if ndc_reference is not None else load_ndc_reference()
        columns["ndc11"] = columns.pop("ndc")
        unverified = _fill_from_reference(columns, reference)
    if spec.name == "observations":
        columns = convert_observations(out, table, columns)
    return pa.table(columns), unverified


def _fill_from_reference(columns: dict[str, pa.Array], reference: pa.Table | None) -> int:
    ndc11 = columns["ndc11"]
    known = 0
    if reference is not None and reference.num_rows:
        position = pc.index_in(ndc11, value_set=reference.column("ndc11").combine_chunks())
        for name in ("ingredient", "drug_class"):
            looked_up = reference.column(name).combine_chunks().take(position)
            columns[name] = pc.coalesce(columns[name], looked_up)
        known = pc.sum(pc.is_valid(position)).as_py() or 0
    return int(pc.sum(pc.is_valid(ndc11)).as_py() or 0) - int(known)
