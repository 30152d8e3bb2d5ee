"""Procedure, ServiceRequest and DeviceRequest -> procedures rows (FHIR R4, QI-Core 4.1.1).

``kind`` says what the row records:

- ``performed``: a Procedure (status kept; the measures count ``completed`` only).
- ``not-done``: a Procedure with status ``not-done``, or a request with ``doNotPerform`` true.
- ``ordered``: a ServiceRequest (e.g. a hospice or palliative referral, Hospice 6.12.000
  "Hospice Care Ambulatory") or a DeviceRequest (AdvancedIllnessandFrailty 1.16.000 "Frailty
  Device") whose intent is an order (``order``, ``original-order``, ``reflex-order``,
  ``filler-order``, ``instance-order``). Requests with another intent (proposal, plan,
  directive, option) are not orders: they are counted in ``skipped``.

For a request ``performed_start`` is ``authoredOn`` (the moment the measures test), else the
start of ``occurrence[x]``. A not-done Procedure usually has no performed time; QI-Core's
``qicore-recorded`` extension then gives it. DeviceRequest has no ``doNotPerform`` element in
R4; QI-Core carries it as the modifier extension ``qicore-doNotPerform``, read here by its
exact URL as QICoreCommon's ``doNotPerform()`` does.
"""

from __future__ import annotations

from openvbc.interop.fhir.datatypes import FhirValueError, JsonObject, as_text, extension_values
from openvbc.interop.fhir.elements import code_columns, datetime_of, member_of, timing_choice
from openvbc.interop.fhir.extract import FhirExtract
from openvbc.interop.fhir.references import ResourceIndex, ResourceItem, resource_key

QICORE_RECORDED = "http://hl7.org/fhir/us/qicore/StructureDefinition/qicore-recorded"
QICORE_DO_NOT_PERFORM = "http://hl7.org/fhir/us/qicore/StructureDefinition/qicore-doNotPerform"
ORDER_INTENTS = frozenset({"order", "original-order", "reflex-order", "filler-order", "instance-order"})


def map_procedure(item: ResourceItem, index: ResourceIndex, out: FhirExtract) -> None:
    procedure = item.resource
    member_key = member_of(item, index, "subject")
    codes = code_columns(procedure.get("code"), "Procedure.code")
    status = as_text(procedure.get("status"))
    start, end = timing_choice(procedure, "performed")
    if start is None:
        start = end
    if start is None:
        recorded = next(iter(extension_values(procedure, QICORE_RECORDED)), None)
        start = datetime_of(recorded, "Procedure.extension(qicore-recorded)")
    if start is None:
        raise FhirValueError("Procedure.performed[x]", "no performed time (dateTime or Period)")
    values: dict[str, str | None] = {
        "procedure_key": resource_key(procedure, item.full_url),
        "member_key": member_key,
        **codes,
        "kind": "not-done" if status == "not-done" else "performed",
        "status": status,
        "performed_start": start,
        "performed_end": end,
        "encounter_key": _encounter_key(procedure, index),
        "source": "ehr",
    }
    out.add_row("procedures", item.label, item.line, values)


def map_service_request(item: ResourceItem, index: ResourceIndex, out: FhirExtract) -> None:
    request = item.resource
    _map_request(item, index, out, request.get("code"), request.get("doNotPerform") is True)


def map_device_request(item: ResourceItem, index: ResourceIndex, out: FhirExtract) -> None:
    request = item.resource
    flags = extension_values(request, QICORE_DO_NOT_PERFORM, modifier=True)
    _map_request(item, index, out, request.get("codeCodeableConcept"), any(flag is True for flag in flags))


def _map_request(
    item: ResourceItem, index: ResourceIndex, out: FhirExtract, code: object, do_not_perform: bool
) -> None:
    request = item.resource
    resource_type = str(request.get("resourceType"))
    intent = as_text(request.get("intent"))
    if intent not in ORDER_INTENTS:
        out.skip(f"{resource_type} (intent {intent or 'missing'})")
        return
    member_key = member_of(item, index, "subject")
    codes = code_columns(code, f"{resource_type}.code")
    start = datetime_of(request.get("authoredOn"), f"{resource_type}.authoredOn")
    if start is None:
        occurrence_start, occurrence_end = timing_choice(request, "occurrence")
        start = occurrence_start or occurrence_end
    if start is None:
        raise FhirValueError(f"{resource_type}.authoredOn", "no authoredOn and no occurrence[x]")
    values: dict[str, str | None] = {
        "procedure_key": resource_key(request, item.full_url),
        "member_key": member_key,
        **codes,
        "kind": "not-done" if do_not_perform else "ordered",
        "status": as_text(request.get("status")),
        "performed_start": start,
        "performed_end": None,
        "encounter_key": _encounter_key(request, index),
        "source": "ehr",
    }
    out.add_row("procedures", item.label, item.line, values)


def _encounter_key(resource: JsonObject, index: ResourceIndex) -> str | None:
    key = index.resolve(resource.get("encounter"))
    return key if key and key.startswith("Encounter/") else None
