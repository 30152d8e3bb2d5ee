"""The one place that knows every rule-file kind and how to validate it.

Every YAML rule file starts with the same header (``kind``, ``id``, ``title``, ``version``, ``source``
{document, url, publisher}, ``effective`` {start, end}); the body depends on ``kind``. CSV rule files are
recognised by location (``valuesets/<oid>.csv``, ``drugs/ndc_reference.csv``) and checked by header
and row types in :mod:`openvbc.rules.csv_rules`. Cross-file checks (a measure naming a value set that is
not in the index) take a :class:`RuleCatalog` of what is known, so the same code validates the shipped
tree and a user's folder.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.rules.yaml_marks import MarkedYaml, YamlSyntaxError, parse_marked_yaml

NonEmpty = Field(min_length=1)
_OID = re.compile(r"^[0-2](\.(0|[1-9]\d*))+$")
_DRUG_CLASS_ID = re.compile(r"^[a-z][a-z0-9_]*$")

POPULATION_CODES = frozenset(
    {
        "initial-population",
        "denominator",
        "denominator-exclusion",
        "denominator-exception",
        "numerator",
        "numerator-exclusion",
        "measure-population",
        "measure-population-exclusion",
        "measure-observation",
    }
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSource(_Strict):
    document: StrictStr = NonEmpty
    url: StrictStr = NonEmpty
    publisher: StrictStr = NonEmpty


class Period(_Strict):
    """A closed date interval; an end before the start is a contradiction, not an empty period."""

    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def check_order(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class RuleHeader(_Strict):
    kind: StrictStr
    id: StrictStr = NonEmpty
    title: StrictStr = NonEmpty
    version: StrictStr = NonEmpty
    source: RuleSource
    effective: Period


# --- value sets -------------------------------------------------------------------------------


class ValueSetProvenance(_Strict):
    repository: StrictStr = NonEmpty
    path: StrictStr = NonEmpty
    commit: StrictStr = Field(pattern=r"^[0-9a-f]{40}$")
    license: StrictStr = NonEmpty


class ValueSetEntry(_Strict):
    oid: StrictStr = Field(pattern=_OID.pattern)
    name: StrictStr = NonEmpty
    url: StrictStr = NonEmpty
    version: StrictStr = NonEmpty
    source: ValueSetProvenance
    effective: Period
    codes: int = Field(ge=1)
    expansion_timestamp: StrictStr | None = None
    referenced_by: list[StrictStr] = []

    @model_validator(mode="after")
    def check_url_names_oid(self) -> ValueSetEntry:
        if self.url.rstrip("/").rsplit("/", 1)[-1] != self.oid:
            raise ValueError(f"url {self.url} does not end with the oid {self.oid}")
        return self


class MissingValueSet(_Strict):
    oid: StrictStr = Field(pattern=_OID.pattern)
    name: StrictStr
    url: StrictStr
    referenced_by: list[StrictStr] = []


class ValueSetIndex(RuleHeader):
    kind: Literal["value_set_index"]
    value_sets: list[ValueSetEntry] = Field(min_length=1)
    not_shipped: list[MissingValueSet] = []

    @field_validator("value_sets")
    @classmethod
    def check_unique(cls, entries: list[ValueSetEntry]) -> list[ValueSetEntry]:
        seen: set[str] = set()
        for entry in entries:
            if entry.oid in seen:
                raise ValueError(f"value set {entry.oid} is listed twice")
            seen.add(entry.oid)
        return entries


class DirectCode(_Strict):
    system: StrictStr = NonEmpty
    code: StrictStr = NonEmpty
    display: StrictStr = ""
    library: StrictStr = NonEmpty


class DirectCodes(RuleHeader):
    kind: Literal["direct_codes"]
    codes: dict[str, DirectCode] = Field(min_length=1)


# --- drugs ------------------------------------------------------------------------------------


class Ingredient(_Strict):
    name: StrictStr = Field(pattern=r"^[a-z][a-z0-9 ,\-]*$")
    rxcui: StrictStr = Field(pattern=r"^\d+$")


class DrugClass(_Strict):
    title: StrictStr = NonEmpty
    role: Literal["target", "exclusion", "other"]
    ingredients: list[Ingredient] = Field(min_length=1)
    note: StrictStr | None = None


class PdcMeasureClasses(_Strict):
    title: StrictStr = NonEmpty
    target_classes: list[StrictStr] = Field(min_length=1)
    exclusion_classes: list[StrictStr] = []
    threshold: float = Field(gt=0, le=1)


class DrugClasses(RuleHeader):
    kind: Literal["drug_classes"]
    note: StrictStr = NonEmpty
    measures: dict[str, PdcMeasureClasses] = Field(min_length=1)
    classes: dict[str, DrugClass] = Field(min_length=1)

    @model_validator(mode="after")
    def check_references(self) -> DrugClasses:
        for class_id in self.classes:
            if not _DRUG_CLASS_ID.match(class_id):
                raise ValueError(f"class id {class_id!r} must be lower_snake_case")
        for measure_id, measure in self.measures.items():
            for class_id in [*measure.target_classes, *measure.exclusion_classes]:
                if class_id not in self.classes:
                    raise ValueError(f"measure {measure_id} names class {class_id!r}, which is not defined")
            overlap = set(measure.target_classes) & set(measure.exclusion_classes)
            if overlap:
                raise ValueError(f"measure {measure_id} lists {sorted(overlap)} as both target and exclusion")
        return self


# --- calendars --------------------------------------------------------------------------------


class Holiday(_Strict):
    name: StrictStr = NonEmpty
    date: dt.date  # the legal public holiday
    observed: dt.date  # the day federal offices close (moved off a weekend)

    @model_validator(mode="after")
    def check_observed(self) -> Holiday:
        # 5 U.S.C. 6103(b): a Saturday holiday is observed the Friday before, a Sunday one the Monday after.
        weekday = self.date.weekday()
        shift = {5: -1, 6: 1}.get(weekday, 0)
        if (self.observed - self.date).days != shift:
            raise ValueError(f"observed {self.observed} does not follow the weekend rule for {self.date}")
        return self


class HolidayCalendar(RuleHeader):
    kind: Literal["holiday_calendar"]
    holidays: dict[int, list[Holiday]] = Field(min_length=1)

    @model_validator(mode="after")
    def check_years(self) -> HolidayCalendar:
        for year, days in self.holidays.items():
            for holiday in days:
                if holiday.date.year != year:
                    raise ValueError(f"{holiday.name} {holiday.date} is listed under {year}")
            if not self.effective.start.year <= year <= self.effective.end.year:
                raise ValueError(f"year {year} is outside the effective period")
        return self


# --- measures and synthetic profiles ------------------------------------------------------------


class MeasureGroup(_Strict):
    id: StrictStr = NonEmpty
    populations: list[StrictStr] = Field(min_length=1)

    @field_validator("populations")
    @classmethod
    def check_codes(cls, codes: list[str]) -> list[str]:
        unknown = [code for code in codes if code not in POPULATION_CODES]
        if unknown:
            raise ValueError(f"unknown population code(s) {unknown}; expected {sorted(POPULATION_CODES)}")
        if "initial-population" not in codes:
            raise ValueError("a group needs an initial-population")
        return codes


class MeasureRule(RuleHeader):
    kind: Literal["measure"]
    year: int = Field(ge=2000, le=2100)
    measurement_period: Period
    scoring: Literal["proportion", "ratio", "continuous-variable", "cohort"]
    improvement: Literal["increase", "decrease"]
    groups: list[MeasureGroup] = Field(min_length=1)
    value_sets: dict[str, StrictStr] = {}
    direct_codes: list[StrictStr] = []
    drug_classes: list[StrictStr] = []
    parameters: dict[str, Any] = {}

    @model_validator(mode="after")
    def check_year(self) -> MeasureRule:
        if self.measurement_period.start.year != self.year:
            raise ValueError(
                f"year {self.year} contradicts measurement_period.start {self.measurement_period.start}"
            )
        return self


class SynthProfile(RuleHeader):
    kind: Literal["synth_profile"]
    parameters: dict[str, Any] = Field(min_length=1)


YAML_KINDS: dict[str, type[RuleHeader]] = {
    "value_set_index": ValueSetIndex,
    "direct_codes": DirectCodes,
    "drug_classes": DrugClasses,
    "holiday_calendar": HolidayCalendar,
    "measure": MeasureRule,
    "synth_profile": SynthProfile,
}

# Kinds whose models live beside the code that reads them (billing, care coordination, programs,
# pharmacist workflow). Those modules build on RuleHeader here, so they are imported on use; a
# top-level import would be circular. To add a kind: write its model there and name it here.
LAZY_KIND_MODELS: dict[str, str] = {
    "program": "openvbc.rules.program_schema:ProgramRule",
    "mtm_units": "openvbc.rules.billing_schema:MtmUnitsFile",
    "fee_schedule": "openvbc.rules.billing_schema:FeeScheduleFile",
    "ccm_codes": "openvbc.rules.billing_schema:CcmCodesFile",
    "tcm": "openvbc.rules.billing_schema:TcmFile",
    "chronic_conditions": "openvbc.rules.care_schema:ChronicConditionsFile",
    "discharge_destinations": "openvbc.rules.care_schema:DischargeDestinationsFile",
    "dtp_valueset": "openvbc.rules.pharmacist.loader:DtpValueSetFile",
    "medsync": "openvbc.rules.pharmacist.loader:MedSyncFile",
    "prom_instrument": "openvbc.rules.registry.schema:PromInstrumentFile",
    "opioid_reference": "openvbc.rules.registry.schema:OpioidReferenceFile",
    "opioid_measures": "openvbc.rules.registry.schema:OpioidMeasuresFile",
    "spine_episodes": "openvbc.rules.registry.schema:SpineEpisodesFile",
    "mips_measure_map": "openvbc.rules.registry.schema:MipsMeasureMapFile",
}


def _model_for(kind: object) -> type[RuleHeader] | None:
    if not isinstance(kind, str):
        return None
    if kind in YAML_KINDS:
        return YAML_KINDS[kind]
    target = LAZY_KIND_MODELS.get(kind)
    if target is None:
        return None
    module_name, class_name = target.split(":")
    model: type[RuleHeader] = getattr(importlib.import_module(module_name), class_name)
    return model


@dataclass
class RuleCatalog:
    """What other files define, for cross-file checks."""

    value_set_oids: set[str] = field(default_factory=set)
    direct_code_names: set[str] = field(default_factory=set)
    drug_class_ids: set[str] = field(default_factory=set)
    pdc_measure_ids: set[str] = field(default_factory=set)


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def issues_from_validation(error: ValidationError, file: str, marked: MarkedYaml) -> list[InputIssue]:
    issues = []
    for detail in error.errors():
        loc = tuple(detail["loc"])
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "missing":
            message = "required field is missing"
        elif detail["type"] == "extra_forbidden":
            message = "unknown field (not part of this kind)"
        issues.append(InputIssue(file, marked.line_of(loc), _field_path(loc) or None, message))
    return issues


def validate_yaml_rule(
    marked: MarkedYaml, file: str, catalog: RuleCatalog | None = None
) -> tuple[RuleHeader | None, list[InputIssue]]:
    """Validate one parsed YAML rule file; return the model (when valid) and every issue found."""
    data = marked.data
    if not isinstance(data, dict):
        return None, [InputIssue(file, marked.line_of(()), None, "a rule file must be a YAML mapping")]
    kind = data.get("kind")
    model = _model_for(kind)
    if model is None:
        expected = ", ".join(sorted(YAML_KINDS.keys() | LAZY_KIND_MODELS.keys()))
        line = marked.line_of(("kind",))
        return None, [
            InputIssue(file, line, "kind", f"unknown or missing kind {kind!r}; expected one of {expected}")
        ]
    try:
        rule = model.model_validate(data)
    except ValidationError as error:
        return None, issues_from_validation(error, file, marked)
    issues: list[InputIssue] = []
    if isinstance(rule, MeasureRule):
        issues += check_measure_references(rule, file, marked, catalog or RuleCatalog())
        issues += check_measure_location(rule, file, marked)
    if rule.kind == "program":
        issues += check_program_location(rule, file, marked)
    return rule, issues


def check_program_location(rule: RuleHeader, file: str, marked: MarkedYaml) -> list[InputIssue]:
    """``programs/<id>/<year>.yaml`` must agree with the id and year written inside the file."""
    parts = file.replace("\\", "/").split("/")
    if len(parts) < 3 or parts[-3] != "programs":
        return []
    year = getattr(rule, "year", None)
    issues = []
    if parts[-2] != rule.id:
        issues.append(InputIssue(file, marked.line_of(("id",)), "id", f"id {rule.id} but folder {parts[-2]}"))
    if parts[-1].removesuffix(".yaml") != str(year):
        message = f"year {year} but file name {parts[-1]}"
        issues.append(InputIssue(file, marked.line_of(("year",)), "year", message))
    return issues


def check_measure_references(
    rule: MeasureRule, file: str, marked: MarkedYaml, catalog: RuleCatalog
) -> list[InputIssue]:
    issues = []
    for name, oid in rule.value_sets.items():
        if oid not in catalog.value_set_oids:
            where: tuple[str | int, ...] = ("value_sets", name)
            issues.append(
                InputIssue(
                    file, marked.line_of(where), _field_path(where), f"value set {oid} is not in the index"
                )
            )
    for position, name in enumerate(rule.direct_codes):
        if name not in catalog.direct_code_names:
            where = ("direct_codes", position)
            issues.append(
                InputIssue(file, marked.line_of(where), _field_path(where), f"unknown direct code {name!r}")
            )
    for position, class_id in enumerate(rule.drug_classes):
        if class_id not in catalog.drug_class_ids:
            where = ("drug_classes", position)
            issues.append(
                InputIssue(
                    file, marked.line_of(where), _field_path(where), f"unknown drug class {class_id!r}"
                )
            )
    return issues


def check_measure_location(rule: MeasureRule, file: str, marked: MarkedYaml) -> list[InputIssue]:
    """``measures/<id>/<year>.yaml`` must agree with the id and year written inside the file."""
    parts = file.replace("\\", "/").split("/")
    if len(parts) < 3 or parts[-3] != "measures":
        return []
    issues = []
    if parts[-2] != rule.id:
        issues.append(InputIssue(file, marked.line_of(("id",)), "id", f"id {rule.id} but folder {parts[-2]}"))
    if parts[-1].removesuffix(".yaml") != str(rule.year):
        message = f"year {rule.year} but file name {parts[-1]}"
        issues.append(InputIssue(file, marked.line_of(("year",)), "year", message))
    return issues


_Rule = TypeVar("_Rule", bound=RuleHeader)


def parse_rule_text(text: str, file: str, model: type[_Rule]) -> _Rule:
    """Validate one rule file's YAML text against ``model``.

    Raises ``InvalidInput`` with every problem at once, each naming the file, the line (from
    the YAML node marks) and the field path, so a user fixes a file in one pass.
    """
    try:
        marked = parse_marked_yaml(text, file)
    except YamlSyntaxError as error:
        raise InvalidInput([error.issue]) from error
    try:
        return model.model_validate(marked.data)
    except ValidationError as error:
        raise InvalidInput(issues_from_validation(error, file, marked)) from error
