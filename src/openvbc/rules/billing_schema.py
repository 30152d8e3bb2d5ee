"""Schemas and loaders of the billing rule files (``rules/billing/**``).

Four kinds: ``mtm_units`` (minutes → 99605/99606/+99607 units), ``fee_schedule`` (billed charges
and claim defaults), ``ccm_codes`` (the CCM/PCM month table of domain-rules.md §A4) and ``tcm``
(TCM deadlines and levels). Each model extends the common :class:`RuleHeader`; the loaders turn a
validated file into the frozen domain values the pure calculators take, and report a bad file
with its path, line and field.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from openvbc.domain.ccm_coding import CcmCodeRule, CcmFamily
from openvbc.domain.mtm_units import MtmUnitRule
from openvbc.domain.tcm import TcmLevel, TcmRule
from openvbc.rules.resources import read_rule_text
from openvbc.rules.schema import RuleHeader, parse_rule_text

_Code = Field(pattern=r"^[0-9A-Z]{5}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MtmCodes(_Strict):
    new_patient: str = _Code
    established_patient: str = _Code
    addon: str = _Code


class MtmUnitsFile(RuleHeader):
    kind: Literal["mtm_units"]
    notes: StrictStr | None = None
    block_minutes: int = Field(ge=1, le=120)
    rounding: Literal["any_partial", "half_block", "full_block_only"]
    new_patient_lookback_days: int = Field(ge=0)
    codes: MtmCodes
    max_addon_units: int | None = Field(default=None, ge=0)
    modifiers_by_kind: dict[Literal["CMR", "TMR", "FOLLOWUP"], list[StrictStr]] = Field(default_factory=dict)

    @field_validator("modifiers_by_kind")
    @classmethod
    def check_modifiers(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for kind, modifiers in value.items():
            if len(modifiers) > 4 or any(len(m) != 2 or not m.isalnum() for m in modifiers):
                raise ValueError(f"{kind}: at most four two-character modifiers")
        return value


class FeeScheduleFile(RuleHeader):
    kind: Literal["fee_schedule"]
    notes: StrictStr | None = None
    currency: Literal["USD"]
    charges: dict[str, StrictStr] = Field(min_length=1)
    place_of_service: str = Field(pattern=r"^\d{2}$")
    fallback_diagnosis: str = Field(pattern=r"^[A-Z][0-9][0-9A-Z]{1,5}$")
    claim_filing_indicator_by_line_of_business: dict[str, str] = Field(min_length=1)

    @field_validator("charges")
    @classmethod
    def check_charges(cls, value: dict[str, str]) -> dict[str, str]:
        for code, amount in value.items():
            try:
                parsed = Decimal(amount)
            except InvalidOperation:
                raise ValueError(f"charge of {code} is not a decimal amount: {amount!r}") from None
            if parsed < 0 or parsed != parsed.quantize(Decimal("0.01")):
                raise ValueError(f"charge of {code} must be a non-negative amount in cents: {amount!r}")
        return value


class CcmBase(_Strict):
    code: str = _Code
    minutes: int = Field(ge=1)
    rvu: float = Field(ge=0)


class CcmAddon(CcmBase):
    max_units: int | None = Field(default=None, ge=0)


class CcmFamilyFile(_Strict):
    name: StrictStr = Field(min_length=1)
    base: CcmBase
    addon: CcmAddon | None = None
    counted_roles: list[Literal["clinical_staff", "practitioner"]] = Field(min_length=1)
    requires: list[StrictStr] = []


class CcmCodesFile(RuleHeader):
    kind: Literal["ccm_codes"]
    notes: StrictStr | None = None
    conversion_factor: float = Field(gt=0)
    families: list[CcmFamilyFile] = Field(min_length=1)
    blocking_flags: dict[str, StrictStr] = Field(default_factory=dict)

    @field_validator("families")
    @classmethod
    def check_unique(cls, value: list[CcmFamilyFile]) -> list[CcmFamilyFile]:
        names = [family.name for family in value]
        codes = [family.base.code for family in value] + [f.addon.code for f in value if f.addon]
        if len(set(names)) != len(names) or len(set(codes)) != len(codes):
            raise ValueError("family names and codes must be unique")
        return value


class TcmLevelFile(_Strict):
    code: str = _Code
    visit_within_days: int = Field(ge=1, le=30)
    minimum_mdm: Literal["straightforward", "low", "moderate", "high"]


class TcmFile(RuleHeader):
    kind: Literal["tcm"]
    notes: StrictStr | None = None
    contact_business_days: int = Field(ge=1, le=10)
    service_period_days: int = Field(ge=1, le=90)
    qualifying_from_settings: list[StrictStr] = Field(min_length=1)
    community_destinations: list[StrictStr] = Field(min_length=1)
    levels: list[TcmLevelFile] = Field(min_length=1)


# For rules/schema.py YAML_KINDS (registered by the rules owner).
BILLING_YAML_KINDS: dict[str, type[RuleHeader]] = {
    "mtm_units": MtmUnitsFile,
    "fee_schedule": FeeScheduleFile,
    "ccm_codes": CcmCodesFile,
    "tcm": TcmFile,
}

_Model = TypeVar("_Model", bound=RuleHeader)


def parse_billing_rule(text: str, file: str, model: type[_Model]) -> _Model:
    """Validate one billing rule text (the one parser in ``rules.schema.parse_rule_text``)."""
    return parse_rule_text(text, file, model)


@lru_cache(maxsize=32)
def _packaged(relative_path: str, model: type[_Model]) -> _Model:
    return parse_billing_rule(read_rule_text(relative_path), relative_path, model)


def load_mtm_unit_rule(relative_path: str = "billing/mtm_units/default.yaml") -> MtmUnitRule:
    """The payer's MTM unit settings as the domain value ``code_mtm_encounter`` takes."""
    return to_mtm_unit_rule(_packaged(relative_path, MtmUnitsFile))


