"""A pharmacy program contract as typed values, and the payment arithmetic it implies (pure).

The contract file (``rules/programs/<program>/<year>.yaml``, validated by
``openvbc.rules.program_schema``) becomes a :class:`ProgramContract`; the engine counts members
and the functions here turn counts into money. Money is ``Decimal`` throughout.

Reconciliation rule (written once, used everywhere): every payment line is rounded to the cent
once, half-up, *after* its cap; a statement total is the plain sum of its rounded lines; when a
line is spread over members, the shares are whole cents that add up to the line exactly
(largest remainder, ties to the lowest member id). Nothing is ever rounded twice, so the totals
reconcile to the cent by construction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from openvbc.domain.mtm_units import MtmUnitRule

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

Direction = Literal["higher", "lower"]
MeasureStatus = Literal["met", "not_met", "too_small", "no_data"]
PharmacyMethod = Literal["plurality_fills", "pqa_days_supply"]


def round_cents(amount: Decimal) -> Decimal:
    """Half-up to the cent (the one rounding step of the reconciliation rule)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


# --- contract -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PharmacyAttribution:
    method: PharmacyMethod
    lookback_months: int
    pqa_min_share: Decimal  # 0.51 for PQA pharmacy measures
    pqa_drug_classes: tuple[str, ...]


@dataclass(frozen=True)
class PracticeAttribution:
    method: Literal["mssp_allowed_charges"]
    lookback_months: int
    primary_care_codes: tuple[str, ...]
    primary_care_taxonomies: tuple[str, ...]


@dataclass(frozen=True)
class Targeting:
    lookback_months: int
    chronic_conditions: Mapping[str, tuple[str, ...]]  # condition name -> ICD-10-CM prefixes
    min_conditions: int
    min_maintenance_drugs: int
    min_annual_drug_cost: Decimal


@dataclass(frozen=True)
class MeasureTarget:
    key: str  # the contract's name for the benchmark (``bp_control``)
    measure_id: str
    group_id: str
    label: str
    target: Decimal  # a rate in [0, 1]
    direction: Direction
    min_denominator: int


@dataclass(frozen=True)
class ClinicalScoring:
    method: Literal["all_scored", "at_least"]
    min_measures_met: int
    min_measures_scored: int


@dataclass(frozen=True)
class Tier1:
    clause: str
    basis: Literal["per_attributed_member", "per_measure_met"]
    amount: Decimal
    cap: Decimal | None


@dataclass(frozen=True)
class Tier2:
    clause: str
    gate: Literal["tier1_met"]
    population: Literal["attributed", "targeted"]
    engaged_min_share: Decimal
    basis: Literal["per_engaged_member", "flat"]
    amount: Decimal
    cap: Decimal | None


@dataclass(frozen=True)
class TimeBand:
    from_minutes: int
    to_minutes: int
    fee: Decimal


@dataclass(frozen=True)
class EncounterFees:
    clause: str
    unit_rule: MtmUnitRule
    fees: Mapping[str, Decimal]  # CPT code -> fee per unit (used when time_bands is empty)
    time_bands: tuple[TimeBand, ...]  # fee by total minutes, an alternative to CPT units
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class Pmpm:
    clause: str
    amount: Decimal
    engagement_window_months: int
    kinds: tuple[str, ...]
    cap: Decimal | None


@dataclass(frozen=True)
class Engagement:
    kinds: tuple[str, ...]  # encounter kinds that count as engagement (CMR, TMR)
    same_pharmacy: bool


@dataclass(frozen=True)
class WorklistWeights:
    gap_points: Mapping[str, int]
    benchmark_mover_points: int
    points_per_30_days_since_contact: int
    max_contact_points: int


@dataclass(frozen=True)
class RoiSettings:
    high_risk_top_share: Decimal


@dataclass(frozen=True)
class ProgramContract:
    program_id: str
    year: int
    title: str
    version: str
    rule_file: str
    example: bool
    period_start: date
    period_end: date
    lines_of_business: tuple[str, ...]
    pharmacy_attribution: PharmacyAttribution
    practice_attribution: PracticeAttribution | None
    targeting: Targeting | None
    measures: tuple[MeasureTarget, ...]
    scoring: ClinicalScoring | None
    tier1: Tier1 | None
    tier2: Tier2 | None
    engagement: Engagement
    encounter_fees: EncounterFees | None
    pmpm: Pmpm | None
    worklist: WorklistWeights
    roi: RoiSettings

    def clause(self, part: str) -> str:
        """``pie/2025.yaml#tier1 (§3.1 ...)``: where a payment line comes from."""
        names = {
            "tier1": self.tier1,
            "tier2": self.tier2,
            "encounter_fees": self.encounter_fees,
            "pmpm": self.pmpm,
        }
        section = names.get(part)
        label = getattr(section, "clause", "") if section is not None else ""
        return f"{self.rule_file}#{part}" + (f" ({label})" if label else "")

    def with_targets(self, targets: Mapping[str, Decimal]) -> ProgramContract:
        """The same contract with some benchmark targets changed (what-if)."""
        unknown = set(targets) - {m.key for m in self.measures}
        if unknown:
            raise KeyError(f"unknown benchmark(s) {sorted(unknown)}; known: {[m.key for m in self.measures]}")
        measures = tuple(
            MeasureTarget(
                m.key,
                m.measure_id,
                m.group_id,
                m.label,
                targets.get(m.key, m.target),
                m.direction,
                m.min_denominator,
            )
            for m in self.measures
        )
        return replace(self, measures=measures)


