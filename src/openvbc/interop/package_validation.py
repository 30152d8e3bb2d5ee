"""Validate and type the rows of one plan data package file (pure: no SQL, no clock).

Input: the package columns as strings (see ``package_reader``). Output: the typed columns of
the target store table (without surrogate ids, with ``member_key``/``claim_key``/
``encounter_key`` kept for the loader to resolve) and every problem found, each naming file,
line and field. Checks run column-wise with pyarrow.compute and numpy, so a file of millions
of rows costs a few vector passes; Python loops only touch the rows that fail, to word their
messages. Clinical rules (units, plausible ranges, smoking-status answers) are at the end of this
module with their sources; docs/plan-data-package.md lists every rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from openvbc.domain.errors import InputIssue
from openvbc.interop.plan_package import PackageFile

LINE_COLUMN = "__line__"  # optional int column: source line of each row (FHIR input)
SOURCE_COLUMN = "__source__"  # optional string column: source file of each row (FHIR input)
MAX_MESSAGES_PER_CHECK = 10_000  # past this, one summary issue per check keeps reports readable

# --- code sets (DESIGN: enums mirrored from the comments in openvbc.store.tables) -------------
SEX = frozenset({"F", "M", "U"})
PROVIDER_KINDS = frozenset({"pharmacy", "practice", "clinician", "hospital", "plan"})
# "unknown": clinical (FHIR/EHR) sources that carry no Coverage; no program pays on it.
LINES_OF_BUSINESS = frozenset({"commercial", "medicare", "medicaid", "exchange", "unknown"})
SETTINGS = frozenset({"ambulatory", "ed", "inpatient", "observation", "snf", "home", "virtual"})
CLAIM_TYPES = frozenset({"professional", "institutional"})
MTM_KINDS = frozenset({"CMR", "TMR", "FOLLOWUP"})
PATIENT_STATUSES = frozenset({"new", "established"})
PROCEDURE_KINDS = frozenset({"performed", "ordered", "not-done"})
SOURCES = frozenset({"claim", "ehr", "pharmacist", "patient", "device"})
# ADT triggers the worklists act on (HL7 v2.5.1 table 0003 events A01-A13, A40 merge).
ADT_TRIGGERS = frozenset({"A01", "A02", "A03", "A04", "A08", "A11", "A13", "A40"})
TRUE_WORDS = frozenset({"true", "1", "y", "yes"})
FALSE_WORDS = frozenset({"false", "0", "n", "no"})

_DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
_DATETIME_RE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?$"
_INT_RE = r"^[+-]?\d{1,15}$"
_NUMBER_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_MONEY_RE = r"^-?\d{1,12}(\.\d{1,2})?$"


@dataclass(frozen=True)
class FieldRule:
    """How one package column is parsed and checked."""

    kind: str = "text"  # text | code | date | datetime | int | float | money | npi | ndc | bool
    choices: frozenset[str] | None = None
    low: float | None = None
    high: float | None = None
    low_exclusive: bool = False
    service: bool = False  # a date of care: not after today, not before the member's birth
    default: str | None = None  # store default when the optional cell is empty


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


_NPI = FieldRule("npi")
_SERVICE_DATE = FieldRule("date", service=True)
_SERVICE_TIME = FieldRule("datetime", service=True)
_MONEY = FieldRule("money")
_SOURCE = FieldRule("code", SOURCES)

RULES: dict[str, dict[str, FieldRule]] = {
    "providers": {"npi": _NPI, "kind": FieldRule("code", PROVIDER_KINDS), "parent_npi": _NPI},
    "members": {
        "birth_date": FieldRule("date", service=True),
        "death_date": FieldRule("date", service=True),
        "sex": FieldRule("code", SEX),
        "line_of_business": FieldRule("code", LINES_OF_BUSINESS),
        "pcp_npi": _NPI,
    },
    "coverage": {
        "line_of_business": FieldRule("code", LINES_OF_BUSINESS),
        "start_date": FieldRule("date"),
        "end_date": FieldRule("date"),
        "rx_benefit": FieldRule("bool", default="true"),
    },
    "fills": {
        "ndc": FieldRule("ndc"),
        "fill_date": _SERVICE_DATE,
        "days_supply": FieldRule("int", low=1, high=365),
        "quantity": FieldRule("float", low=0, low_exclusive=True),
        "pharmacy_npi": _NPI,
        "prescriber_npi": _NPI,
        "allowed_amount": _MONEY,
        "paid_amount": _MONEY,
    },
    "claims": {
        "claim_type": FieldRule("code", CLAIM_TYPES),
        "billing_npi": _NPI,
        "from_date": _SERVICE_DATE,
        "to_date": _SERVICE_DATE,
        "allowed_amount": _MONEY,
        "paid_amount": _MONEY,
    },
    "claim_lines": {
        "line_number": FieldRule("int", low=1, high=9999),
        "service_date": _SERVICE_DATE,
        "units": FieldRule("float", low=0, low_exclusive=True, default="1"),
        "rendering_npi": _NPI,
        "allowed_amount": _MONEY,
    },
    "conditions": {
        "onset_date": _SERVICE_DATE,
        "abatement_date": _SERVICE_DATE,
        "recorded_date": _SERVICE_DATE,
        "source": _SOURCE,
    },
    "encounters": {
        "setting": FieldRule("code", SETTINGS),
        "status": FieldRule(default="finished"),
        "start_at": _SERVICE_TIME,
        "end_at": _SERVICE_TIME,
        "provider_npi": _NPI,
        "facility_npi": _NPI,
        "source": FieldRule("code", SOURCES, default="ehr"),
    },
    "observations": {
        "status": FieldRule(default="final"),
        "effective_at": _SERVICE_TIME,
        "effective_end": _SERVICE_TIME,
        "setting": FieldRule("code", SETTINGS),
        "source": _SOURCE,
    },
    "procedures": {
        "kind": FieldRule("code", PROCEDURE_KINDS, default="performed"),
        "status": FieldRule(default="completed"),
        "performed_start": _SERVICE_TIME,
        "performed_end": _SERVICE_TIME,
        "source": FieldRule("code", SOURCES, default="ehr"),
    },
    "medication_orders": {
        "intent": FieldRule(default="order"),
        "authored_at": _SERVICE_TIME,
        "start_date": FieldRule("date"),
        "end_date": FieldRule("date"),
        "prescriber_npi": _NPI,
        "source": FieldRule("code", SOURCES, default="ehr"),
    },
    "mtm_encounters": {
        "pharmacist_npi": _NPI,
        "pharmacy_npi": _NPI,
        "service_date": _SERVICE_DATE,
        "kind": FieldRule("code", MTM_KINDS),
        "minutes": FieldRule("int", low=1, high=1440),
        "patient_status": FieldRule("code", PATIENT_STATUSES),
        "start_at": _SERVICE_TIME,
        "end_at": _SERVICE_TIME,
    },
    "adt_events": {
        "trigger": FieldRule("code", ADT_TRIGGERS),
        "event_at": _SERVICE_TIME,
        "admit_at": _SERVICE_TIME,
        "discharge_at": _SERVICE_TIME,
        "facility_npi": _NPI,
    },
}

# Pairs (earlier, later) that must be in order within a row.
ORDERED_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "members": (("birth_date", "death_date"),),
    "coverage": (("start_date", "end_date"),),
    "claims": (("from_date", "to_date"),),
    "encounters": (("start_at", "end_at"),),
    "observations": (("effective_at", "effective_end"),),
    "procedures": (("performed_start", "performed_end"),),
    "medication_orders": (("start_date", "end_date"),),
    "mtm_encounters": (("start_at", "end_at"),),
    "adt_events": (("admit_at", "discharge_at"),),
    "conditions": (("onset_date", "abatement_date"),),
}


class _Collector:
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


def validate_package_table(
    spec: PackageFile,
    table: pa.Table,
    *,
    file_label: str,
    first_line: int = 2,
    today: date,
    birth_dates: Mapping[str, date] | None = None,
    ndc_reference: pa.Table | None = None,
) -> ValidatedTable:
    """Check and type every row of one package file; never raises for data problems.

    ``birth_dates`` maps member_key to birth date (from the same package or the store) for the
    "not before birth" rule. ``ndc_reference`` defaults to the shipped rules/drugs reference.
    """
    table = table.combine_chunks()
    lines, labels = _row_positions(table, first_line)
    out = _Collector(table, file_label, lines, labels)
    rules = RULES.get(spec.name, {})
    typed: dict[str, pa.Array] = {}
    for column in spec.columns:
        raw = _text(table, column)
        if column in spec.required:
            out.add(_mask(pc.is_null(raw)), column, lambda _row: "is required")
        rule = rules.get(column, FieldRule())
        if rule.default is not None:
            raw = pc.fill_null(raw, rule.default)
        typed[column] = _parse_column(out, column, raw, rule)
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


def _mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _matches(raw: pa.Array, pattern: str) -> pa.Array:
    return pc.match_substring_regex(raw, pattern)


def _parse_column(out: _Collector, column: str, raw: pa.Array, rule: FieldRule) -> pa.Array:
    present = pc.is_valid(raw)
    if rule.kind == "code" and rule.choices is not None:
        listed = ", ".join(sorted(rule.choices))
        bad = pc.and_(present, pc.invert(pc.is_in(raw, pa.array(sorted(rule.choices)))))
        out.add(_mask(bad), column, lambda row: f"{out.cell(column, row)!r} is not one of: {listed}")
        return raw
    if rule.kind == "date":
        return _parse_dates(out, column, raw)
    if rule.kind == "datetime":
        return _parse_datetimes(out, column, raw)
    if rule.kind in {"int", "float", "money"}:
        return _parse_number(out, column, raw, rule)
    if rule.kind == "npi":
        bad = pc.and_(present, pc.invert(pa.array(validate_npis(raw))))
        out.add(_mask(bad), column, lambda row: _explain_npi(out.cell(column, row) or ""))
        return raw
    if rule.kind == "ndc":
        ndc11, problems = normalize_ndcs(raw)
        out.add(problems != "", column, lambda row: str(problems[row]))
        return ndc11
    if rule.kind == "bool":
        lowered = pc.utf8_lower(raw)
        truthy = pc.is_in(lowered, pa.array(sorted(TRUE_WORDS)))
        falsy = pc.is_in(lowered, pa.array(sorted(FALSE_WORDS)))
        bad = pc.and_(present, pc.invert(pc.or_(truthy, falsy)))
        out.add(_mask(bad), column, lambda row: f"{out.cell(column, row)!r} is not true or false")
        return pc.if_else(present, truthy, pa.scalar(None, pa.bool_()))
    return raw


def _parse_dates(out: _Collector, column: str, raw: pa.Array) -> pa.Array:
    shaped = _matches(raw, _DATE_RE)
    candidate = pc.if_else(shaped, raw, pa.scalar(None, pa.string()))
    parsed = pc.strptime(candidate, format="%Y-%m-%d", unit="s", error_is_null=True)
    # strptime rolls 2024-02-30 over into March; a round trip catches impossible days.
    exact = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), candidate)
    bad = pc.and_(pc.is_valid(raw), pc.invert(pc.fill_null(exact, False)))
    out.add(_mask(bad), column, lambda row: describe_bad_date(out.cell(column, row) or "", with_time=False))
    return pc.cast(pc.if_else(exact, parsed, pa.scalar(None, parsed.type)), pa.date32())


def _parse_datetimes(out: _Collector, column: str, raw: pa.Array) -> pa.Array:
    shaped = _matches(raw, _DATETIME_RE)
    candidate = pc.if_else(shaped, raw, pa.scalar(None, pa.string()))
    length = pc.utf8_length(candidate)
    # Complete the accepted short forms to YYYY-MM-DDTHH:MM:SS; fractions of a second are dropped.
    full = pc.if_else(
        pc.equal(length, 10),
        pc.binary_join_element_wise(candidate, "T00:00:00", ""),
        pc.if_else(
            pc.equal(length, 16),
            pc.binary_join_element_wise(candidate, ":00", ""),
            pc.utf8_slice_codeunits(candidate, 0, 19),
        ),
    )
    full = pc.replace_substring(full, " ", "T")
    # Parse at second precision: strftime's %S prints fractions for finer units.
    parsed = pc.strptime(full, format="%Y-%m-%dT%H:%M:%S", unit="s", error_is_null=True)
    exact = pc.equal(pc.strftime(parsed, format="%Y-%m-%dT%H:%M:%S"), full)
    bad = pc.and_(pc.is_valid(raw), pc.invert(pc.fill_null(exact, False)))
    out.add(_mask(bad), column, lambda row: describe_bad_date(out.cell(column, row) or "", with_time=True))
    return pc.cast(pc.if_else(exact, parsed, pa.scalar(None, parsed.type)), pa.timestamp("us"))


def describe_bad_date(value: str, *, with_time: bool) -> str:
    """Why a date cell was refused, and which format was expected."""
    expected = "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (plan local time)" if with_time else "YYYY-MM-DD"
    if re.fullmatch(r"\d{5}(\.\d+)?", value):
        hint = "looks like an Excel serial day number; format the column as text dates"
    elif re.fullmatch(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}", value):
        hint = "day/month order is ambiguous and two-digit years are refused"
    elif with_time and re.search(r"(Z|[+-]\d{2}:?\d{2})$", value):
        hint = "has a time zone; the package holds plan-local times without a zone"
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", value):
        hint = "is not a real calendar date/time"
    else:
        hint = "is not an ISO date"
    return f"{value!r} {hint}; expected {expected}"


def _parse_number(out: _Collector, column: str, raw: pa.Array, rule: FieldRule) -> pa.Array:
    pattern = {"int": _INT_RE, "float": _NUMBER_RE, "money": _MONEY_RE}[rule.kind]
    target = {"int": pa.int64(), "float": pa.float64(), "money": pa.decimal128(14, 2)}[rule.kind]
    shaped = _matches(raw, pattern)
    bad_shape = pc.and_(pc.is_valid(raw), pc.invert(shaped))
    wording = {"int": "a whole number", "float": "a number", "money": "an amount with at most 2 decimals"}
    out.add(_mask(bad_shape), column, lambda row: f"{out.cell(column, row)!r} is not {wording[rule.kind]}")
    values = pc.cast(pc.if_else(shaped, raw, pa.scalar(None, pa.string())), target)
    if rule.low is not None or rule.high is not None:
        numeric = pc.cast(values, pa.float64())
        too_low = (
            (pc.less_equal(numeric, rule.low) if rule.low_exclusive else pc.less(numeric, rule.low))
            if rule.low is not None
            else pa.array(np.zeros(len(raw), dtype=bool))
        )
        too_high = pc.greater(numeric, rule.high) if rule.high is not None else too_low
        outside = pc.or_(too_low, too_high) if rule.high is not None else too_low
        bound = (
            f"above {rule.low:g}"
            if rule.low_exclusive and rule.high is None
            else f"between {rule.low:g} and {rule.high:g}"
        )
        out.add(_mask(outside), column, lambda row: f"{out.cell(column, row)} is not {bound}")
        values = pc.if_else(pc.fill_null(outside, False), pa.scalar(None, target), values)
    return values


# --- identifiers ---------------------------------------------------------------------------


def validate_npis(raw: pa.Array) -> np.ndarray:
    """True where the cell is a 10-digit NPI with a correct Luhn check digit (nulls: True).

    CMS NPI check digit: Luhn over the nine body digits prefixed by 80840, which adds a
    constant 24 to the sum (same rule as ``openvbc.domain.npi``).
    """
    present = np.asarray(pc.is_valid(raw).to_numpy(zero_copy_only=False), dtype=bool)
    shaped = _mask(_matches(raw, r"^\d{10}$"))
    ok = ~present
    if shaped.any():
        body = pc.filter(raw, pa.array(shaped))
        digits = _digit_matrix(body, 10)
        doubled = digits[:, 0:9:2] * 2
        doubled = np.where(doubled > 9, doubled - 9, doubled)
        total = 24 + doubled.sum(axis=1) + digits[:, 1:9:2].sum(axis=1)
        ok[np.flatnonzero(shaped)] = (10 - total % 10) % 10 == digits[:, 9]
    return ok


def _digit_matrix(values: pa.Array, width: int) -> np.ndarray:
    """Digits of equal-width ASCII strings as an (n, width) int array, straight from Arrow memory."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[
        values.offset : values.offset + len(values) + 1
    ]
    raw = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return raw.reshape(len(values), width).astype(np.int16) - ord("0")


