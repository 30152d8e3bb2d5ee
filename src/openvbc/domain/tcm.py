"""Transitional care management (TCM, CPT 99495 / 99496): deadlines and code choice (pure).

Rules of domain-rules.md §A4 (TCM): after a qualifying discharge to a community setting the
patient needs an interactive contact within 2 business days (Monday–Friday, holidays excluded)
and a face-to-face visit within 7 calendar days with high medical decision making (99496) or
within 14 days with at least moderate MDM (99495); the service period is 30 days starting on the
discharge date. Numbers and setting lists are fields of :class:`TcmRule` (``rules/billing/tcm``);
the holiday set is passed in by the caller, never looked up here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Mdm = Literal["straightforward", "low", "moderate", "high"]
_MDM_ORDER: dict[str, int] = {"straightforward": 0, "low": 1, "moderate": 2, "high": 3}


@dataclass(frozen=True)
class TcmLevel:
    code: str
    visit_within_days: int
    minimum_mdm: Mdm


@dataclass(frozen=True)
class TcmRule:
    contact_business_days: int
    service_period_days: int
    qualifying_from_settings: frozenset[str]
    community_destinations: frozenset[str]
    levels: tuple[TcmLevel, ...]  # best-paying first, e.g. 99496 then 99495


@dataclass(frozen=True)
class TcmCase:
    """The deadlines of one qualifying discharge."""

    discharge_date: date
    contact_due: date
    visit_due_by_code: dict[str, date]
    service_period_end: date


@dataclass(frozen=True)
class TcmResult:
    code: str | None
    reasons: tuple[str, ...]


def add_business_days(start: date, days: int, holidays: Collection[date]) -> date:
    """The date ``days`` business days after ``start`` (weekends and ``holidays`` skipped)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in holidays:
            remaining -= 1
    return current


def open_tcm_case(
    discharge_date: date, from_setting: str, to_setting: str, holidays: Collection[date], rule: TcmRule
) -> TcmCase | TcmResult:
    """A case with its deadlines, or a :class:`TcmResult` saying why the discharge does not qualify."""
    reasons = []
    if from_setting not in rule.qualifying_from_settings:
        reasons.append(f"discharge from '{from_setting}' is not a qualifying setting for TCM")
    if to_setting not in rule.community_destinations:
        reasons.append(f"discharge to '{to_setting}' is not a community setting")
    if reasons:
        return TcmResult(None, tuple(reasons))
    return TcmCase(
        discharge_date=discharge_date,
        contact_due=add_business_days(discharge_date, rule.contact_business_days, holidays),
        visit_due_by_code={
            level.code: discharge_date + timedelta(days=level.visit_within_days) for level in rule.levels
        },
        service_period_end=discharge_date + timedelta(days=rule.service_period_days - 1),
    )


def code_tcm(
    case: TcmCase,
    contact_date: date | None,
    visit_date: date | None,
    mdm: Mdm | None,
    medication_reconciled_on: date | None,
    rule: TcmRule,
) -> TcmResult:
    """The TCM code once contact and visit are recorded, or every reason none applies."""
    reasons: list[str] = []
    if contact_date is None:
        reasons.append(f"no interactive contact recorded (due by {case.contact_due})")
    elif not case.discharge_date <= contact_date <= case.contact_due:
        reasons.append(
            f"interactive contact on {contact_date} is outside {case.discharge_date}..{case.contact_due}"
        )
    if visit_date is None or mdm is None:
        reasons.append("no face-to-face visit with its medical decision making recorded")
    elif visit_date < case.discharge_date:
        reasons.append(f"face-to-face visit on {visit_date} is before the discharge")
    if medication_reconciled_on is None:
        reasons.append("medication reconciliation not recorded")
    elif visit_date is not None and medication_reconciled_on > visit_date:
        reasons.append(f"medication reconciliation on {medication_reconciled_on} is after the visit")
    if reasons or visit_date is None or mdm is None:
        return TcmResult(None, tuple(reasons))
    level_reasons = []
    for level in rule.levels:
        due = case.visit_due_by_code[level.code]
        if visit_date > due:
            level_reasons.append(f"{level.code}: visit on {visit_date} is after {due}")
        elif _MDM_ORDER[mdm] < _MDM_ORDER[level.minimum_mdm]:
            level_reasons.append(f"{level.code}: needs {level.minimum_mdm} MDM, recorded {mdm}")
        else:
            return TcmResult(level.code, ())
    return TcmResult(None, tuple(level_reasons))
