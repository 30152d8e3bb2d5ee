"""Units of the pharmacist MTM codes 99605 / 99606 / +99607 from documented minutes (pure).

CPT describes 99605 (new patient) and 99606 (established patient) as the *initial 15 minutes*
and +99607 as *each additional 15 minutes* (domain-rules.md §A1). Payers differ on how a partial
15-minute block counts and on the look-back that makes a patient "new", so those are fields of
:class:`MtmUnitRule`, filled from a rule file (``rules/billing/mtm_units/*.yaml``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Rounding = Literal["any_partial", "half_block", "full_block_only"]
PatientStatus = Literal["new", "established"]
ROUNDING_CHOICES: tuple[Rounding, ...] = ("any_partial", "half_block", "full_block_only")


@dataclass(frozen=True)
class MtmUnitRule:
    """How one payer turns minutes into MTM units."""

    rounding: Rounding
    block_minutes: int = 15
    new_patient_lookback_days: int = 1095
    new_patient_code: str = "99605"
    established_patient_code: str = "99606"
    addon_code: str = "99607"
    max_addon_units: int | None = None
    modifiers_by_kind: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rounding not in ROUNDING_CHOICES:
            raise ValueError(f"rounding must be one of {', '.join(ROUNDING_CHOICES)}, not {self.rounding!r}")
        if self.block_minutes < 1:
            raise ValueError("block_minutes must be at least 1")

    @property
    def minutes_to_count_a_block(self) -> int:
        """Minutes of a block that must be spent before the block counts as a unit."""
        if self.rounding == "any_partial":
            return 1
        if self.rounding == "half_block":
            # CPT's time convention: a unit is attained once the mid-point is passed
            # (8 of 15 minutes).
            return self.block_minutes // 2 + 1
        return self.block_minutes


@dataclass(frozen=True)
class MtmLine:
    """One service line: procedure code, modifiers and units."""

    code: str
    units: int
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class MtmCoding:
    """The lines an MTM encounter bills, or the reason it bills nothing."""

    lines: tuple[MtmLine, ...]
    total_units: int
    reason: str | None = None


def count_time_units(minutes: int, rule: MtmUnitRule) -> int:
    """Total 15-minute units (initial + add-on) that ``minutes`` earn under ``rule``.

    With ``t`` the minutes needed for a block to count and ``B`` the block length, the first
    unit needs ``t`` minutes and each further unit ``B`` more, so units = 1 + (m - t) // B.
    The add-on cap is applied by :func:`code_mtm_encounter`, not here.
    """
    if minutes < 0:
        raise ValueError(f"minutes cannot be negative ({minutes})")
    threshold = rule.minutes_to_count_a_block
    if minutes < threshold:
        return 0
    return 1 + (minutes - threshold) // rule.block_minutes


def classify_patient_status(
    service_date: date, earlier_service_dates: Iterable[date], lookback_days: int
) -> PatientStatus:
    """``new`` unless the same pharmacist/practice served the patient within the look-back."""
    for earlier in earlier_service_dates:
        if earlier < service_date and (service_date - earlier).days <= lookback_days:
            return "established"
    return "new"


def code_mtm_encounter(minutes: int, status: PatientStatus, kind: str, rule: MtmUnitRule) -> MtmCoding:
    """Lines for one encounter: 99605 or 99606 once, then +99607 for each further unit."""
    units = count_time_units(minutes, rule)
    if units == 0:
        return MtmCoding(
            lines=(),
            total_units=0,
            reason=(
                f"{minutes} min is below the {rule.minutes_to_count_a_block} min the payer's "
                f"{rule.rounding} rule needs for the initial block"
            ),
        )
    modifiers = tuple(rule.modifiers_by_kind.get(kind, ()))
    base = rule.new_patient_code if status == "new" else rule.established_patient_code
    lines = [MtmLine(base, 1, modifiers)]
    addon_units = units - 1
    if rule.max_addon_units is not None:
        addon_units = min(addon_units, rule.max_addon_units)
    if addon_units > 0:
        lines.append(MtmLine(rule.addon_code, addon_units, modifiers))
    return MtmCoding(lines=tuple(lines), total_units=1 + addon_units)