def _explain_npi(value: str) -> str:
    if not re.fullmatch(r"\d{10}", value):
        return f"{value!r} is not a 10-digit NPI"
    return f"{value!r} fails the NPI check digit (Luhn with prefix 80840, 45 CFR 162.406)"


def normalize_ndcs(raw: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """11-digit 5-4-2 NDCs and, per row, the reason a code was refused ('' when fine).

    Same semantics as ``openvbc.domain.ndc.normalize_ndc``: 11 digits pass; hyphenated 4-4-2,
    5-3-2, 5-4-1 (and 5-4-2) are zero-padded per segment; bare 10 digits are ambiguous.
    """
    eleven = _mask(_matches(raw, r"^\d{11}$"))
    hyphenated = _mask(_matches(raw, r"^\d{4,5}-\d{3,4}-\d{1,2}$"))
    parts = pc.split_pattern(raw, "-")
    segment = [
        pc.list_element(pc.if_else(pa.array(hyphenated), parts, pa.scalar(["0", "0", "0"])), i)
        for i in range(3)
    ]
    sizes = [pc.utf8_length(s).to_numpy(zero_copy_only=False) for s in segment]
    layout_ok = hyphenated & (
        ((sizes[0] == 4) & (sizes[1] == 4) & (sizes[2] == 2))
        | ((sizes[0] == 5) & (sizes[1] == 3) & (sizes[2] == 2))
        | ((sizes[0] == 5) & (sizes[1] == 4) & (sizes[2] >= 1))
    )
    padded = pc.binary_join_element_wise(
        pc.utf8_lpad(segment[0], 5, "0"),
        pc.utf8_lpad(segment[1], 4, "0"),
        pc.utf8_lpad(segment[2], 2, "0"),
        "",
    )
    ndc11 = pc.if_else(
        pa.array(eleven), raw, pc.if_else(pa.array(layout_ok), padded, pa.scalar(None, pa.string()))
    )
    problems = np.full(len(raw), "", dtype=object)
    present = _mask(pc.is_valid(raw))
    ten = _mask(_matches(raw, r"^\d{10}$"))
    values = raw.to_numpy(zero_copy_only=False)
    for row in np.flatnonzero(present & ~eleven & ~layout_ok).tolist():
        value = values[row]
        if ten[row]:
            problems[row] = (
                f"NDC {value!r} is 10 digits without hyphens; its 4-4-2/5-3-2/5-4-1 layout is ambiguous"
            )
        elif hyphenated[row]:
            layout = "-".join(str(len(p)) for p in value.split("-"))
            problems[row] = f"NDC {value!r} has segment layout {layout}, not 4-4-2, 5-3-2, 5-4-1 or 5-4-2"
        else:
            problems[row] = f"NDC {value!r} is not an 11-digit code or a hyphenated 10-digit code"
    return ndc11, problems


@cache
def load_ndc_reference() -> pa.Table | None:
    """The shipped NDC reference (rules/drugs/ndc_reference.csv) as ndc11/ingredient/drug_class."""
    resource = resources.files("openvbc.rules").joinpath("drugs", "ndc_reference.csv")
    if not resource.is_file():
        return None
    with resources.as_file(resource) as path:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                strings_can_be_null=True, column_types={"ndc11": pa.string(), "ndc": pa.string()}
            ),
        )
    return _shape_reference(table)


