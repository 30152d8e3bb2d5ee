"""How each package column is parsed and checked, and which date pairs must be in order."""

from __future__ import annotations

from dataclasses import dataclass

from openvbc.interop.code_lists import (
    ADT_TRIGGERS,
    CLAIM_TYPES,
    LINES_OF_BUSINESS,
    MTM_KINDS,
    PATIENT_STATUSES,
    PROCEDURE_KINDS,
    PROVIDER_KINDS,
    SETTINGS,
    SEX,
    SOURCES,
)


@dataclass(frozen=True)
class FieldRule:
    """How one package column is parsed and checked."""

    kind: str = "text"  # text | code | date | datetime | int | float | money | npi | ndc | bool
    choices: frozenset[str] | None = None
    low: float | None = None
    high: float | None = None
    low_exclusive: bool = False
    service: bool = False  # a date of care: not after today, not before the member's birth
    default: str | None = None  # store default when the optional cell is empty


_NPI = FieldRule("npi")
_SERVICE_DATE = FieldRule("date", service=True)
_SERVICE_TIME = FieldRule("datetime", service=True)
_MONEY = FieldRule("money")
_SOURCE = FieldRule("code", SOURCES)

RULES: dict[str, dict[str, FieldRule]] = {
    "providers": {"npi": _NPI, "kind": FieldRule("code", PROVIDER_KINDS), "parent_npi": _NPI},
    "members": {
        "birth_date": FieldRule("date", service=True),
        "death_date": FieldRule("date", service=True),
        "sex": FieldRule("code", SEX),
        "line_of_business": FieldRule("code", LINES_OF_BUSINESS),
        "pcp_npi": _NPI,
    },
    "coverage": {
        "line_of_business": FieldRule("code", LINES_OF_BUSINESS),
        "start_date": FieldRule("date"),
        "end_date": FieldRule("date"),
        "rx_benefit": FieldRule("bool", default="true"),
    },
    "fills": {
        "ndc": FieldRule("ndc"),
        "fill_date": _SERVICE_DATE,
        "days_supply": FieldRule("int", low=1, high=365),
        "quantity": FieldRule("float", low=0, low_exclusive=True),
        "pharmacy_npi": _NPI,
        "prescriber_npi": _NPI,
        "allowed_amount": _MONEY,
        "paid_amount": _MONEY,
    },
    "claims": {
        "claim_type": FieldRule("code", CLAIM_TYPES),
        "billing_npi": _NPI,
        "from_date": _SERVICE_DATE,
        "to_date": _SERVICE_DATE,
        "allowed_amount": _MONEY,
        "paid_amount": _MONEY,
    },
    "claim_lines": {
        "line_number": FieldRule("int", low=1, high=9999),
        "service_date": _SERVICE_DATE,
        "units": FieldRule("float", low=0, low_exclusive=True, default="1"),
        "rendering_npi": _NPI,
        "allowed_amount": _MONEY,
    },
    "conditions": {
        "onset_date": _SERVICE_DATE,
        "abatement_date": _SERVICE_DATE,
        "recorded_date": _SERVICE_DATE,
        "source": _SOURCE,
    },
    "encounters": {
        "setting": FieldRule("code", SETTINGS),
        "status": FieldRule(default="finished"),
        "start_at": _SERVICE_TIME,
        "end_at": _SERVICE_TIME,
        "provider_npi": _NPI,
        "facility_npi": _NPI,
        "source": FieldRule("code", SOURCES, default="ehr"),
    },
    "observations": {
        "status": FieldRule(default="final"),
        "effective_at": _SERVICE_TIME,
        "effective_end": _SERVICE_TIME,
        "setting": FieldRule("code", SETTINGS),
        "source": _SOURCE,
    },
    "procedures": {
        "kind": FieldRule("code", PROCEDURE_KINDS, default="performed"),
        "status": FieldRule(default="completed"),
        "performed_start": _SERVICE_TIME,
        "performed_end": _SERVICE_TIME,
        "source": FieldRule("code", SOURCES, default="ehr"),
    },
    "medication_orders": {
        "intent": FieldRule(default="order"),
        "authored_at": _SERVICE_TIME,
        "start_date": FieldRule("date"),
        "end_date": FieldRule("date"),
        "prescriber_npi": _NPI,
        "source": FieldRule("code", SOURCES, default="ehr"),
    },
    "mtm_encounters": {
        "pharmacist_npi": _NPI,
        "pharmacy_npi": _NPI,
        "service_date": _SERVICE_DATE,
        "kind": FieldRule("code", MTM_KINDS),
        "minutes": FieldRule("int", low=1, high=1440),
        "patient_status": FieldRule("code", PATIENT_STATUSES),
        "start_at": _SERVICE_TIME,
        "end_at": _SERVICE_TIME,
    },
    "adt_events": {
        "trigger": FieldRule("code", ADT_TRIGGERS),
        "event_at": _SERVICE_TIME,
        "admit_at": _SERVICE_TIME,
        "discharge_at": _SERVICE_TIME,
        "facility_npi": _NPI,
    },
}

# Pairs (earlier, later) that must be in order within a row.
ORDERED_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "members": (("birth_date", "death_date"),),
    "coverage": (("start_date", "end_date"),),
    "claims": (("from_date", "to_date"),),
    "encounters": (("start_at", "end_at"),),
    "observations": (("effective_at", "effective_end"),),
    "procedures": (("performed_start", "performed_end"),),
    "medication_orders": (("start_date", "end_date"),),
    "mtm_encounters": (("start_at", "end_at"),),
    "adt_events": (("admit_at", "discharge_at"),),
    "conditions": (("onset_date", "abatement_date"),),
}
