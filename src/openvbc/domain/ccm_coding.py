"""Month-end coding of chronic and principal care management (CCM / PCM) minutes (pure).

Implements the engine rule of domain-rules.md §A4: sum a patient-month's minutes by performer
role, find every code family whose base threshold, required flags and caps are met, and keep
the single family worth most (CMS lets only one of these families be billed per patient per
month by one practitioner, so they are mutually exclusive). A month that bills nothing carries
every reason. The table itself (codes, thresholds, caps, relative values) is rule data:
``rules/billing/ccm_codes/<year>.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ROLES = ("clinical_staff", "practitioner")


@dataclass(frozen=True)
class CcmFamily:
    """A base code with its add-on: e.g. 99490 (first 20 min) + 99439 (each further 20, max 2)."""

    name: str
    base_code: str
    base_minutes: int
    addon_code: str | None
    addon_minutes: int | None
    addon_max_units: int | None
    counted_roles: tuple[str, ...]
    required_flags: tuple[str, ...]
    base_value: float
    addon_value: float = 0.0

    def __post_init__(self) -> None:
        unknown = [role for role in self.counted_roles if role not in ROLES]
        if unknown:
            raise ValueError(f"family {self.name}: unknown role(s) {unknown}; known roles are {ROLES}")
        if (self.addon_code is None) != (self.addon_minutes is None):
            raise ValueError(f"family {self.name}: addon_code and addon_minutes go together")


@dataclass(frozen=True)
class CcmCodeRule:
    """The code families of one year plus the month-level blockers."""

    families: tuple[CcmFamily, ...]
    blocking_flags: Mapping[str, str]  # flag -> reason shown when it is set


@dataclass(frozen=True)
class CcmLine:
    code: str
    units: int


@dataclass(frozen=True)
class FamilyOutcome:
    """What one family would bill this month, or why it cannot."""

    family: str
    lines: tuple[CcmLine, ...]
    value: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class CcmMonthResult:
    family: str | None
    lines: tuple[CcmLine, ...]
    value: float
    reasons: tuple[str, ...]
    minutes_by_role: Mapping[str, int]
    considered: tuple[FamilyOutcome, ...]

    @property
    def bills(self) -> bool:
        return bool(self.lines)


def bill_ccm_month(
    minutes_by_role: Mapping[str, int], flags: Mapping[str, bool], rule: CcmCodeRule
) -> CcmMonthResult:
    """The best legal code set for one patient-month, or every reason the month does not bill.

    ``minutes_by_role`` must already be the union of non-overlapping entries with TCM minutes
    removed (see :mod:`openvbc.domain.intervals`); ``flags`` holds documentation facts such as
    ``consent``, ``care_plan``, ``ccm_eligible``, ``pcm_eligible``, ``complex_mdm``.
    """
    for role, recorded in minutes_by_role.items():
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; known roles are {ROLES}")
        if recorded < 0:
            raise ValueError(f"minutes for {role} cannot be negative ({recorded})")
    minutes = {role: int(minutes_by_role.get(role, 0)) for role in ROLES}
    blockers = tuple(reason for flag, reason in rule.blocking_flags.items() if flags.get(flag, False))
    outcomes = tuple(_evaluate_family(family, minutes, flags) for family in rule.families)
    if blockers:
        return CcmMonthResult(None, (), 0.0, blockers, minutes, outcomes)
    billable = [outcome for outcome in outcomes if outcome.lines]
    if not billable:
        reasons = tuple(reason for outcome in outcomes for reason in outcome.reasons)
        return CcmMonthResult(None, (), 0.0, reasons, minutes, outcomes)
    # max() keeps the first of equal values, so the rule file's order breaks ties.
    best = max(billable, key=lambda outcome: outcome.value)
    return CcmMonthResult(best.family, best.lines, best.value, (), minutes, outcomes)


def _evaluate_family(
    family: CcmFamily, minutes: Mapping[str, int], flags: Mapping[str, bool]
) -> FamilyOutcome:
    reasons = [f"{family.base_code}: flag '{flag}' not documented" for flag in _missing(family, flags)]
    counted = sum(minutes[role] for role in family.counted_roles)
    if counted < family.base_minutes:
        reasons.append(
            f"{family.base_code}: needs {family.base_minutes} min of {'/'.join(family.counted_roles)} "
            f"time, {counted} min recorded"
        )
    if reasons:
        return FamilyOutcome(family.name, (), 0.0, tuple(reasons))
    lines = [CcmLine(family.base_code, 1)]
    addon_units = 0
    if family.addon_code is not None and family.addon_minutes:
        # Add-on units need each further block in full (CMS: "each additional 20 minutes").
        addon_units = (counted - family.base_minutes) // family.addon_minutes
        if family.addon_max_units is not None:
            addon_units = min(addon_units, family.addon_max_units)
        if addon_units > 0:
            lines.append(CcmLine(family.addon_code, addon_units))
    value = family.base_value + addon_units * family.addon_value
    return FamilyOutcome(family.name, tuple(lines), round(value, 2), ())


def _missing(family: CcmFamily, flags: Mapping[str, bool]) -> Sequence[str]:
    return [flag for flag in family.required_flags if not flags.get(flag, False)]