def _shape_reference(table: pa.Table) -> pa.Table | None:
    key = "ndc11" if "ndc11" in table.column_names else "ndc" if "ndc" in table.column_names else None
    if key is None:
        return None
    ndc11, _ = normalize_ndcs(pc.cast(table.column(key), pa.string()).combine_chunks())
    columns = {"ndc11": ndc11}
    for name in ("ingredient", "drug_class"):
        present = name in table.column_names
        column = (
            pc.cast(table.column(name), pa.string()) if present else pa.nulls(table.num_rows, pa.string())
        )
        columns[name] = column
    return pa.table(columns).filter(pc.is_valid(ndc11))


# --- dates across columns and rows -----------------------------------------------------------


def _check_dates(
    out: _Collector,
    spec: PackageFile,
    typed: dict[str, pa.Array],
    rules: Mapping[str, FieldRule],
    today: date,
    birth_dates: Mapping[str, date] | None,
) -> None:
    births = _lookup_births(typed, spec, birth_dates)
    for column, rule in rules.items():
        if not rule.service:
            continue
        day = pc.cast(typed[column], pa.date32()) if rule.kind == "datetime" else typed[column]
        future = pc.greater(day, pa.scalar(today, pa.date32()))
        out.add(_mask(future), column, _explain_future(out, column, today))
        if births is not None and column != "birth_date":
            out.add(_mask(pc.less(day, births)), column, _explain_before_birth(out, column, births))
    for earlier, later in ORDERED_PAIRS.get(spec.name, ()):
        first = pc.cast(typed[earlier], pa.timestamp("us"))
        second = pc.cast(typed[later], pa.timestamp("us"))
        out.add(_mask(pc.less(second, first)), later, _explain_order(out, earlier, later))


