"""Observations: canonical units, plausible values, BP panels and smoking-status answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openvbc.interop.field_parsing import NUMBER_RE
from openvbc.interop.row_issues import IssueCollector, as_mask, matches

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


def convert_observations(
    out: IssueCollector, table: pa.Table, typed: dict[str, pa.Array]
) -> dict[str, pa.Array]:
    """Numeric values in canonical units (mmHg, %), originals kept; clinical rules checked."""
    value_text = typed.pop("value")
    unit_text = typed.pop("unit")
    code = pc.if_else(pc.equal(typed["code_system"], "loinc"), typed["code"], pa.scalar(None, pa.string()))
    shaped = as_mask(matches(value_text, NUMBER_RE))
    present = as_mask(pc.is_valid(value_text))
    out.add(
        present & ~shaped,
        "value",
        lambda row: f"{out.cell('value', row)!r} is not a number (coded answers go in value_code)",
    )
    number = pc.cast(pc.if_else(pa.array(shaped), value_text, pa.scalar(None, pa.string())), pa.float64())
    out.add(shaped & ~as_mask(pc.is_valid(unit_text)), "unit", lambda _row: "a numeric value needs its unit")

    is_sbp = as_mask(pc.is_in(code, pa.array(sorted(SYSTOLIC_CODES))))
    is_dbp = as_mask(pc.is_in(code, pa.array(sorted(DIASTOLIC_CODES))))
    is_a1c = as_mask(pc.is_in(code, pa.array(sorted(A1C_CODES))))
    is_bp = is_sbp | is_dbp
    unit_values = np.asarray(unit_text.to_numpy(zero_copy_only=False), dtype=object)
    numbers = np.asarray(pc.fill_null(number, np.nan).to_numpy(zero_copy_only=False), dtype=float)

    mmhg = np.isin(unit_values, list(MMHG_UNITS))
    kpa = unit_values == "kPa"
    percent = unit_values == "%"
    ifcc = unit_values == "mmol/mol"
    has_unit = as_mask(pc.is_valid(unit_text))
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
    out: IssueCollector, canonical: np.ndarray, what: str, bounds: tuple[float, float], unit: str
) -> Callable[[int], str]:
    low, high = bounds
    return lambda row: (
        f"{what} {canonical[row]:g} {unit} (from {out.cell('value', row)} {out.cell('unit', row)}) "
        f"is outside the plausible {low:g}-{high:g} {unit}"
    )


def _check_bp_panels(
    out: IssueCollector, typed: Mapping[str, pa.Array], values: np.ndarray, sbp: np.ndarray, dbp: np.ndarray
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


def _check_smoking_status(out: IssueCollector, typed: Mapping[str, pa.Array], code: pa.Array) -> None:
    status = as_mask(pc.is_in(code, pa.array(sorted(SMOKING_STATUS_CODES))))
    answer = typed["value_code"]
    system = typed["value_code_system"]
    known = as_mask(pc.is_in(answer, pa.array(sorted(SMOKING_STATUS_ANSWERS))))
    snomed = as_mask(pc.equal(system, "snomed"))
    listed = ", ".join(sorted(SMOKING_STATUS_ANSWERS))
    out.add(
        status & ~(known & snomed),
        "value_code",
        lambda row: (
            f"smoking status answer {out.cell('value_code_system', row)}|{out.cell('value_code', row)} "
            f"is not a SNOMED CT smoking-status code ({listed})"
        ),
    )
