"""Parse one column of package strings into typed Arrow values, reporting every bad cell.

Dates are ISO only (``YYYY-MM-DD``; date-times ``YYYY-MM-DDTHH:MM[:SS]``, plan local time);
numbers are plain decimals; money has at most two decimals; codes must be listed; NPIs and NDCs
are checked by :mod:`openvbc.interop.identifiers`. docs/plan-data-package.md states each rule.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openvbc.interop.code_lists import FALSE_WORDS, TRUE_WORDS
from openvbc.interop.column_rules import FieldRule
from openvbc.interop.identifiers import explain_npi, normalize_ndcs, validate_npis
from openvbc.interop.row_issues import IssueCollector, as_mask, matches

DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
DATETIME_RE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?$"
INT_RE = r"^[+-]?\d{1,15}$"
NUMBER_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
MONEY_RE = r"^-?\d{1,12}(\.\d{1,2})?$"


def parse_column(out: IssueCollector, column: str, raw: pa.Array, rule: FieldRule) -> pa.Array:
    present = pc.is_valid(raw)
    if rule.kind == "code" and rule.choices is not None:
        listed = ", ".join(sorted(rule.choices))
        bad = pc.and_(present, pc.invert(pc.is_in(raw, pa.array(sorted(rule.choices)))))
        out.add(as_mask(bad), column, lambda row: f"{out.cell(column, row)!r} is not one of: {listed}")
        return raw
    if rule.kind == "date":
        return _parse_dates(out, column, raw)
    if rule.kind == "datetime":
        return _parse_datetimes(out, column, raw)
    if rule.kind in {"int", "float", "money"}:
        return _parse_number(out, column, raw, rule)
    if rule.kind == "npi":
        bad = pc.and_(present, pc.invert(pa.array(validate_npis(raw))))
        out.add(as_mask(bad), column, lambda row: explain_npi(out.cell(column, row) or ""))
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
        out.add(as_mask(bad), column, lambda row: f"{out.cell(column, row)!r} is not true or false")
        return pc.if_else(present, truthy, pa.scalar(None, pa.bool_()))
    return raw


def _parse_dates(out: IssueCollector, column: str, raw: pa.Array) -> pa.Array:
    shaped = matches(raw, DATE_RE)
    candidate = pc.if_else(shaped, raw, pa.scalar(None, pa.string()))
    parsed = pc.strptime(candidate, format="%Y-%m-%d", unit="s", error_is_null=True)
    # strptime rolls 2024-02-30 over into March; a round trip catches impossible days.
    exact = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), candidate)
    bad = pc.and_(pc.is_valid(raw), pc.invert(pc.fill_null(exact, False)))
    out.add(as_mask(bad), column, lambda row: describe_bad_date(out.cell(column, row) or "", with_time=False))
    return pc.cast(pc.if_else(exact, parsed, pa.scalar(None, parsed.type)), pa.date32())


def _parse_datetimes(out: IssueCollector, column: str, raw: pa.Array) -> pa.Array:
    shaped = matches(raw, DATETIME_RE)
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
    out.add(as_mask(bad), column, lambda row: describe_bad_date(out.cell(column, row) or "", with_time=True))
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


def _parse_number(out: IssueCollector, column: str, raw: pa.Array, rule: FieldRule) -> pa.Array:
    pattern = {"int": INT_RE, "float": NUMBER_RE, "money": MONEY_RE}[rule.kind]
    target = {"int": pa.int64(), "float": pa.float64(), "money": pa.decimal128(14, 2)}[rule.kind]
    shaped = matches(raw, pattern)
    bad_shape = pc.and_(pc.is_valid(raw), pc.invert(shaped))
    wording = {"int": "a whole number", "float": "a number", "money": "an amount with at most 2 decimals"}
    out.add(as_mask(bad_shape), column, lambda row: f"{out.cell(column, row)!r} is not {wording[rule.kind]}")
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
        out.add(as_mask(outside), column, lambda row: f"{out.cell(column, row)} is not {bound}")
        values = pc.if_else(pc.fill_null(outside, False), pa.scalar(None, target), values)
    return values
