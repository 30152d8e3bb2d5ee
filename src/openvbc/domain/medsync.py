"""Medication synchronisation arithmetic (pure): anchor date, short fills, prorated copays.

Implements domain-rules.md §A7 (formulas as published by refilldatecalculator.org's medication
synchronization calculator; process per NCPA's five steps; proration per 42 CFR 423.153(b)(4),
the Part D daily cost-sharing rate from the CY2014 rule, [verify] per payer):

- run-out date = last fill + days supply − 1;
- earliest refill = last fill + ⌈days supply × refill-too-soon %⌉ (a refill is allowed on that day;
  rounding up because a payer rejects anything earlier);
- for each non-anchor drug: short-fill days = sync date − (run-out date + 1), counted from today
  when the drug has already run out;
- short-fill quantity = daily quantity × short-fill days, rounded up to the dispensable unit;
  drugs in unbreakable packages (inhalers, pens) are not short-filled;
- prorated copay = monthly copay × short-fill days / proration base days (30), to the cent.

Rule values (refill-too-soon %, proration base, standard days supply) come from
``rules/pharmacist/medsync.yaml``; nothing here reads a file or the clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


@dataclass(frozen=True)
class MedSyncRule:
    refill_too_soon_percent: Decimal
    proration_base_days: int = 30
    standard_days_supply: int = 30

    def __post_init__(self) -> None:
        if not Decimal(0) < self.refill_too_soon_percent <= Decimal(100):
            raise ValueError("refill_too_soon_percent must be in (0, 100]")
        if self.proration_base_days < 1 or self.standard_days_supply < 1:
            raise ValueError("proration_base_days and standard_days_supply must be positive")


@dataclass(frozen=True)
class SyncMedication:
    """A chronic medication's latest fill, as the synchronisation sees it."""

    key: str
    name: str
    ndc11: str
    last_fill: date
    days_supply: int
    quantity: Decimal
    monthly_copay: Decimal = Decimal("0.00")
    unit_increment: Decimal = Decimal("1")  # smallest dispensable amount (1 tablet)
    breakable: bool = True  # False for unbreakable packages: never short-filled

    def __post_init__(self) -> None:
        if self.days_supply < 1 or self.quantity <= 0 or self.unit_increment <= 0:
            raise ValueError(f"{self.key}: days supply, quantity and unit increment must be positive")


@dataclass(frozen=True)
class SyncLine:
    """What one medication needs to land on the sync date."""

    key: str
    name: str
    run_out: date
    earliest_refill: date
    fill_on: date  # when the short fill (or the synchronised refill) is dispensed
    short_days: int
    short_quantity: Decimal
    prorated_copay: Decimal
    note: str = ""


@dataclass(frozen=True)
class SyncPlan:
    anchor_date: date
    anchor_key: str | None
    lines: tuple[SyncLine, ...]

    @property
    def total_prorated_copay(self) -> Decimal:
        return sum((line.prorated_copay for line in self.lines), Decimal("0.00"))


def compute_run_out(medication: SyncMedication) -> date:
    return medication.last_fill + timedelta(days=medication.days_supply - 1)


def compute_earliest_refill(medication: SyncMedication, rule: MedSyncRule) -> date:
    days = math.ceil(Decimal(medication.days_supply) * rule.refill_too_soon_percent / Decimal(100))
    return medication.last_fill + timedelta(days=days)


def compute_daily_quantity(medication: SyncMedication) -> Decimal:
    return medication.quantity / Decimal(medication.days_supply)


def compute_short_quantity(medication: SyncMedication, short_days: int) -> Decimal:
    """Daily quantity × days, rounded up to a whole number of dispensable units."""
    if short_days <= 0:
        return Decimal(0)
    # Multiply before dividing: quantity / days first can leave a rounding tail (…0001) that the
    # ceiling would turn into one unit too many.
    raw = medication.quantity * Decimal(short_days) / Decimal(medication.days_supply)
    units = (raw / medication.unit_increment).to_integral_value(rounding=ROUND_CEILING)
    return units * medication.unit_increment


def prorate_copay(monthly_copay: Decimal, short_days: int, rule: MedSyncRule) -> Decimal:
    """Daily cost-sharing rate × days supplied, half-up to the cent."""
    if short_days <= 0:
        return Decimal("0.00")
    return (monthly_copay * Decimal(short_days) / Decimal(rule.proration_base_days)).quantize(
        CENT, rounding=ROUND_HALF_UP
    )


def plan_sync_line(medication: SyncMedication, anchor: date, today: date, rule: MedSyncRule) -> SyncLine:
    run_out = compute_run_out(medication)
    earliest = compute_earliest_refill(medication, rule)
    due = max(run_out + timedelta(days=1), today)
    if due >= anchor:
        # Still supplied through the sync date: refill on the anchor if the payer allows it then.
        note = "" if anchor >= earliest else f"refill on {anchor} is before the earliest refill {earliest}"
        return SyncLine(
            medication.key, medication.name, run_out, earliest, anchor, 0, Decimal(0), Decimal("0.00"), note
        )
    short_days = (anchor - due).days
    if not medication.breakable:
        return SyncLine(
            medication.key,
            medication.name,
            run_out,
            earliest,
            due,
            0,
            Decimal(0),
            Decimal("0.00"),
            "unbreakable package: fill a full supply, synchronise at the next cycle",
        )
    quantity = compute_short_quantity(medication, short_days)
    copay = prorate_copay(medication.monthly_copay, short_days, rule)
    return SyncLine(medication.key, medication.name, run_out, earliest, due, short_days, quantity, copay)


def plan_sync(
    medications: Sequence[SyncMedication],
    today: date,
    rule: MedSyncRule,
    *,
    anchor_key: str | None = None,
    anchor_date: date | None = None,
) -> SyncPlan:
    """Short fills that bring every medication to one sync date.

    The anchor is, in order: ``anchor_date`` if given; the next due date (run-out + 1, not before
    today) of ``anchor_key``; otherwise the candidate due date that needs the fewest short-fill
    days in total while every still-supplied drug can be refilled on it (earliest candidate on
    a tie). Proposing is a suggestion: the pharmacist and patient pick the date.
    """
    if not medications:
        raise ValueError("no medications to synchronise")
    keys = [m.key for m in medications]
    if len(set(keys)) != len(keys):
        raise ValueError("medication keys must be unique")
    if anchor_date is None:
        if anchor_key is not None:
            chosen = next((m for m in medications if m.key == anchor_key), None)
            if chosen is None:
                raise ValueError(f"anchor medication {anchor_key!r} is not in the list")
            anchor_date = _next_due(chosen, today)
        else:
            anchor_key, anchor_date = _propose_anchor(medications, today, rule)
    lines = tuple(plan_sync_line(m, anchor_date, today, rule) for m in medications)
    return SyncPlan(anchor_date, anchor_key, lines)


def _next_due(medication: SyncMedication, today: date) -> date:
    return max(compute_run_out(medication) + timedelta(days=1), today)


def _propose_anchor(
    medications: Sequence[SyncMedication], today: date, rule: MedSyncRule
) -> tuple[str, date]:
    best: tuple[int, int, date, str] | None = None
    for candidate in medications:
        anchor = _next_due(candidate, today)
        lines = [plan_sync_line(m, anchor, today, rule) for m in medications]
        blocked = sum(1 for line in lines if line.note.startswith("refill on"))
        total = sum(line.short_days for line in lines)
        score = (blocked, total, anchor, candidate.key)
        if best is None or score < best:
            best = score
    assert best is not None
    return best[3], best[2]
