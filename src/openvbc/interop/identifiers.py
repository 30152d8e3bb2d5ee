"""NPI and NDC checks over whole columns (same rules as ``openvbc.domain.npi`` / ``domain.ndc``)."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from openvbc.interop.row_issues import as_mask, matches


def validate_npis(raw: pa.Array) -> np.ndarray:
    """True where the cell is a 10-digit NPI with a correct Luhn check digit (nulls: True).

    CMS NPI check digit: Luhn over the nine body digits prefixed by 80840, which adds a
    constant 24 to the sum (same rule as ``openvbc.domain.npi``).
    """
    present = np.asarray(pc.is_valid(raw).to_numpy(zero_copy_only=False), dtype=bool)
    shaped = as_mask(matches(raw, r"^\d{10}$"))
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


def explain_npi(value: str) -> str:
    if not re.fullmatch(r"\d{10}", value):
        return f"{value!r} is not a 10-digit NPI"
    return f"{value!r} fails the NPI check digit (Luhn with prefix 80840, 45 CFR 162.406)"


def normalize_ndcs(raw: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """11-digit 5-4-2 NDCs and, per row, the reason a code was refused ('' when fine).

    Same semantics as ``openvbc.domain.ndc.normalize_ndc``: 11 digits pass; hyphenated 4-4-2,
    5-3-2, 5-4-1 (and 5-4-2) are zero-padded per segment; bare 10 digits are ambiguous.
    """
    eleven = as_mask(matches(raw, r"^\d{11}$"))
    hyphenated = as_mask(matches(raw, r"^\d{4,5}-\d{3,4}-\d{1,2}$"))
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
    present = as_mask(pc.is_valid(raw))
    ten = as_mask(matches(raw, r"^\d{10}$"))
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
