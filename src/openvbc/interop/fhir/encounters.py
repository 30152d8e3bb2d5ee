"""Encounter -> encounters row (FHIR R4 Encounter, QI-Core 4.1.1 profile).

Kept for the measures (CMS165/CMS122/CMS138 and the Hospice, PalliativeCare,
AdvancedIllnessandFrailty and AdultOutpatientEncounters libraries): every ``type`` coding (value
sets are matched on the type), the exact ``class`` coding (in ``additional_codes`` as
``actcode|<class>`` because ``setting`` is coarser), ``status`` (isEncounterPerformed),
``period`` and ``hospitalization.dischargeDisposition`` (hospice discharge).
"""

from __future__ import annotations

from openvbc.interop.fhir.datatypes import FhirValueError, as_list, as_object, as_text, codings_of, join_codes
from openvbc.interop.fhir.elements import (
    ENCOUNTER_CLASS_SETTINGS,
    code_columns,
    first_status_code,
    member_of,
    period_of,
    setting_for_class,
)
from openvbc.interop.fhir.extract import FhirExtract
from openvbc.interop.fhir.references import ResourceIndex, ResourceItem, resource_key


def map_encounter(item: ResourceItem, index: ResourceIndex, out: FhirExtract) -> None:
    encounter = item.resource
    member_key = member_of(item, index, "subject")
    klass = as_object(encounter.get("class"))
    class_code = as_text(klass.get("code")) if klass else None
    if class_code is None:
        raise FhirValueError("Encounter.class", "missing (the package needs a setting)")
    setting = setting_for_class(class_code)
    if setting is None:
        known = ", ".join(ENCOUNTER_CLASS_SETTINGS)
        raise FhirValueError("Encounter.class", f"class {class_code!r} is not one of {known}")
    type_codings = [coding for concept in as_list(encounter.get("type")) for coding in codings_of(concept)]
    codes = code_columns({"coding": _as_codings(type_codings)}, "Encounter.type", required=False)
    class_coding = (as_text(klass.get("system")) if klass else None) or "", class_code
    codes["additional_codes"] = join_codes([*type_codings, class_coding])
    start, end = period_of(encounter.get("period"), "Encounter.period")
    if start is None:
        # An encounter known only by its end (e.g. a discharge feed) is placed at that moment.
        start = end
    if start is None:
        raise FhirValueError("Encounter.period", "no start or end")
    hospitalization = as_object(encounter.get("hospitalization")) or {}
    values: dict[str, str | None] = {
        "encounter_key": resource_key(encounter, item.full_url),
        "member_key": member_key,
        "setting": setting,
        **codes,
        "status": as_text(encounter.get("status")),
        "start_at": start,
        "end_at": end,
        "discharge_disposition": first_status_code(hospitalization.get("dischargeDisposition")),
        "provider_npi": _first_participant_npi(item, index),
        "facility_npi": index.npi_for(encounter.get("serviceProvider")),
        "source": "ehr",
    }
    out.add_row("encounters", item.label, item.line, values)


def _first_participant_npi(item: ResourceItem, index: ResourceIndex) -> str | None:
    for participant in as_list(item.resource.get("participant")):
        obj = as_object(participant)
        npi = index.npi_for(obj.get("individual")) if obj else None
        if npi:
            return npi
    return None


def _as_codings(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"system": system, "code": code} for system, code in pairs]
