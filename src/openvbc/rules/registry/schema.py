"""Schemas and loaders of the registry rule files (``rules/registry/**``).

Five kinds, each extending the common :class:`~openvbc.rules.schema.RuleHeader` so every file names
its public source, version and effective dates:

- ``prom_instrument`` -- items, answer range, scoring method, missing-answer limit and MCID;
- ``opioid_reference`` -- CDC 2022 MME conversion factors per ingredient and the (synthetic) NDCs of
  opioid and benzodiazepine products with their strength;
- ``opioid_measures`` -- the PQA OHD and COB thresholds and exclusion diagnoses;
- ``spine_episodes`` -- low-back-pain ICD-10-CM prefixes, the clean period and PROM windows;
- ``mips_measure_map`` -- per performance year: MIPS quality id -> engine measure, strata, inverse
  flag, collection type and the identifiers a QRDA III needs.

``rules/schema.py`` imports :data:`REGISTRY_YAML_KINDS` on use to validate these kinds with the rest
of the tree; the loaders below turn a validated file into the frozen values the domain and engine
take, and report a bad file with its path, line and field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from openvbc.domain.proms import Mcid, PromInstrument
from openvbc.domain.spine import EpisodeRule, Timepoint
from openvbc.rules.resources import RuleFileNotFound, read_rule_text
from openvbc.rules.schema import Period, RuleHeader, parse_rule_text

OPIOID_REFERENCE = "registry/opioids/mme_reference.yaml"
SPINE_EPISODES = "registry/spine/low_back_pain.yaml"
_ICD10_PREFIX = re.compile(r"^[A-Z][0-9][0-9A-Z]{0,5}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_prefixes(values: list[str]) -> list[str]:
    bad = [value for value in values if not _ICD10_PREFIX.match(value)]
    if bad:
        raise ValueError(f"not ICD-10-CM prefixes without the dot: {bad}")
    return values


# --- PROM instruments -------------------------------------------------------------------------


class PromItem(_Strict):
    id: StrictStr = Field(pattern=_NAME.pattern)
    title: StrictStr = Field(min_length=1)


class McidSpec(_Strict):
    points: float | None = Field(default=None, gt=0)
    percent: float | None = Field(default=None, gt=0, le=100)
    rule: Literal["either", "points", "percent", "both"] = "either"
    source: StrictStr = Field(min_length=1)

    @model_validator(mode="after")
    def check_some_threshold(self) -> McidSpec:
        if self.points is None and self.percent is None:
            raise ValueError("an MCID needs points, percent or both")
        return self


class PromInstrumentFile(RuleHeader):
    kind: Literal["prom_instrument"]
    notes: StrictStr | None = None
    items: list[PromItem] = Field(min_length=1)
    item_min: int
    item_max: int
    scoring: Literal["percent_of_answered", "single_item"]
    max_missing: int = Field(ge=0)
    direction: Literal["lower_is_better", "higher_is_better"]
    decimals: int = Field(default=1, ge=0, le=4)
    mcid: McidSpec

    @model_validator(mode="after")
    def check_shape(self) -> PromInstrumentFile:
        if self.item_max <= self.item_min:
            raise ValueError(f"item_max {self.item_max} must exceed item_min {self.item_min}")
        if self.scoring == "single_item" and len(self.items) != 1:
            raise ValueError("single_item scoring needs exactly one item")
        if self.max_missing >= len(self.items):
            raise ValueError("max_missing must leave at least one answered item")
        ids = [item.id for item in self.items]
        if len(set(ids)) != len(ids):
            raise ValueError("item ids must be unique")
        return self


# --- opioids and benzodiazepines --------------------------------------------------------------


class OpioidIngredient(_Strict):
    mme_factor: float = Field(gt=0)
    strength_unit: Literal["mg", "mcg/hr"]
    note: StrictStr | None = None


class DrugProductRow(_Strict):
    ndc11: StrictStr = Field(pattern=r"^\d{11}$")
    ingredient: StrictStr = Field(min_length=1)
    strength: float = Field(gt=0)  # per dispensed unit (tablet, mL, patch) in the ingredient's unit
    unit_days: int = Field(default=1, ge=1)  # days one unit acts (3 for a 72-hour patch)
    dose_form: StrictStr = Field(min_length=1)


class OpioidReferenceFile(RuleHeader):
    kind: Literal["opioid_reference"]
    notes: StrictStr | None = None
    opioids: dict[str, OpioidIngredient] = Field(min_length=1)
    benzodiazepines: list[StrictStr] = Field(min_length=1)
    opioid_products: list[DrugProductRow] = Field(min_length=1)
    benzodiazepine_products: list[DrugProductRow] = Field(min_length=1)

    @model_validator(mode="after")
    def check_references(self) -> OpioidReferenceFile:
        for row in self.opioid_products:
            if row.ingredient not in self.opioids:
                raise ValueError(f"opioid product {row.ndc11} names unknown ingredient {row.ingredient!r}")
        for row in self.benzodiazepine_products:
            if row.ingredient not in self.benzodiazepines:
                raise ValueError(
                    f"benzodiazepine product {row.ndc11} names unknown ingredient {row.ingredient!r}"
                )
        ndcs = [row.ndc11 for row in [*self.opioid_products, *self.benzodiazepine_products]]
        duplicates = sorted({ndc for ndc in ndcs if ndcs.count(ndc) > 1})
        if duplicates:
            raise ValueError(f"NDCs listed twice: {duplicates}")
        return self


class OpioidPopulation(_Strict):
    age_min: int = Field(ge=0)
    min_opioid_fills: int = Field(ge=1)  # on different dates of service
    min_opioid_days_supply: int = Field(ge=1)  # cumulative, fills dated in the period
    exclusion_icd10_prefixes: dict[str, list[StrictStr]] = Field(min_length=1)
    hospice_value_set: StrictStr = Field(min_length=1)  # OID of an encounter value set

    @model_validator(mode="after")
    def check_codes(self) -> OpioidPopulation:
        for prefixes in self.exclusion_icd10_prefixes.values():
            _check_prefixes(prefixes)
        return self


class OhdSpec(_Strict):
    title: StrictStr = Field(min_length=1)
    mme_threshold: float = Field(gt=0)
    min_consecutive_days: int = Field(ge=1)


class CobSpec(_Strict):
    title: StrictStr = Field(min_length=1)
    min_benzodiazepine_fills: int = Field(ge=1)
    min_overlap_days: int = Field(ge=1)


class OpioidMeasuresFile(RuleHeader):
    kind: Literal["opioid_measures"]
    year: int = Field(ge=2000, le=2100)
    measurement_period: Period
    notes: StrictStr | None = None
    population: OpioidPopulation
    ohd: OhdSpec
    cob: CobSpec


# --- spine episodes ---------------------------------------------------------------------------


class TimepointSpec(_Strict):
    name: StrictStr = Field(pattern=_NAME.pattern)
    from_day: int
    to_day: int
    target_day: int

    @model_validator(mode="after")
    def check_window(self) -> TimepointSpec:
        if not self.from_day <= self.target_day <= self.to_day:
            raise ValueError(f"target_day {self.target_day} is outside [{self.from_day}, {self.to_day}]")
        return self


class SpineEpisodesFile(RuleHeader):
    kind: Literal["spine_episodes"]
    notes: StrictStr | None = None
    icd10cm_prefixes: list[StrictStr] = Field(min_length=1)
    clean_period_days: int = Field(ge=1)
    baseline: TimepointSpec
    follow_ups: list[TimepointSpec] = Field(min_length=1)
    outcome_follow_up: StrictStr
    outcome_instruments: list[StrictStr] = Field(min_length=1)

    @model_validator(mode="after")
    def check_links(self) -> SpineEpisodesFile:
        _check_prefixes(self.icd10cm_prefixes)
        names = [self.baseline.name, *[f.name for f in self.follow_ups]]
        if self.outcome_follow_up not in names[1:]:
            raise ValueError(f"outcome_follow_up {self.outcome_follow_up!r} is not one of the follow-ups")
        if len(set(names)) != len(names):
            raise ValueError("time point names must be unique")
        return self


# --- MIPS measure map -------------------------------------------------------------------------


class QrdaPopulationIds(_Strict):
    IPOP: StrictStr | None = None
    DENOM: StrictStr | None = None
    DENEX: StrictStr | None = None
    DENEXCEP: StrictStr | None = None
    NUMER: StrictStr | None = None


class MipsStratum(_Strict):
    group_id: StrictStr = Field(min_length=1)  # the engine result group
    stratum: StrictStr = Field(min_length=1)  # the QPP stratum name
    qrda_population_ids: QrdaPopulationIds | None = None


class MipsMeasure(_Strict):
    quality_id: StrictStr = Field(min_length=1)
    title: StrictStr = Field(min_length=1)
    source: Literal["engine", "opioids", "spine"]
    engine_measure: StrictStr = Field(min_length=1)  # CMS165, PQA-OHD, SPINE-ODI-MCID ...
    inverse: bool
    metric_type: Literal["singlePerformanceRate", "multiPerformanceRate", "registrySinglePerformanceRate"]
    submission_method: Literal["electronicHealthRecord", "registry"]
    qcdr: bool = False  # a registry measure whose id CMS assigns at QCDR self-nomination
    strata: list[MipsStratum] = Field(min_length=1)
    qrda_version_specific_id: StrictStr | None = None
    qrda_id_source: StrictStr | None = None

    @model_validator(mode="after")
    def check_strata(self) -> MipsMeasure:
        if self.metric_type == "multiPerformanceRate" and len(self.strata) < 2:
            raise ValueError(f"measure {self.quality_id}: multiPerformanceRate needs two or more strata")
        if self.metric_type != "multiPerformanceRate" and len(self.strata) != 1:
            raise ValueError(f"measure {self.quality_id}: a single-rate measure has exactly one stratum")
        return self


class MipsMeasureMapFile(RuleHeader):
    kind: Literal["mips_measure_map"]
    year: int = Field(ge=2017, le=2100)
    performance_period: Period
    notes: StrictStr | None = None
    measures: list[MipsMeasure] = Field(min_length=1)

    @model_validator(mode="after")
    def check_unique(self) -> MipsMeasureMapFile:
        ids = [m.quality_id for m in self.measures]
        if len(set(ids)) != len(ids):
            raise ValueError("a quality id is listed twice")
        if self.performance_period.start.year != self.year:
            raise ValueError(f"performance_period does not start in {self.year}")
        return self


# For rules/schema.py::_model_for (imported there on use: this module builds on schema.py).
REGISTRY_YAML_KINDS: dict[str, type[RuleHeader]] = {
    "prom_instrument": PromInstrumentFile,
    "opioid_reference": OpioidReferenceFile,
    "opioid_measures": OpioidMeasuresFile,
    "spine_episodes": SpineEpisodesFile,
    "mips_measure_map": MipsMeasureMapFile,
}

_File = TypeVar("_File", bound=RuleHeader)


def parse_registry_file(text: str, file: str, model: type[_File]) -> _File:
    """Validate one registry rule text (the one parser in ``rules.schema.parse_rule_text``)."""
    return parse_rule_text(text, file, model)


@lru_cache(maxsize=16)
def _load(relative_path: str, model: type[RuleHeader]) -> RuleHeader:
    return parse_registry_file(read_rule_text(relative_path), relative_path, model)


def _typed(relative_path: str, model: type[_File]) -> _File:
    loaded = _load(relative_path, model)
    assert isinstance(loaded, model)
    return loaded


# --- frozen values for the domain and the engine ---------------------------------------------


def to_instrument(file: PromInstrumentFile) -> PromInstrument:
    return PromInstrument(
        id=file.id,
        version=file.version,
        items=tuple(item.id for item in file.items),
        item_min=file.item_min,
        item_max=file.item_max,
        scoring=file.scoring,
        max_missing=file.max_missing,
        direction=file.direction,
        mcid=Mcid(points=file.mcid.points, percent=file.mcid.percent, rule=file.mcid.rule),
        decimals=file.decimals,
    )


PROM_FILES = {"ODI": "registry/proms/odi_2_1a.yaml", "NPRS": "registry/proms/nprs.yaml"}


def load_prom_instrument(instrument_id: str) -> PromInstrument:
    """A PROM instrument by id (``ODI``, ``NPRS``)."""
    try:
        relative = PROM_FILES[instrument_id.upper()]
    except KeyError:
        known = ", ".join(sorted(PROM_FILES))
        raise RuleFileNotFound(f"unknown PROM instrument {instrument_id!r}; known: {known}") from None
    return to_instrument(_typed(relative, PromInstrumentFile))


@dataclass(frozen=True)
class DrugProducts:
    """Rows of the product table the opioid expressions join on (one row per NDC)."""

    version: str
    ndc11: tuple[str, ...]
    ingredient: tuple[str, ...]
    kind: tuple[str, ...]  # opioid | benzodiazepine
    strength: tuple[float, ...]
    unit_days: tuple[int, ...]
    mme_factor: tuple[float, ...]  # 0 for benzodiazepines

    def columns(self) -> dict[str, list[object]]:
        return {
            "ndc11": list(self.ndc11),
            "ingredient": list(self.ingredient),
            "kind": list(self.kind),
            "strength": list(self.strength),
            "unit_days": list(self.unit_days),
            "mme_factor": list(self.mme_factor),
        }


def to_drug_products(file: OpioidReferenceFile) -> DrugProducts:
    rows = [
        (p.ndc11, p.ingredient, "opioid", p.strength, p.unit_days, file.opioids[p.ingredient].mme_factor)
        for p in file.opioid_products
    ] + [
        (p.ndc11, p.ingredient, "benzodiazepine", p.strength, p.unit_days, 0.0)
        for p in file.benzodiazepine_products
    ]
    return DrugProducts(
        version=f"{file.id}@{file.version}",
        ndc11=tuple(r[0] for r in rows),
        ingredient=tuple(r[1] for r in rows),
        kind=tuple(r[2] for r in rows),
        strength=tuple(float(r[3]) for r in rows),
        unit_days=tuple(int(r[4]) for r in rows),
        mme_factor=tuple(float(r[5]) for r in rows),
    )


def load_opioid_reference() -> OpioidReferenceFile:
    return _typed(OPIOID_REFERENCE, OpioidReferenceFile)


def load_drug_products() -> DrugProducts:
    """Opioid and benzodiazepine products with strength and MME factor (CDC 2022 table)."""
    return to_drug_products(load_opioid_reference())


def load_opioid_measures(year: int) -> OpioidMeasuresFile:
    """``registry/opioids/pqa_<year>.yaml``: OHD and COB parameters for a measurement year."""
    return _typed(f"registry/opioids/pqa_{year}.yaml", OpioidMeasuresFile)


def to_episode_rule(file: SpineEpisodesFile) -> EpisodeRule:
    def point(spec: TimepointSpec) -> Timepoint:
        return Timepoint(spec.name, spec.from_day, spec.to_day, spec.target_day)

    return EpisodeRule(
        version=f"{file.id}@{file.version}",
        icd10_prefixes=tuple(file.icd10cm_prefixes),
        clean_period_days=file.clean_period_days,
        baseline=point(file.baseline),
        follow_ups=tuple(point(f) for f in file.follow_ups),
        outcome_follow_up=file.outcome_follow_up,
    )


def load_spine_file() -> SpineEpisodesFile:
    return _typed(SPINE_EPISODES, SpineEpisodesFile)


def load_spine_rule() -> EpisodeRule:
    return to_episode_rule(load_spine_file())


def load_mips_map(year: int) -> MipsMeasureMapFile:
    """``registry/mips/<year>.yaml``: which measures a MIPS submission for the year carries."""
    return _typed(f"registry/mips/{year}.yaml", MipsMeasureMapFile)
