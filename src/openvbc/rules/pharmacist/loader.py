"""Schemas and loaders of the pharmacist rule files (``rules/pharmacist/*.yaml``).

Two kinds: ``dtp_valueset`` (drug-therapy-problem and intervention SNOMED CT codes, each with the
public HL7 source that prints it) and ``medsync`` (refill-too-soon %, standard supply, proration).
Each model extends the common :class:`~openvbc.rules.schema.RuleHeader`, so every file names its
source, version and effective dates; a bad file is reported with path, line and field.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from openvbc.domain.medsync import MedSyncRule
from openvbc.rules.resources import read_rule_text
from openvbc.rules.schema import RuleHeader, parse_rule_text

DTP_VALUESET = "pharmacist/dtp_valueset.yaml"
MEDSYNC = "pharmacist/medsync.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodedConcept(_Strict):
    code: StrictStr = Field(pattern=r"^\d{6,18}$")  # SNOMED CT concept id
    display: StrictStr = Field(min_length=1)
    source: StrictStr = Field(min_length=1)


class DtpValueSetFile(RuleHeader):
    kind: Literal["dtp_valueset"]
    notes: StrictStr | None = None
    problems: list[CodedConcept] = Field(min_length=1)
    interventions: list[CodedConcept] = Field(default_factory=list)

    @field_validator("problems", "interventions")
    @classmethod
    def check_unique(cls, items: list[CodedConcept]) -> list[CodedConcept]:
        codes = [item.code for item in items]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            raise ValueError(f"codes listed twice: {', '.join(duplicates)}")
        return items


class MedSyncFile(RuleHeader):
    kind: Literal["medsync"]
    notes: StrictStr | None = None
    refill_too_soon_percent: Decimal = Field(gt=0, le=100)
    standard_days_supply: int = Field(ge=1, le=365)
    proration_base_days: int = Field(ge=1, le=365)
    default_monthly_copay: Decimal = Field(ge=0)


@dataclass(frozen=True)
class DtpValueSet:
    """SNOMED CT code → display, for problems and for interventions."""

    version: str
    problems: dict[str, str]
    interventions: dict[str, str]


@dataclass(frozen=True)
class MedSyncSettings:
    rule: MedSyncRule
    default_monthly_copay: Decimal
    version: str


_Model = TypeVar("_Model", bound=RuleHeader)


def parse_pharmacist_rule(text: str, file: str, model: type[_Model]) -> _Model:
    """Validate one pharmacist rule text (the one parser in ``rules.schema.parse_rule_text``)."""
    return parse_rule_text(text, file, model)


@lru_cache(maxsize=8)
def load_dtp_valueset(relative_path: str = DTP_VALUESET) -> DtpValueSet:
    file = parse_pharmacist_rule(read_rule_text(relative_path), relative_path, DtpValueSetFile)
    return DtpValueSet(
        version=file.version,
        problems={c.code: c.display for c in file.problems},
        interventions={c.code: c.display for c in file.interventions},
    )


@lru_cache(maxsize=8)
def load_medsync_settings(relative_path: str = MEDSYNC) -> MedSyncSettings:
    file = parse_pharmacist_rule(read_rule_text(relative_path), relative_path, MedSyncFile)
    rule = MedSyncRule(file.refill_too_soon_percent, file.proration_base_days, file.standard_days_supply)
    return MedSyncSettings(rule, file.default_monthly_copay, file.version)
