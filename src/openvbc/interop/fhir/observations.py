"""Observation -> observations rows (FHIR R4 Observation, QI-Core 4.1.1 / US Core vital signs).

One row per Observation, except panels: each ``component`` becomes its own row sharing
``panel_key`` = ``Observation/<id>``. Blood-pressure components (LOINC 8480-6 systolic, 8462-4
diastolic, as CMS165 reads them from the ``observation-bp`` profile) are keyed
``Observation/<id>#8480-6`` / ``#8462-4``; other components ``#component-<n>`` (1-based). A
panel without a value of its own is not a row itself: its readings are the components.

Values: ``valueQuantity`` -> ``value`` (decimal text) and ``unit`` (UCUM code);
``valueCodeableConcept`` -> ``value_code_system``/``value_code`` with ``value`` left empty (CMS122
counts a coded "Yes" as a result without a value); ``valueBoolean`` -> ``value_code`` ``true``/
``false``; ``valueString`` -> ``value_code``; ``valueInteger`` -> ``value``. Other value types are
not kept. ``effective_at`` is the start of the effective time (its end when only that is
given), ``effective_end`` the end of an effectivePeriod; without effective[x], ``issued``.

``category`` is one code, as the canonical column holds one: the first of ``survey``,
``laboratory``, ``exam``, ``vital-signs``, ``social-history`` present (the measures test
``survey`` -- Status 1.8.000 ``isAssessmentPerformed`` -- and ``laboratory`` --
``isLaboratoryTestPerformed`` --, so those win), else the first category code.

Incomplete readings are kept and reported, not dropped: a quantity with a number but no unit,
and a blood-pressure panel (LOINC 85354-9 or 55284-4) lacking its systolic or diastolic
component. Their day still shows a reading was taken, which is what CMS165 needs to refuse
the day ("a reading with a missing component makes the day's value unknown"); the issue names
the element so an import rejects the resource and ``measures evaluate`` counts it.
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
    decimal_text,
    pick_code,
    quantity_value_and_unit,
)
from openvbc.interop.fhir.elements import (
    category_text,
    code_columns,
    datetime_of,
    member_of,
    setting_for_class,
    timing_choice,
)
from openvbc.interop.fhir.extract import FhirExtract
from openvbc.interop.fhir.references import ResourceIndex, ResourceItem, resource_key

BP_COMPONENT_CODES: frozenset[str] = frozenset({"8480-6", "8462-4"})  # LOINC systolic, diastolic
BP_PANEL_CODES: frozenset[str] = frozenset({"85354-9", "55284-4"})  # LOINC BP panels (US Core, older)
_BP_COMPONENT_NAMES = {"8480-6": "systolic", "8462-4": "diastolic"}
CATEGORY_PRIORITY: tuple[str, ...] = ("survey", "laboratory", "exam", "vital-signs", "social-history")
_LOINC = "http://loinc.org"


def map_observation(item: ResourceItem, index: ResourceIndex, out: FhirExtract) -> None:
    observation = item.resource
    member_key = member_of(item, index, "subject")
    key = resource_key(observation, item.full_url)
    start, end = timing_choice(observation, "effective")
    if start is None:
        start = end
    if start is None:
        start = datetime_of(observation.get("issued"), "Observation.issued")
    if start is None:
        raise FhirValueError("Observation.effective[x]", "no effective time (and no issued)")
    encounter_key = index.resolve(observation.get("encounter"))
    if encounter_key is not None and not encounter_key.startswith("Encounter/"):
        encounter_key = None
    shared: dict[str, str | None] = {
        "member_key": member_key,
        "category": _one_category(category_text(observation.get("category"))),
        "status": as_text(observation.get("status")),
        "effective_at": start,
        "effective_end": end,
        "encounter_key": encounter_key,
        "setting": setting_for_class(index.encounter_classes.get(encounter_key or "")),
        "source": _source_of(observation),
    }
    components = [c for c in as_list(observation.get("component")) if isinstance(c, dict)]
    own_value = _value_columns(observation, "Observation")
    rows: list[tuple[str, JsonObject, dict[str, str | None]]] = []  # (FHIR path, element, row)
    if not components or any(v is not None for v in own_value.values()):
        codes = code_columns(observation.get("code"), "Observation.code")
        rows.append(
            (
                "Observation",
                observation,
                {"observation_key": key, **codes, **own_value, "panel_key": None, **shared},
            )
        )
    bp_found: set[str] = set()
    for number, component in enumerate(components, start=1):
        field = f"Observation.component[{number - 1}]"
        component_codes = code_columns(component.get("code"), f"{field}.code")
        loinc = [code for system, code in codings_of(component.get("code")) if system == _LOINC]
        bp_code = next((code for code in loinc if code in BP_COMPONENT_CODES), None)
        suffix = bp_code if bp_code else f"component-{number}"
        row = {
            "observation_key": f"{key}#{suffix}",
            **component_codes,
            **_value_columns(component, field),
            "panel_key": key,
            **shared,
        }
        if bp_code is not None and row["value"] is not None:
            bp_found.add(bp_code)
        rows.append((field, component, row))
    # Every row is built before any is added, so a resource refused part-way adds nothing.
    for field, element, row in rows:
        out.add_row("observations", item.label, item.line, row)
        if element.get("valueQuantity") is not None and row["unit"] is None:
            out.add_issue(
                item.label, item.line, f"{field}.valueQuantity.unit", "a numeric value needs its unit"
            )
    loinc_codes = {code for system, code in codings_of(observation.get("code")) if system == _LOINC}
    missing = sorted(BP_COMPONENT_CODES - bp_found) if loinc_codes & BP_PANEL_CODES else []
    if missing:
        names = " and ".join(f"{_BP_COMPONENT_NAMES[code]} ({code})" for code in missing)
        out.add_issue(
            item.label, item.line, "Observation.component", f"blood pressure panel has no {names} value"
        )


def _one_category(codes: str | None) -> str | None:
    """The one category the canonical column keeps (see the module docstring)."""
    if codes is None:
        return None
    present = codes.split("|")
    return next((c for c in CATEGORY_PRIORITY if c in present), present[0])


def _value_columns(element: JsonObject, field: str) -> dict[str, str | None]:
    value: str | None = None
    unit: str | None = None
    value_system: str | None = None
    value_code: str | None = None
    if element.get("valueQuantity") is not None:
        value, unit = quantity_value_and_unit(element.get("valueQuantity"))
        if value is None:
            raise FhirValueError(f"{field}.valueQuantity.value", "not a number")
    elif element.get("valueCodeableConcept") is not None:
        value_system, value_code = _coded_value(element.get("valueCodeableConcept"))
    elif isinstance(element.get("valueBoolean"), bool):
        value_code = "true" if element.get("valueBoolean") else "false"
    elif element.get("valueString") is not None:
        value_code = as_text(element.get("valueString"))
    elif element.get("valueInteger") is not None:
        value = decimal_text(element.get("valueInteger"))
    return {"value": value, "unit": unit, "value_code_system": value_system, "value_code": value_code}


def _coded_value(concept: Any) -> tuple[str | None, str | None]:
    """The first coding in a modeled system; else the first code (its system is not modeled)."""
    codings = codings_of(concept)
    picked = pick_code(codings)
    if picked is not None:
        return picked
    return (None, codings[0][1]) if codings else (None, None)


def _source_of(observation: JsonObject) -> str:
    """``patient`` when a Patient/RelatedPerson performed it, ``device`` when only a device did."""
    performers = [as_object(p) or {} for p in as_list(observation.get("performer"))]
    references = [str(p.get("reference") or "") for p in performers]
    if any(ref.split("/")[-2:-1] in (["Patient"], ["RelatedPerson"]) for ref in references):
        return "patient"
    if not performers and as_object(observation.get("device")) is not None:
        return "device"
    return "ehr"