# --- scoring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureScore:
    target: MeasureTarget
    denominator: int
    numerator: int
    status: MeasureStatus
    reason: str
    members_needed: int  # more numerator members needed to meet the target (0 when met)

    @property
    def rate(self) -> Decimal | None:
        if self.denominator == 0:
            return None
        return Decimal(self.numerator) / Decimal(self.denominator)


def members_needed(target: MeasureTarget, denominator: int, numerator: int) -> int:
    """How many more members must move into (or, for a lower-is-better measure, out of) the numerator.

    Higher is better: need n / d >= t, i.e. n >= ceil(t * d). Lower is better: n / d <= t, i.e.
    n <= floor(t * d). Exact in Decimal, so 0.70 * 10 is 7, not 6.999...
    """
    bound = target.target * Decimal(denominator)
    if target.direction == "higher":
        return max(0, math.ceil(bound) - numerator)
    return max(0, numerator - math.floor(bound))


def score_measure(
    target: MeasureTarget, denominator: int, numerator: int, program_has_data: bool = True
) -> MeasureScore:
    """Met / not met against the benchmark, or not scored (too few members, or no data at all)."""
    if not program_has_data:
        return MeasureScore(
            target,
            denominator,
            numerator,
            "no_data",
            f"no member of the program year is in the {target.measure_id} denominator; "
            "the measure is reported, not scored",
            0,
        )
    if denominator < target.min_denominator:
        return MeasureScore(
            target,
            denominator,
            numerator,
            "too_small",
            f"denominator {denominator} is below the minimum {target.min_denominator}; not scored",
            0,
        )
    needed = members_needed(target, denominator, numerator)
    comparison = ">=" if target.direction == "higher" else "<="
    rate = _percent(Decimal(numerator) / Decimal(denominator))
    wanted = f"target {comparison} {_percent(target.target)}"
    if needed == 0:
        return MeasureScore(
            target, denominator, numerator, "met", f"{numerator}/{denominator} = {rate}, {wanted}: met", 0
        )
    move = "more in the numerator" if target.direction == "higher" else "fewer in the numerator"
    return MeasureScore(
        target,
        denominator,
        numerator,
        "not_met",
        f"{numerator}/{denominator} = {rate}, {wanted}: not met ({needed} {move} needed)",
        needed,
    )


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)} %"


@dataclass(frozen=True)
class ClinicalResult:
    met: bool
    measures_met: int
    measures_scored: int
    reason: str


def score_clinical(scores: Sequence[MeasureScore], scoring: ClinicalScoring) -> ClinicalResult:
    """Whether the pharmacy met the clinical benchmarks as a whole (the gate of tier 2)."""
    scored = [s for s in scores if s.status in ("met", "not_met")]
    met = sum(1 for s in scored if s.status == "met")
    if len(scored) < scoring.min_measures_scored:
        return ClinicalResult(
            False,
            met,
            len(scored),
            f"{len(scored)} measure(s) scored, fewer than the {scoring.min_measures_scored} "
            "the contract requires",
        )
    needed = len(scored) if scoring.method == "all_scored" else scoring.min_measures_met
    ok = met >= needed and met > 0
    verdict = "met" if ok else "not met"
    return ClinicalResult(
        ok,
        met,
        len(scored),
        f"{met} of {len(scored)} scored measure(s) met, {needed} required: clinical benchmarks {verdict}",
    )


# --- payment lines -------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentLine:
    """One line of a pharmacy statement: what, how much, for whom, and by which clause."""

    pharmacy_id: int
    component: Literal["encounter_fee", "tier1", "tier2", "pmpm"]
    description: str
    quantity: int
    unit_amount: Decimal
    amount: Decimal  # rounded, capped: the money
    clause: str
    evidence: str
    member_ids: tuple[int, ...] = ()
    detail_key: str = ""  # e.g. the MTM encounter key of an encounter-fee line


def apply_cap(amount: Decimal, cap: Decimal | None) -> tuple[Decimal, str]:
    """The amount after the cap (never negative) and a note when the cap bit."""
    amount = max(amount, ZERO)
    if cap is not None and amount > cap:
        return cap, f"capped at {cap} (uncapped {round_cents(amount)})"
    return amount, ""