def to_mtm_unit_rule(file: MtmUnitsFile) -> MtmUnitRule:
    return MtmUnitRule(
        rounding=file.rounding,
        block_minutes=file.block_minutes,
        new_patient_lookback_days=file.new_patient_lookback_days,
        new_patient_code=file.codes.new_patient,
        established_patient_code=file.codes.established_patient,
        addon_code=file.codes.addon,
        max_addon_units=file.max_addon_units,
        modifiers_by_kind={kind: tuple(mods) for kind, mods in file.modifiers_by_kind.items()},
    )


def load_fee_schedule(relative_path: str = "billing/fee_schedule/default.yaml") -> FeeScheduleFile:
    return _packaged(relative_path, FeeScheduleFile)


def load_ccm_code_rule(year: int) -> CcmCodeRule:
    """``rules/billing/ccm_codes/<year>.yaml`` as the domain table ``bill_ccm_month`` takes."""
    return to_ccm_code_rule(_packaged(f"billing/ccm_codes/{year}.yaml", CcmCodesFile))


def to_ccm_code_rule(file: CcmCodesFile) -> CcmCodeRule:
    cf = file.conversion_factor
    families = tuple(
        CcmFamily(
            name=family.name,
            base_code=family.base.code,
            base_minutes=family.base.minutes,
            addon_code=family.addon.code if family.addon else None,
            addon_minutes=family.addon.minutes if family.addon else None,
            addon_max_units=family.addon.max_units if family.addon else None,
            counted_roles=tuple(family.counted_roles),
            required_flags=tuple(family.requires),
            base_value=round(family.base.rvu * cf, 2),
            addon_value=round(family.addon.rvu * cf, 2) if family.addon else 0.0,
        )
        for family in file.families
    )
    return CcmCodeRule(families=families, blocking_flags=dict(file.blocking_flags))


def load_tcm_rule(relative_path: str = "billing/tcm/2025.yaml") -> TcmRule:
    file = _packaged(relative_path, TcmFile)
    return TcmRule(
        contact_business_days=file.contact_business_days,
        service_period_days=file.service_period_days,
        qualifying_from_settings=frozenset(file.qualifying_from_settings),
        community_destinations=frozenset(file.community_destinations),
        levels=tuple(
            TcmLevel(level.code, level.visit_within_days, level.minimum_mdm) for level in file.levels
        ),
    )