def _explain_future(out: _Collector, column: str, today: date) -> Callable[[int], str]:
    return lambda row: f"{out.cell(column, row)} is after today ({today})"


def _explain_before_birth(out: _Collector, column: str, births: pa.Array) -> Callable[[int], str]:
    return lambda row: f"{out.cell(column, row)} is before the member's birth date ({births[row].as_py()})"


def _explain_order(out: _Collector, earlier: str, later: str) -> Callable[[int], str]:
    return lambda row: f"{out.cell(later, row)} is before {earlier} {out.cell(earlier, row)}"


def _lookup_births(
    typed: Mapping[str, pa.Array], spec: PackageFile, birth_dates: Mapping[str, date] | None
) -> pa.Array | None:
    if spec.name == "members":
        return typed["birth_date"]
    if not birth_dates or "member_key" not in typed:
        return None
    keys = pa.array(list(birth_dates.keys()), pa.string())
    values = pa.array(list(birth_dates.values()), pa.date32())
    return values.take(pc.index_in(typed["member_key"], value_set=keys))


def _check_duplicate_keys(out: _Collector, spec: PackageFile, table: pa.Table) -> None:
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
    mask = _mask(pc.is_in(key, value_set=doubled.combine_chunks()))
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
    out: _Collector,
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


# --- observations: units, plausible ranges, coded answers ----------------------------------
# Sources: LOINC 8480-6 / 8462-4 (systolic / diastolic BP), 85354-9 (BP panel); HbA1c LOINC
# 4548-4, 4549-2, 17856-6 and GMI 97506-0 (domain-rules.md A5, CMS122v13); smoking status LOINC
# 72166-2 with the US Core smoking-status SNOMED answers (CMS138v13, US Core STU3.1.1 value set
# us-core-observation-smokingstatus). Unit conversions and plausible ranges: reliability-plan.md
# section 5 (1 kPa = 7.50062 mmHg; NGSP % = 0.0915 x IFCC mmol/mol + 2.15, the IFCC-NGSP master
# equation; SBP 50-300, DBP 20-200, SBP > DBP, A1c 3-20 %).
SYSTOLIC_CODES = frozenset({"8480-6"})
DIASTOLIC_CODES = frozenset({"8462-4"})
A1C_CODES = frozenset({"4548-4", "4549-2", "17856-6", "97506-0"})
SMOKING_STATUS_CODES = frozenset({"72166-2"})
SMOKING_STATUS_ANSWERS = frozenset(
    {
        "449868002",  # current every day smoker
        "428041000124106",  # current some day smoker
        "8517006",  # ex-smoker
        "266919005",  # never smoked
        "77176002",  # smoker, current status unknown
        "266927001",  # unknown if ever smoked
        "428071000124103",  # current heavy tobacco smoker
        "428061000124105",  # current light tobacco smoker
    }
)
MMHG_UNITS = frozenset({"mm[Hg]", "mmHg"})
KPA_TO_MMHG = 7.50062
BP_UNIT = "mm[Hg]"  # UCUM spelling is what the store keeps
A1C_UNIT = "%"
SYSTOLIC_RANGE = (50.0, 300.0)
DIASTOLIC_RANGE = (20.0, 200.0)
A1C_RANGE = (3.0, 20.0)


