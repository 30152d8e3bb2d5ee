"""Element readers shared by the resource mappers; each raises ``FhirValueError`` naming the field.

The mappers call these and let the dispatcher turn a ``FhirValueError`` into one
``InputIssue`` for the resource (file, entry/line, FHIR element), so a bad date in one resource
never stops the rest of the import.
"""

from __future__ import annotations

from typing import Any

from openvbc.interop.fhir.datatypes import (
    FhirValueError,
    JsonObject,
    as_list,
    as_object,
    as_text,
    codings_of,
    date_text,
    datetime_text,
    join_codes,
    pick_code,
)
from openvbc.interop.fhir.references import ResourceIndex, ResourceItem

# v3 ActCode encounter class -> package setting (http://terminology.hl7.org/CodeSystem/v3-ActCode).
# The classes CMS165 (ControllingHighBloodPressureFHIR 0.1.000) excludes BP readings from --
# EMER, IMP, ACUTE, NONAC, PRENC, SS -- map to exactly the settings ``ed`` and ``inpatient``, so
# "setting in (ed, inpatient)" is the same test; OBSENC, which the measure does not exclude,
# stays apart as ``observation``. The exact class survives in ``additional_codes`` (actcode|...).
ENCOUNTER_CLASS_SETTINGS: dict[str, str] = {
    "AMB": "ambulatory",
    "FLD": "ambulatory",
    "EMER": "ed",
    "IMP": "inpatient",
    "ACUTE": "inpatient",
    "NONAC": "inpatient",
    "PRENC": "inpatient",
    "SS": "inpatient",
    "OBSENC": "observation",
    "HH": "home",
    "VR": "virtual",
}


def datetime_of(value: object, field: str, *, end: bool = False) -> str | None:
    """Package date-time text for a FHIR date-time value, None when absent."""
    if value is None:
        return None
    try:
        return datetime_text(value, end=end)
    except ValueError as exc:
        raise FhirValueError(field, str(exc)) from None


def date_of(value: object, field: str, *, end: bool = False) -> str | None:
    if value is None:
        return None
    try:
        return date_text(value, end=end)
    except ValueError as exc:
        raise FhirValueError(field, str(exc)) from None


def period_of(period: object, field: str) -> tuple[str | None, str | None]:
    """(start, end) date-times of a Period; the end is padded to the last second of its precision."""
    obj = as_object(period)
    if obj is None:
        if period is not None:
            raise FhirValueError(field, "a Period must be an object")
        return None, None
    return (
        datetime_of(obj.get("start"), f"{field}.start"),
        datetime_of(obj.get("end"), f"{field}.end", end=True),
    )


def timing_choice(resource: JsonObject, stem: str) -> tuple[str | None, str | None]:
    """(start, end) of a ``<stem>[x]`` that is a dateTime, instant or Period."""
    for suffix in ("DateTime", "Instant"):
        value = resource.get(stem + suffix)
        if value is not None:
            moment = datetime_of(value, f"{stem}{suffix}")
            return moment, None
    if resource.get(stem + "Period") is not None:
        return period_of(resource.get(stem + "Period"), f"{stem}Period")
    return None, None


def member_of(item: ResourceItem, index: ResourceIndex, field: str) -> str:
    """The member key of the Patient the resource is about; a missing subject is an issue."""
    resource_type = item.resource.get("resourceType")
    if item.resource.get(field) is None and index.compartment_member_key is not None:
        return index.compartment_member_key
    key = index.member_key_for(item.resource.get(field))
    if key is None:
        raise FhirValueError(f"{resource_type}.{field}", "no reference to a Patient")
    return key


def code_columns(concept: object, field: str, *, required: bool = True) -> dict[str, str | None]:
    """``code_system``/``code`` from the first modeled coding, every coding in ``additional_codes``."""
    codings = codings_of(concept)
    picked = pick_code(codings)
    if picked is None and required:
        if codings:
            systems = ", ".join(sorted({uri or "(no system)" for uri, _ in codings}))
            raise FhirValueError(field, f"no coding in a supported code system (found {systems})")
        raise FhirValueError(field, "no coding")
    return {
        "code_system": picked[0] if picked else None,
        "code": picked[1] if picked else None,
        "additional_codes": join_codes(codings),
    }


def category_text(categories: object) -> str | None:
    """Every category code, ``|``-separated in source order (the package's multi-value form)."""
    codes: list[str] = []
    for concept in as_list(categories):
        for _, code in codings_of(concept):
            if code not in codes:
                codes.append(code)
    return "|".join(codes) or None


def status_of(resource: JsonObject) -> str | None:
    return as_text(resource.get("status"))


def first_status_code(concept: object) -> str | None:
    """The code of a status CodeableConcept (clinicalStatus, verificationStatus)."""
    codings = codings_of(concept)
    return codings[0][1] if codings else None


def setting_for_class(code: str | None) -> str | None:
    return ENCOUNTER_CLASS_SETTINGS.get(code) if code else None


def any_of(values: list[Any]) -> Any:
    for value in values:
        if value is not None:
            return value
    return None
