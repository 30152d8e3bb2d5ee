"""Typed, cached access to the rule files shipped in the package.

Rule engines call these functions instead of opening files: each file is read once per process
(``functools.lru_cache``) and returned as frozen values, so a cached answer cannot be changed by a
caller. Validation of the whole tree lives in :mod:`openvbc.rules.schema` and ``openvbc rules check``.
"""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import yaml

from openvbc.domain.contract import ProgramContract
from openvbc.domain.errors import InvalidInput
from openvbc.rules.program_schema import ProgramRule, to_contract
from openvbc.rules.resources import RuleFileNotFound, read_rule_text
from openvbc.rules.schema import (
    DrugClasses,
    HolidayCalendar,
    MeasureRule,
    RuleCatalog,
    validate_yaml_rule,
)
from openvbc.rules.yaml_marks import parse_marked_yaml

VALUE_SET_INDEX = "valuesets/index.yaml"
DIRECT_CODES = "valuesets/direct_codes.yaml"
DRUG_CLASSES = "drugs/drug_classes.yaml"
NDC_REFERENCE = "drugs/ndc_reference.csv"
HOLIDAYS = "calendars/us_federal_holidays.yaml"


@dataclass(frozen=True)
class ValueSet:
    """One value-set expansion: membership is a (system short name, code) pair."""

    oid: str
    name: str
    version: str
    codes: frozenset[tuple[str, str]]

    def contains(self, system: str, code: str) -> bool:
        return (system, code) in self.codes

    def codes_for(self, system: str) -> frozenset[str]:
        return frozenset(code for code_system, code in self.codes if code_system == system)


@dataclass(frozen=True)
class ValueSetInfo:
    oid: str
    name: str
    url: str
    version: str
    effective_start: date
    effective_end: date
    codes: int
    source_repository: str
    source_path: str
    source_commit: str
    license: str


@dataclass(frozen=True)
class DrugProduct:
    """One NDC of the drug reference; combination products list every ingredient."""

    ndc11: str
    ingredients: tuple[str, ...]
    rxnorm_ingredients: tuple[str, ...]
    drug_classes: tuple[str, ...]
    strength: str
    dose_form: str
    is_maintenance: bool
    source: str


@dataclass(frozen=True)
class DrugReference:
    """NDC → product, and class → NDCs, for the PQA PDC measures (ingredient-level classes)."""

    products: Mapping[str, DrugProduct]
    classes: DrugClasses

    def product(self, ndc11: str) -> DrugProduct | None:
        return self.products.get(ndc11)

    def ndcs_in_class(self, drug_class: str) -> frozenset[str]:
        if drug_class not in self.classes.classes:
            raise RuleFileNotFound(f"unknown drug class {drug_class!r} (see {DRUG_CLASSES})")
        return frozenset(ndc for ndc, product in self.products.items() if drug_class in product.drug_classes)

    def target_ndcs(self, measure_id: str) -> frozenset[str]:
        """NDCs of every target class of a PDC measure (e.g. ``PDC-DR``)."""
        measure = self._measure(measure_id)
        return frozenset().union(*(self.ndcs_in_class(c) for c in measure.target_classes))

    def exclusion_ndcs(self, measure_id: str) -> frozenset[str]:
        """NDCs whose fill excludes a member from a PDC measure (insulin for PDC-DR ...)."""
        measure = self._measure(measure_id)
        return frozenset().union(*(self.ndcs_in_class(c) for c in measure.exclusion_classes))

    def threshold(self, measure_id: str) -> float:
        return self._measure(measure_id).threshold

    def _measure(self, measure_id: str) -> Any:
        try:
            return self.classes.measures[measure_id]
        except KeyError:
            known = ", ".join(sorted(self.classes.measures))
            raise RuleFileNotFound(
                f"no PDC measure {measure_id!r} in {DRUG_CLASSES} (known: {known})"
            ) from None


