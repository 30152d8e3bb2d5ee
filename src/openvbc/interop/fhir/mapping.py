"""Dispatch resources to their mappers; turn bad data into issues; count what is not mapped.

``map_items`` is the one place that calls the per-resource mappers, for a Bundle
(``map_bundle``) and for files (``read_fhir_path``) alike. A mapper raises ``FhirValueError``
for data it cannot map; anything else it raises is a defect in the mapper, still reported as
an issue so that one odd resource never aborts an import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from openvbc.interop.fhir.claims import map_claim
from openvbc.interop.fhir.conditions import map_condition
from openvbc.interop.fhir.datatypes import FhirValueError, JsonObject, as_list, as_object, as_text
from openvbc.interop.fhir.encounters import map_encounter
from openvbc.interop.fhir.extract import FhirExtract
from openvbc.interop.fhir.medications import map_medication_dispense, map_medication_request
from openvbc.interop.fhir.members import map_coverage, map_patient
from openvbc.interop.fhir.observations import map_observation
from openvbc.interop.fhir.procedures import map_device_request, map_procedure, map_service_request
from openvbc.interop.fhir.providers import map_organization, map_practitioner
from openvbc.interop.fhir.references import ResourceIndex, ResourceItem, logical_id, resource_key

Mapper = Callable[[ResourceItem, ResourceIndex, FhirExtract], None]

MAPPERS: dict[str, Mapper] = {
    "Patient": map_patient,
    "Coverage": map_coverage,
    "Encounter": map_encounter,
    "Condition": map_condition,
    "Observation": map_observation,
    "Procedure": map_procedure,
    "ServiceRequest": map_service_request,
    "DeviceRequest": map_device_request,
    "MedicationRequest": map_medication_request,
    "MedicationDispense": map_medication_dispense,
    "Claim": map_claim,
    "ExplanationOfBenefit": map_claim,
    "Practitioner": map_practitioner,
    "Organization": map_organization,
}


def iterate_bundle(bundle: JsonObject, source_label: str) -> Iterator[ResourceItem]:
    """Every resource of a Bundle (nested Bundles flattened); entry numbers are 1-based lines.

    The label names the entry FHIRPath-style (``#entry[0]`` is the first entry). DELETE entries
    of a transaction/batch carry no resource and are passed over.
    """
    for position, entry in enumerate(as_list(bundle.get("entry"))):
        entry_obj = as_object(entry)
        resource = as_object(entry_obj.get("resource")) if entry_obj else None
        if entry_obj is None or resource is None:
            continue
        label = f"{source_label}#entry[{position}]"
        if resource.get("resourceType") == "Bundle":
            yield from iterate_bundle(resource, label)
            continue
        yield ResourceItem(label, position + 1, resource, as_text(entry_obj.get("fullUrl")))


def index_items(items: Iterable[ResourceItem], index: ResourceIndex | None = None) -> ResourceIndex:
    index = index or ResourceIndex()
    for item in items:
        index.add(item)
    return index


def map_items(items: Iterable[ResourceItem], index: ResourceIndex, out: FhirExtract) -> None:
    for item in items:
        map_item(item, index, out)


def map_item(item: ResourceItem, index: ResourceIndex, out: FhirExtract) -> None:
    resource_type = item.resource.get("resourceType")
    if not isinstance(resource_type, str):
        out.add_issue(item.label, item.line, "resourceType", "missing: not a FHIR resource")
        return
    mapper = MAPPERS.get(resource_type)
    if mapper is None:
        out.skip(resource_type)
        return
    issues_before = len(out.issues)
    try:
        mapper(item, index, out)
    except FhirValueError as exc:
        out.add_issue(item.label, item.line, exc.field, str(exc))
    except Exception as exc:  # a mapper defect must not abort the import; report it with the resource
        out.add_issue(
            item.label, item.line, resource_type, f"could not be mapped ({type(exc).__name__}: {exc})"
        )
    if len(out.issues) > issues_before:
        member_key = member_key_of(item, index)
        if member_key is not None:
            out.issue_member_keys[item.label] = member_key


# Elements naming the Patient a resource is about (R4: subject; Coverage: beneficiary; others: patient).
_PATIENT_ELEMENTS = ("subject", "patient", "beneficiary")


def member_key_of(item: ResourceItem, index: ResourceIndex) -> str | None:
    """The member key (Patient logical id) a resource is about, or None when it names none."""
    if item.resource.get("resourceType") == "Patient":
        return logical_id(resource_key(item.resource, item.full_url))
    for element in _PATIENT_ELEMENTS:
        key = index.member_key_for(item.resource.get(element))
        if key is not None:
            return key
    if all(item.resource.get(element) is None for element in _PATIENT_ELEMENTS):
        return index.compartment_member_key
    return None


def map_bundle(bundle: dict, *, source_label: str, patient_compartment: bool = False) -> FhirExtract:
    """Map one Bundle (any type) -- or a single resource -- to plan-package rows. Pure.

    ``patient_compartment``: the bundle holds one patient's record (an eCQM test case, the
    output of ``Patient/$everything``), so when it has exactly one Patient, a resource that
    names no patient (no subject/patient/beneficiary element) is about that Patient. A
    reference that is present but names no Patient stays an issue.
    """
    out = FhirExtract()
    if bundle.get("resourceType") == "Bundle":
        items = list(iterate_bundle(bundle, source_label))
    else:
        items = [ResourceItem(source_label, 1, bundle)]
    index = index_items(items)
    if patient_compartment:
        patients = [item for item in items if item.resource.get("resourceType") == "Patient"]
        if len(patients) == 1:
            index.compartment_member_key = logical_id(
                resource_key(patients[0].resource, patients[0].full_url)
            )
    map_items(items, index, out)
    return out