def convert_observations(out: _Collector, table: pa.Table, typed: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """Numeric values in canonical units (mmHg, %), originals kept; clinical rules checked."""
    value_text = typed.pop("value")
    unit_text = typed.pop("unit")
    code = pc.if_else(pc.equal(typed["code_system"], "loinc"), typed["code"], pa.scalar(None, pa.string()))
    shaped = _mask(_matches(value_text, _NUMBER_RE))
    present = _mask(pc.is_valid(value_text))
    out.add(
        present & ~shaped,
        "value",
        lambda row: f"{out.cell('value', row)!r} is not a number (coded answers go in value_code)",
    )
    number = pc.cast(pc.if_else(pa.array(shaped), value_text, pa.scalar(None, pa.string())), pa.float64())
    out.add(shaped & ~_mask(pc.is_valid(unit_text)), "unit", lambda _row: "a numeric value needs its unit")

    is_sbp = _mask(pc.is_in(code, pa.array(sorted(SYSTOLIC_CODES))))
    is_dbp = _mask(pc.is_in(code, pa.array(sorted(DIASTOLIC_CODES))))
    is_a1c = _mask(pc.is_in(code, pa.array(sorted(A1C_CODES))))
    is_bp = is_sbp | is_dbp
    unit_values = np.asarray(unit_text.to_numpy(zero_copy_only=False), dtype=object)
    numbers = np.asarray(pc.fill_null(number, np.nan).to_numpy(zero_copy_only=False), dtype=float)

    mmhg = np.isin(unit_values, list(MMHG_UNITS))
    kpa = unit_values == "kPa"
    percent = unit_values == "%"
    ifcc = unit_values == "mmol/mol"
    has_unit = _mask(pc.is_valid(unit_text))
    out.add(
        shaped & is_bp & has_unit & ~(mmhg | kpa),
        "unit",
        lambda row: f"{out.cell('unit', row)!r} is not a blood-pressure unit (mm[Hg], mmHg or kPa)",
    )
    out.add(
        shaped & is_a1c & has_unit & ~(percent | ifcc),
        "unit",
        lambda row: f"{out.cell('unit', row)!r} is not an HbA1c unit (% or mmol/mol)",
    )

    # BP is charted in whole mmHg and HbA1c to one decimal (NGSP reporting), so converted
    # values are rounded the same way; the value as received stays in original_value.
    canonical = numbers.copy()
    canonical[is_bp & kpa] = np.round(numbers[is_bp & kpa] * KPA_TO_MMHG)
    canonical[is_a1c & ifcc] = np.round(0.0915 * numbers[is_a1c & ifcc] + 2.15, 1)
    usable = shaped & ((is_bp & (mmhg | kpa)) | (is_a1c & (percent | ifcc)) | (~is_bp & ~is_a1c & has_unit))
    for mask, (low, high), what, unit in (
        (is_sbp, SYSTOLIC_RANGE, "systolic", "mmHg"),
        (is_dbp, DIASTOLIC_RANGE, "diastolic", "mmHg"),
        (is_a1c, A1C_RANGE, "HbA1c", "%"),
    ):
        outside = usable & mask & ((canonical < low) | (canonical > high))
        out.add(outside, "value", _explain_range(out, canonical, what, (low, high), unit))
    _check_bp_panels(out, typed, canonical, usable & is_sbp, usable & is_dbp)
    _check_smoking_status(out, typed, code)

    canonical_unit = np.where(is_bp, BP_UNIT, np.where(is_a1c, A1C_UNIT, unit_values))
    typed["value_num"] = pa.array(np.where(usable, canonical, np.nan), pa.float64(), mask=~usable)
    typed["unit"] = pa.array(canonical_unit, pa.string(), mask=~has_unit)
    typed["original_value"] = value_text
    typed["original_unit"] = unit_text
    return typed


def _explain_range(
    out: _Collector, canonical: np.ndarray, what: str, bounds: tuple[float, float], unit: str
) -> Callable[[int], str]:
    low, high = bounds
    return lambda row: (
        f"{what} {canonical[row]:g} {unit} (from {out.cell('value', row)} {out.cell('unit', row)}) "
        f"is outside the plausible {low:g}-{high:g} {unit}"
    )


def _check_bp_panels(
    out: _Collector, typed: Mapping[str, pa.Array], values: np.ndarray, sbp: np.ndarray, dbp: np.ndarray
) -> None:
    """In a BP panel (rows sharing panel_key) the systolic must be above the diastolic."""
    panel = typed["panel_key"]
    member = typed["member_key"]
    rows = np.arange(len(values), dtype=np.int64)

    def side(mask: np.ndarray, suffix: str) -> pa.Table:
        keep = pa.array(mask)
        return pa.table(
            {
                "member_key": pc.filter(member, keep),
                "panel_key": pc.filter(panel, keep),
                f"row_{suffix}": rows[mask],
                f"value_{suffix}": values[mask],
            }
        ).filter(pc.is_valid(pc.field("panel_key")))

    pairs = side(sbp, "s").join(side(dbp, "d"), ["member_key", "panel_key"], join_type="inner")
    inverted = pairs.filter(pc.less_equal(pc.field("value_s"), pc.field("value_d")))
    if inverted.num_rows == 0:
        return
    partner = dict(
        zip(inverted.column("row_s").to_pylist(), inverted.column("row_d").to_pylist(), strict=True)
    )
    mask = np.zeros(len(values), dtype=bool)
    mask[list(partner)] = True
    out.add(
        mask,
        "value",
        lambda row: (
            f"systolic {values[row]:g} mmHg is not above diastolic {values[partner[row]]:g} mmHg "
            f"(line {out.lines[partner[row]]}, panel {out.cell('panel_key', row)!r})"
        ),
    )


def _check_smoking_status(out: _Collector, typed: Mapping[str, pa.Array], code: pa.Array) -> None:
    status = _mask(pc.is_in(code, pa.array(sorted(SMOKING_STATUS_CODES))))
    answer = typed["value_code"]
    system = typed["value_code_system"]
    known = _mask(pc.is_in(answer, pa.array(sorted(SMOKING_STATUS_ANSWERS))))
    snomed = _mask(pc.equal(system, "snomed"))
    listed = ", ".join(sorted(SMOKING_STATUS_ANSWERS))
    out.add(
        status & ~(known & snomed),
        "value_code",
        lambda row: (
            f"smoking status answer {out.cell('value_code_system', row)}|{out.cell('value_code', row)} "
            f"is not a SNOMED CT smoking-status code ({listed})"
        ),
    )