def pay_tier1(
    pharmacy_id: int, tier1: Tier1, clinical: ClinicalResult, attributed: Sequence[int], clause: str
) -> PaymentLine:
    """Tier 1: paid only when the clinical benchmarks are met."""
    quantity = 0
    if clinical.met:
        quantity = len(attributed) if tier1.basis == "per_attributed_member" else clinical.measures_met
    raw = tier1.amount * quantity
    amount, cap_note = apply_cap(raw, tier1.cap)
    unit = "attributed member" if tier1.basis == "per_attributed_member" else "measure met"
    evidence = clinical.reason + (f"; {cap_note}" if cap_note else "")
    members = tuple(sorted(attributed)) if clinical.met else ()
    return PaymentLine(
        pharmacy_id,
        "tier1",
        f"Clinical performance: {quantity} x {tier1.amount} per {unit}",
        quantity,
        tier1.amount,
        round_cents(amount),
        clause,
        evidence,
        members,
    )


@dataclass(frozen=True)
class EngagementCount:
    population: int
    engaged: tuple[int, ...]

    @property
    def share(self) -> Decimal:
        return Decimal(len(self.engaged)) / Decimal(self.population) if self.population else ZERO


def engaged_needed(tier2: Tier2, count: EngagementCount) -> int:
    """More engaged members needed to reach the tier-2 share."""
    return max(0, math.ceil(tier2.engaged_min_share * count.population) - len(count.engaged))


def pay_tier2(
    pharmacy_id: int,
    tier2: Tier2,
    tier1_line: PaymentLine | None,
    clinical: ClinicalResult,
    count: EngagementCount,
    clause: str,
) -> PaymentLine:
    """Tier 2: gated on tier 1, paid when the engaged share reaches the threshold."""
    share = _percent(count.share)
    wanted = _percent(tier2.engaged_min_share)
    gate_open = clinical.met and tier1_line is not None
    reached = count.population > 0 and engaged_needed(tier2, count) == 0
    if not gate_open:
        quantity, evidence = 0, f"gate closed: tier 1 not met ({clinical.reason})"
    elif not reached:
        quantity = 0
        evidence = (
            f"{len(count.engaged)} of {count.population} {tier2.population} members engaged = {share}, "
            f"below {wanted} ({engaged_needed(tier2, count)} more needed)"
        )
    else:
        quantity = len(count.engaged) if tier2.basis == "per_engaged_member" else 1
        evidence = (
            f"{len(count.engaged)} of {count.population} {tier2.population} members engaged = {share} "
            f">= {wanted}"
        )
    raw = tier2.amount * quantity
    amount, cap_note = apply_cap(raw, tier2.cap)
    if cap_note:
        evidence += f"; {cap_note}"
    unit = "engaged member" if tier2.basis == "per_engaged_member" else "pharmacy"
    members = tuple(sorted(count.engaged)) if quantity else ()
    return PaymentLine(
        pharmacy_id,
        "tier2",
        f"Engagement: {quantity} x {tier2.amount} per {unit}",
        quantity,
        tier2.amount,
        round_cents(amount),
        clause,
        evidence,
        members,
    )


def price_encounter(
    fees: EncounterFees, minutes: int, codes: Sequence[tuple[str, int]]
) -> tuple[Decimal, str]:
    """Fee of one MTM encounter: by time band when the contract has bands, else CPT units x fee."""
    if fees.time_bands:
        for band in fees.time_bands:
            if band.from_minutes <= minutes <= band.to_minutes:
                return band.fee, f"{minutes} min in band {band.from_minutes}-{band.to_minutes} min"
        return ZERO, f"{minutes} min is in no fee band"
    total = ZERO
    parts = []
    for code, units in codes:
        fee = fees.fees.get(code, ZERO)
        total += fee * units
        parts.append(f"{code} x{units} @ {fee}")
    return round_cents(total), ", ".join(parts) if parts else "no billable units"


def allocate_to_members(amount: Decimal, member_ids: Sequence[int]) -> dict[int, Decimal]:
    """Spread a line over its members in whole cents that sum exactly to the line."""
    members = sorted(set(member_ids))
    if not members:
        return {}
    cents = int((amount / CENT).to_integral_value())
    base, remainder = divmod(cents, len(members))
    return {m: (Decimal(base + (1 if i < remainder else 0)) * CENT) for i, m in enumerate(members)}


@dataclass(frozen=True)
class Statement:
    pharmacy_id: int
    lines: tuple[PaymentLine, ...]
    scores: tuple[MeasureScore, ...] = ()
    clinical: ClinicalResult | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    def component_total(self, component: str) -> Decimal:
        return sum((line.amount for line in self.lines if line.component == component), ZERO)


def members_to_meet_clinical(scores: Sequence[MeasureScore], scoring: ClinicalScoring) -> int | None:
    """Fewest more numerator members that make the clinical benchmarks met (None: cannot, too few scored).

    Cheapest first: the missed benchmarks needing the fewest members are the ones to close.
    """
    scored = [s for s in scores if s.status in ("met", "not_met")]
    if len(scored) < scoring.min_measures_scored:
        return None
    met = sum(1 for s in scored if s.status == "met")
    required = len(scored) if scoring.method == "all_scored" else scoring.min_measures_met
    missing = max(0, required - met, 1 - met)
    if missing == 0:
        return 0
    needs = sorted(s.members_needed for s in scored if s.status == "not_met")
    if len(needs) < missing:
        return None
    return sum(needs[:missing])
