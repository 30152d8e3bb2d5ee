"""The ``program`` rule kind: a pharmacy program contract (``rules/programs/<program>/<year>.yaml``).

Strict: unknown fields are errors, money is written as a string of dollars and cents, rates as
percentages in 0-100, and the contradictions a contract author can make (tier 2 without a gate,
tier 2 with no tier 1 to gate on, overlapping or reversed fee bands, a benchmark outside
0-100 %) are rejected with the field named. :func:`to_contract` turns a valid file into the pure
:class:`openvbc.domain.contract.ProgramContract`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    field_validator,
    model_validator,
)

from openvbc.domain import contract as c
from openvbc.domain.mtm_units import MtmUnitRule
from openvbc.rules.schema import Period, RuleHeader

LINES_OF_BUSINESS = ("commercial", "medicare", "medicaid", "exchange")
ENCOUNTER_KINDS = ("CMR", "TMR", "FOLLOWUP")
Kind = Literal["CMR", "TMR", "FOLLOWUP"]
Percent = Field(ge=0, le=100)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _money(value: Any) -> str:
    if isinstance(value, float):
        # A YAML float has already lost the cents' exactness; ask for a quoted string.
        raise ValueError(
            f'write amounts as quoted strings of dollars and cents ("{value:.2f}"), not {value!r}'
        )
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError(f"not an amount in dollars and cents: {value!r}")
    text = str(value)
    try:
        parsed = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not an amount in dollars and cents: {value!r}") from None
    if parsed < 0 or parsed != parsed.quantize(Decimal("0.01")):
        raise ValueError(f"must be a non-negative amount in whole cents: {value!r}")
    return text


Money = Annotated[str, BeforeValidator(_money)]


class PharmacyAttributionFile(_Strict):
    method: Literal["plurality_fills", "pqa_days_supply"]
    lookback_months: int = Field(ge=1, le=36)
    pqa_min_share_percent: Decimal = Field(default=Decimal(51), gt=0, le=100)
    pqa_drug_classes: list[StrictStr] = []

    @model_validator(mode="after")
    def check_classes(self) -> PharmacyAttributionFile:
        if self.method == "pqa_days_supply" and not self.pqa_drug_classes:
            raise ValueError("pqa_days_supply needs pqa_drug_classes (the target-medication classes)")
        return self


class PracticeAttributionFile(_Strict):
    method: Literal["mssp_allowed_charges"]
    lookback_months: int = Field(ge=1, le=36)
    primary_care_codes: list[StrictStr] = Field(min_length=1)
    primary_care_taxonomies: list[StrictStr] = Field(min_length=1)


class AttributionFile(_Strict):
    pharmacy: PharmacyAttributionFile
    practice: PracticeAttributionFile | None = None
    snapshots: Literal["monthly", "none"] = "monthly"


class TargetingFile(_Strict):
    lookback_months: int = Field(ge=1, le=36)
    chronic_conditions: dict[str, list[StrictStr]] = Field(min_length=1)
    min_conditions: int = Field(ge=0)
    min_maintenance_drugs: int = Field(ge=0)
    min_annual_drug_cost: Money

    @field_validator("chronic_conditions")
    @classmethod
    def check_prefixes(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, prefixes in value.items():
            if not prefixes:
                raise ValueError(f"{name}: needs at least one ICD-10-CM prefix")
            bad = [p for p in prefixes if not (p[:1].isalpha() and p.isalnum() and 3 <= len(p) <= 7)]
            if bad:
                raise ValueError(f"{name}: not ICD-10-CM code prefixes without dots: {bad}")
        return value


class MeasureTargetFile(_Strict):
    key: StrictStr = Field(pattern=r"^[a-z][a-z0-9_]*$")
    measure: StrictStr = Field(min_length=1)
    group: StrictStr = Field(min_length=1)
    label: StrictStr = Field(min_length=1)
    target_percent: Decimal = Percent
    direction: Literal["higher", "lower"]
    min_denominator: int = Field(ge=1)


class ClinicalScoringFile(_Strict):
    method: Literal["all_scored", "at_least"]
    min_measures_met: int = Field(default=1, ge=1)
    min_measures_scored: int = Field(default=1, ge=1)


class Tier1File(_Strict):
    clause: StrictStr = Field(min_length=1)
    basis: Literal["per_attributed_member", "per_measure_met"]
    amount: Money
    cap: Money | None = None


class Tier2File(_Strict):
    clause: StrictStr = Field(min_length=1)
    # PIE pays tier 2 "only if clinical benchmarks were met first" (domain-rules.md §A3): no default.
    gate: Literal["tier1_met"]
    population: Literal["attributed", "targeted"]
    engaged_min_percent: Decimal = Percent
    basis: Literal["per_engaged_member", "flat"]
    amount: Money
    cap: Money | None = None


class TimeBandFile(_Strict):
    from_minutes: int = Field(ge=1)
    to_minutes: int = Field(ge=1)
    fee: Money

    @model_validator(mode="after")
    def check_order(self) -> TimeBandFile:
        if self.to_minutes < self.from_minutes:
            raise ValueError(f"to_minutes {self.to_minutes} is before from_minutes {self.from_minutes}")
        return self


class EncounterFeesFile(_Strict):
    clause: StrictStr = Field(min_length=1)
    block_minutes: int = Field(ge=1, le=120)
    rounding: Literal["any_partial", "half_block", "full_block_only"]
    new_patient_lookback_days: int = Field(ge=0)
    max_addon_units: int | None = Field(default=None, ge=0)
    fees: dict[str, Money] = {}
    time_bands: list[TimeBandFile] = []
    kinds: list[Kind] = Field(min_length=1)

    @field_validator("fees")
    @classmethod
    def check_fees(cls, value: dict[str, str]) -> dict[str, str]:
        for code in value:
            if code not in ("99605", "99606", "99607"):
                raise ValueError(f"fee for {code}: only 99605, 99606 and 99607 are MTM time codes")
        return value

    @field_validator("time_bands")
    @classmethod
    def check_bands(cls, bands: list[TimeBandFile]) -> list[TimeBandFile]:
        ordered = sorted(bands, key=lambda b: b.from_minutes)
        for before, after in pairwise(ordered):
            if after.from_minutes <= before.to_minutes:
                raise ValueError(
                    f"fee bands overlap: {before.from_minutes}-{before.to_minutes} and "
                    f"{after.from_minutes}-{after.to_minutes} min"
                )
        return bands

    @model_validator(mode="after")
    def check_one_basis(self) -> EncounterFeesFile:
        if bool(self.fees) == bool(self.time_bands):
            raise ValueError("give exactly one of fees (per CPT unit) or time_bands (per encounter)")
        if self.fees and not {"99605", "99606"} <= set(self.fees):
            raise ValueError("fees need both 99605 (new) and 99606 (established)")
        return self


class PmpmFile(_Strict):
    clause: StrictStr = Field(min_length=1)
    amount: Money
    engagement_window_months: int = Field(ge=1, le=12)
    kinds: list[Kind] = Field(min_length=1)
    cap: Money | None = None


class EngagementFile(_Strict):
    kinds: list[Kind] = Field(min_length=1)
    same_pharmacy: bool


class WorklistFile(_Strict):
    gap_points: dict[
        Literal[
            "bp_not_controlled",
            "bp_not_measured",
            "a1c_over_9",
            "a1c_missing",
            "tobacco_user",
            "pdc_below_80",
            "pdc_at_risk",
        ],
        int,
    ] = Field(min_length=1)
    benchmark_mover_points: int = Field(ge=0)
    points_per_30_days_since_contact: int = Field(ge=0)
    max_contact_points: int = Field(ge=0)


class RoiFile(_Strict):
    high_risk_top_percent: Decimal = Field(gt=0, le=100)


class ProgramRule(RuleHeader):
    kind: Literal["program"]
    example: bool
    notes: StrictStr | None = None
    year: int = Field(ge=2000, le=2100)
    period: Period
    lines_of_business: list[Literal["commercial", "medicare", "medicaid", "exchange"]] = Field(min_length=1)
    attribution: AttributionFile
    targeting: TargetingFile | None = None
    measures: list[MeasureTargetFile] = Field(default_factory=list)
    clinical_scoring: ClinicalScoringFile | None = None
    tier1: Tier1File | None = None
    tier2: Tier2File | None = None
    engagement: EngagementFile
    encounter_fees: EncounterFeesFile | None = None
    pmpm: PmpmFile | None = None
    worklist: WorklistFile
    roi: RoiFile = RoiFile(high_risk_top_percent=Decimal(20))

    @model_validator(mode="after")
    def check_contract(self) -> ProgramRule:
        if self.period.start.year != self.year:
            raise ValueError(f"year {self.year} contradicts period.start {self.period.start}")
        keys = [m.key for m in self.measures]
        if len(set(keys)) != len(keys):
            raise ValueError(f"measures: benchmark keys must be unique, got {keys}")
        if self.tier1 is not None and (not self.measures or self.clinical_scoring is None):
            raise ValueError("tier1 needs measures and clinical_scoring to decide whether it is met")
        if self.tier2 is not None and self.tier1 is None:
            raise ValueError("tier2 is gated on tier 1, but the contract has no tier1")
        if self.tier2 is not None and self.tier2.population == "targeted" and self.targeting is None:
            raise ValueError("tier2.population is targeted but the contract has no targeting section")
        scoring = self.clinical_scoring
        if (
            scoring is not None
            and scoring.method == "at_least"
            and scoring.min_measures_met > len(self.measures)
        ):
            raise ValueError(
                f"clinical_scoring.min_measures_met {scoring.min_measures_met} exceeds the "
                f"{len(self.measures)} measure(s) listed"
            )
        if self.tier1 is None and self.encounter_fees is None and self.pmpm is None:
            raise ValueError("a program must pay something: tier1, encounter_fees or pmpm")
        return self


def _d(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _share(percent: Decimal) -> Decimal:
    return percent / Decimal(100)


def to_contract(rule: ProgramRule, rule_file: str) -> c.ProgramContract:
    """The pure contract value of a validated program file."""
    a = rule.attribution
    practice = None
    if a.practice is not None:
        practice = c.PracticeAttribution(
            a.practice.method,
            a.practice.lookback_months,
            tuple(a.practice.primary_care_codes),
            tuple(a.practice.primary_care_taxonomies),
        )
    targeting = None
    if rule.targeting is not None:
        t = rule.targeting
        targeting = c.Targeting(
            t.lookback_months,
            {k: tuple(v) for k, v in t.chronic_conditions.items()},
            t.min_conditions,
            t.min_maintenance_drugs,
            Decimal(t.min_annual_drug_cost),
        )
    scoring = None
    if rule.clinical_scoring is not None:
        s = rule.clinical_scoring
        scoring = c.ClinicalScoring(s.method, s.min_measures_met, s.min_measures_scored)
    tier1 = None
    if rule.tier1 is not None:
        t1 = rule.tier1
        tier1 = c.Tier1(t1.clause, t1.basis, Decimal(t1.amount), _d(t1.cap))
    tier2 = None
    if rule.tier2 is not None:
        t2 = rule.tier2
        tier2 = c.Tier2(
            t2.clause,
            "tier1_met",
            t2.population,
            _share(t2.engaged_min_percent),
            t2.basis,
            Decimal(t2.amount),
            _d(t2.cap),
        )
    fees = None
    if rule.encounter_fees is not None:
        f = rule.encounter_fees
        unit_rule = MtmUnitRule(
            rounding=f.rounding,
            block_minutes=f.block_minutes,
            new_patient_lookback_days=f.new_patient_lookback_days,
            max_addon_units=f.max_addon_units,
        )
        bands = tuple(
            c.TimeBand(b.from_minutes, b.to_minutes, Decimal(b.fee))
            for b in sorted(f.time_bands, key=lambda b: b.from_minutes)
        )
        fees = c.EncounterFees(
            f.clause, unit_rule, {k: Decimal(v) for k, v in f.fees.items()}, bands, tuple(f.kinds)
        )
    pmpm = None
    if rule.pmpm is not None:
        p = rule.pmpm
        pmpm = c.Pmpm(p.clause, Decimal(p.amount), p.engagement_window_months, tuple(p.kinds), _d(p.cap))
    w = rule.worklist
    return c.ProgramContract(
        program_id=rule.id,
        year=rule.year,
        title=rule.title,
        version=rule.version,
        rule_file=rule_file,
        example=rule.example,
        period_start=rule.period.start,
        period_end=rule.period.end,
        lines_of_business=tuple(rule.lines_of_business),
        pharmacy_attribution=c.PharmacyAttribution(
            a.pharmacy.method,
            a.pharmacy.lookback_months,
            _share(a.pharmacy.pqa_min_share_percent),
            tuple(a.pharmacy.pqa_drug_classes),
        ),
        practice_attribution=practice,
        targeting=targeting,
        measures=tuple(
            c.MeasureTarget(
                m.key, m.measure, m.group, m.label, _share(m.target_percent), m.direction, m.min_denominator
            )
            for m in rule.measures
        ),
        scoring=scoring,
        tier1=tier1,
        tier2=tier2,
        engagement=c.Engagement(tuple(rule.engagement.kinds), rule.engagement.same_pharmacy),
        encounter_fees=fees,
        pmpm=pmpm,
        worklist=c.WorklistWeights(
            {str(k): v for k, v in w.gap_points.items()},
            w.benchmark_mover_points,
            w.points_per_30_days_since_contact,
            w.max_contact_points,
        ),
        roi=c.RoiSettings(_share(rule.roi.high_risk_top_percent)),
    )