@lru_cache(maxsize=64)
def _parsed_yaml(relative_path: str) -> Any:
    # libyaml when available: the value-set index is the largest YAML file read at start-up.
    return yaml.load(read_rule_text(relative_path), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_rule_file(relative_path: str) -> dict[str, Any]:
    """A packaged YAML rule file as a plain mapping (a fresh copy: callers may change it)."""
    data = _parsed_yaml(relative_path)
    if not isinstance(data, dict):
        raise RuleFileNotFound(f"rule file {relative_path!r} is not a YAML mapping")
    return copy.deepcopy(data)


@lru_cache(maxsize=1)
def _value_set_index() -> dict[str, ValueSetInfo]:
    index = _parsed_yaml(VALUE_SET_INDEX)
    infos = {}
    for entry in index["value_sets"]:
        infos[entry["oid"]] = ValueSetInfo(
            oid=entry["oid"],
            name=entry["name"],
            url=entry["url"],
            version=str(entry["version"]),
            effective_start=entry["effective"]["start"],
            effective_end=entry["effective"]["end"],
            codes=int(entry["codes"]),
            source_repository=entry["source"]["repository"],
            source_path=entry["source"]["path"],
            source_commit=entry["source"]["commit"],
            license=entry["source"]["license"],
        )
    return infos


def list_value_sets() -> list[ValueSetInfo]:
    """Every shipped value set, ordered by OID."""
    return sorted(_value_set_index().values(), key=lambda info: info.oid)


def oid_from(reference: str) -> str:
    """Accept an OID, a VSAC URL (http or https) or ``urn:oid:...``; return the bare OID."""
    text = reference.strip().split("|", 1)[0].rstrip("/")
    return text.rsplit("/", 1)[-1].removeprefix("urn:oid:")


@lru_cache(maxsize=256)
def load_value_set(oid: str) -> ValueSet:
    """The expansion of one value set, by OID (a canonical URL is accepted and reduced to its OID)."""
    key = oid_from(oid)
    info = _value_set_index().get(key)
    if info is None:
        raise RuleFileNotFound(f"value set {key} is not shipped (see {VALUE_SET_INDEX})")
    reader = csv.DictReader(io.StringIO(read_rule_text(f"valuesets/{key}.csv")))
    codes = frozenset((row["system"], row["code"]) for row in reader)
    return ValueSet(oid=key, name=info.name, version=info.version, codes=codes)


@lru_cache(maxsize=1)
def _direct_codes() -> dict[str, tuple[str, str]]:
    codes = _parsed_yaml(DIRECT_CODES)["codes"]
    return {name: (str(entry["system"]), str(entry["code"])) for name, entry in codes.items()}


def load_direct_codes() -> dict[str, tuple[str, str]]:
    """CQL code name → (system short name, code); included libraries are keyed ``Library.Name``."""
    return dict(_direct_codes())


@lru_cache(maxsize=1)
def load_drug_reference() -> DrugReference:
    classes = DrugClasses.model_validate(_parsed_yaml(DRUG_CLASSES))
    products: dict[str, DrugProduct] = {}
    for row in csv.DictReader(io.StringIO(read_rule_text(NDC_REFERENCE))):
        products[row["ndc11"]] = DrugProduct(
            ndc11=row["ndc11"],
            ingredients=tuple(row["ingredient"].split("|")),
            rxnorm_ingredients=tuple(row["rxnorm_ingredient"].split("|")),
            drug_classes=tuple(row["drug_class"].split("|")),
            strength=row["strength"],
            dose_form=row["dose_form"],
            is_maintenance=row["is_maintenance"] == "true",
            source=row["source"],
        )
    return DrugReference(products=products, classes=classes)


@lru_cache(maxsize=1)
def _holiday_calendar() -> HolidayCalendar:
    return HolidayCalendar.model_validate(_parsed_yaml(HOLIDAYS))


@lru_cache(maxsize=32)
def load_holidays(year: int) -> frozenset[date]:
    """Days federal offices are closed in calendar ``year`` (observed dates, so 2027-12-31 is in 2027)."""
    calendar = _holiday_calendar()
    if not calendar.effective.start.year <= year <= calendar.effective.end.year:
        span = f"{calendar.effective.start.year}-{calendar.effective.end.year}"
        raise RuleFileNotFound(f"the holiday calendar covers {span}, not {year} (see {HOLIDAYS})")
    observed = (h.observed for days in calendar.holidays.values() for h in days)
    return frozenset(day for day in observed if day.year == year)


def build_catalog() -> RuleCatalog:
    """What the shipped files define, for validating files that refer to them."""
    classes = DrugClasses.model_validate(_parsed_yaml(DRUG_CLASSES))
    return RuleCatalog(
        value_set_oids=set(_value_set_index()),
        direct_code_names=set(_direct_codes()),
        drug_class_ids=set(classes.classes),
        pdc_measure_ids=set(classes.measures),
    )


@lru_cache(maxsize=64)
def _measure_rule(measure_id: str, year: int) -> dict[str, Any]:
    relative = f"measures/{measure_id}/{year}.yaml"
    marked = parse_marked_yaml(read_rule_text(relative), relative)
    rule, issues = validate_yaml_rule(marked, relative, build_catalog())
    if issues or not isinstance(rule, MeasureRule):
        raise InvalidInput(issues)
    return dict(marked.data)


def load_measure_rule(measure_id: str, year: int) -> dict[str, Any]:
    """``rules/measures/<id>/<year>.yaml``, validated; raises ``InvalidInput`` naming file, line, field."""
    return copy.deepcopy(_measure_rule(measure_id, year))


def parse_program_contract(text: str, file: str) -> ProgramContract:
    """A program contract from YAML text; raises ``InvalidInput`` naming file, line and field."""
    marked = parse_marked_yaml(text, file)
    rule, issues = validate_yaml_rule(marked, file)
    if not issues and not isinstance(rule, ProgramRule):
        raise RuleFileNotFound(f"{file} is a {getattr(rule, 'kind', '?')} file, not a program contract")
    if issues or not isinstance(rule, ProgramRule):
        raise InvalidInput(issues)
    return to_contract(rule, file)


@lru_cache(maxsize=32)
def load_program_contract(program_id: str, year: int) -> ProgramContract:
    """``rules/programs/<program>/<year>.yaml`` as a validated, frozen contract."""
    relative = f"programs/{program_id}/{year}.yaml"
    return parse_program_contract(read_rule_text(relative), relative)
