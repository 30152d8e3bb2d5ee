"""Schemas and loaders of the care-coordination rule files (``rules/care/**``).

Two kinds: ``chronic_conditions`` (ICD-10-CM prefixes per chronic condition, used for CCM / PCM
eligibility, domain-rules.md §A4) and ``discharge_destinations`` (where a discharge status code
sends the patient, so a TCM case opens only for discharges to a community setting). Each model
extends :class:`RuleHeader`; ``rules/schema.py`` imports this module on use to validate the kinds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator

from openvbc.domain.errors import InvalidInput
from openvbc.rules.resources import read_rule_text
from openvbc.rules.schema import RuleHeader, issues_from_validation
from openvbc.rules.yaml_marks import YamlSyntaxError, parse_marked_yaml

CHRONIC_CONDITIONS = "care/chronic_conditions.yaml"
DISCHARGE_DESTINATIONS = "care/discharge_destinations.yaml"
_ICD10_PREFIX = re.compile(r"^[A-Z][0-9][0-9A-Z]{0,5}$")
_CONDITION_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChronicCondition(_Strict):
    title: StrictStr = Field(min_length=1)
    icd10cm_prefixes: list[StrictStr] = Field(min_length=1)

    @field_validator("icd10cm_prefixes")
    @classmethod
    def check_prefixes(cls, value: list[str]) -> list[str]:
        bad = [prefix for prefix in value if not _ICD10_PREFIX.match(prefix)]
        if bad:
            raise ValueError(f"not ICD-10-CM prefixes without the dot: {bad}")
        return value


class ChronicConditionsFile(RuleHeader):
    kind: Literal["chronic_conditions"]
    notes: StrictStr | None = None
    ccm_minimum_conditions: int = Field(ge=1)
    pcm_minimum_conditions: int = Field(ge=1)
    claim_lookback_months: int = Field(ge=1, le=60)
    conditions: dict[str, ChronicCondition] = Field(min_length=1)

    @field_validator("conditions")
    @classmethod
    def check_ids(cls, value: dict[str, ChronicCondition]) -> dict[str, ChronicCondition]:
        bad = [name for name in value if not _CONDITION_ID.match(name)]
        if bad:
            raise ValueError(f"condition ids must be lower_snake_case: {bad}")
        return value


class DischargeDestinationsFile(RuleHeader):
    kind: Literal["discharge_destinations"]
    notes: StrictStr | None = None
    code_system: StrictStr = Field(min_length=1)
    when_missing: StrictStr = Field(min_length=1)
    destinations: dict[str, StrictStr] = Field(min_length=1)


# For rules/schema.py::_model_for (imported there on use: this module builds on schema.py).
CARE_YAML_KINDS: dict[str, type[RuleHeader]] = {
    "chronic_conditions": ChronicConditionsFile,
    "discharge_destinations": DischargeDestinationsFile,
}


@dataclass(frozen=True)
class ChronicConditionRule:
    """Condition id -> ICD-10-CM prefixes, plus the eligibility thresholds (frozen)."""

    version: str
    prefixes_by_condition: tuple[tuple[str, tuple[str, ...]], ...]
    ccm_minimum_conditions: int
    pcm_minimum_conditions: int
    claim_lookback_months: int

    def conditions_of(self, codes: list[str] | tuple[str, ...] | set[str]) -> tuple[str, ...]:
        """The chronic conditions that any of ``codes`` (ICD-10-CM, dots allowed) falls under."""
        compact = {code.replace(".", "").upper() for code in codes}
        return tuple(
            condition
            for condition, prefixes in self.prefixes_by_condition
            if any(code.startswith(prefix) for code in compact for prefix in prefixes)
        )


@dataclass(frozen=True)
class DischargeDestinationRule:
    version: str
    code_system: str
    when_missing: str
    destinations: tuple[tuple[str, str], ...]

    def destination_of(self, code: str | None) -> str:
        """Where a discharge status code sends the patient; unknown codes are named as such."""
        if code is None or not code.strip():
            return self.when_missing
        return dict(self.destinations).get(code.strip().zfill(2), f"unknown_code_{code.strip()}")


def _parse(relative_path: str, model: type[RuleHeader]) -> RuleHeader:
    text = read_rule_text(relative_path)
    try:
        marked = parse_marked_yaml(text, relative_path)
    except YamlSyntaxError as error:
        raise InvalidInput([error.issue]) from error
    try:
        return model.model_validate(marked.data)
    except ValidationError as error:
        raise InvalidInput(issues_from_validation(error, relative_path, marked)) from error


@lru_cache(maxsize=4)
def load_chronic_condition_rule(relative_path: str = CHRONIC_CONDITIONS) -> ChronicConditionRule:
    file = _parse(relative_path, ChronicConditionsFile)
    assert isinstance(file, ChronicConditionsFile)
    return ChronicConditionRule(
        version=f"{file.id}@{file.version}",
        prefixes_by_condition=tuple(
            (name, tuple(condition.icd10cm_prefixes)) for name, condition in file.conditions.items()
        ),
        ccm_minimum_conditions=file.ccm_minimum_conditions,
        pcm_minimum_conditions=file.pcm_minimum_conditions,
        claim_lookback_months=file.claim_lookback_months,
    )


@lru_cache(maxsize=4)
def load_discharge_destination_rule(relative_path: str = DISCHARGE_DESTINATIONS) -> DischargeDestinationRule:
    file = _parse(relative_path, DischargeDestinationsFile)
    assert isinstance(file, DischargeDestinationsFile)
    return DischargeDestinationRule(
        version=f"{file.id}@{file.version}",
        code_system=file.code_system,
        when_missing=file.when_missing,
        destinations=tuple(sorted(file.destinations.items())),
    )
