"""Practitioner and Organization with an NPI -> providers row.

``kind``: a Practitioner is a ``clinician``. An Organization is classified from its NUCC
provider taxonomy when it has one (https://taxonomy.nucc.org: codes starting ``3336`` are
pharmacies, ``27``/``28`` hospital units and hospitals), else from the HL7 organization-type
code (``ins``/``pay`` -> ``plan``), else ``practice``. Resources without an NPI identifier are
counted in ``skipped``; an NPI that fails the check digit is an issue.
"""

from __future__ import annotations

from openvbc.domain.npi import is_valid_npi
from openvbc.interop.fhir.datatypes import FhirValueError, JsonObject, as_list, as_object, as_text, codings_of
from openvbc.interop.fhir.extract import FhirExtract
from openvbc.interop.fhir.references import NPI_SYSTEM, ResourceIndex, ResourceItem

NUCC_TAXONOMY = "http://nucc.org/provider-taxonomy"
ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
TIN_SYSTEMS = frozenset({"urn:oid:2.16.840.1.113883.4.4", "http://hl7.org/fhir/sid/us-tin"})


def map_practitioner(item: ResourceItem, index: ResourceIndex, out: FhirExtract) -> None:
    practitioner = item.resource
    npi = _npi_or_skip(item, out)
    if npi is None:
        return
    name = _person_name(practitioner.get("name"))
    if name is None:
        raise FhirValueError("Practitioner.name", "missing (the package requires a provider name)")
    taxonomy = next(
        (
            code
            for qualification in as_list(practitioner.get("qualification"))
            for system, code in codings_of((as_object(qualification) or {}).get("code"))
            if system == NUCC_TAXONOMY
        ),
        None,
    )
    row = {"npi": npi, "kind": "clinician", "name": name, "taxonomy": taxonomy, "parent_npi": None}
    out.add_row("providers", item.label, item.line, {**row, "tin": None, **_address(practitioner)})


def map_organization(item: ResourceItem, index: ResourceIndex, out: FhirExtract) -> None:
    organization = item.resource
    npi = _npi_or_skip(item, out)
    if npi is None:
        return
    name = as_text(organization.get("name"))
    if name is None:
        raise FhirValueError("Organization.name", "missing (the package requires a provider name)")
    codings = [c for concept in as_list(organization.get("type")) for c in codings_of(concept)]
    taxonomy = next((code for system, code in codings if system == NUCC_TAXONOMY), None)
    org_types = {code for system, code in codings if system == ORGANIZATION_TYPE}
    tin = next(
        (
            as_text(i.get("value"))
            for i in as_list(organization.get("identifier"))
            if isinstance(i, dict) and i.get("system") in TIN_SYSTEMS
        ),
        None,
    )
    values: dict[str, str | None] = {
        "npi": npi,
        "kind": _organization_kind(taxonomy, org_types),
        "name": name,
        "taxonomy": taxonomy,
        "parent_npi": index.npi_for(organization.get("partOf")),
        "tin": tin,
        **_address(organization),
    }
    out.add_row("providers", item.label, item.line, values)


def _organization_kind(taxonomy: str | None, org_types: set[str]) -> str:
    if taxonomy and taxonomy.startswith("3336"):
        return "pharmacy"
    if taxonomy and taxonomy[:2] in ("27", "28"):
        return "hospital"
    if org_types & {"ins", "pay"}:
        return "plan"
    return "practice"


def _npi_or_skip(item: ResourceItem, out: FhirExtract) -> str | None:
    resource_type = str(item.resource.get("resourceType"))
    values = [
        as_text(i.get("value")) or ""
        for i in as_list(item.resource.get("identifier"))
        if isinstance(i, dict) and i.get("system") == NPI_SYSTEM
    ]
    if not values:
        out.skip(f"{resource_type} (no NPI)")
        return None
    valid = next((v for v in values if is_valid_npi(v)), None)
    if valid is None:
        raise FhirValueError(f"{resource_type}.identifier", f"NPI {values[0]!r} fails the NPI check digit")
    return valid


def _person_name(names: object) -> str | None:
    for name in as_list(names):
        obj = as_object(name)
        if obj is None:
            continue
        text = as_text(obj.get("text"))
        if text:
            return text
        given = " ".join(g for g in as_list(obj.get("given")) if isinstance(g, str))
        parts = [p for p in (given, as_text(obj.get("family"))) if p]
        if parts:
            return " ".join(parts)
    return None


def _address(resource: JsonObject) -> dict[str, str | None]:
    addresses = [a for a in as_list(resource.get("address")) if isinstance(a, dict)]
    if not addresses:
        return {"address": None, "city": None, "state": None, "zip": None}
    chosen = addresses[0]
    lines = [line.strip() for line in as_list(chosen.get("line")) if isinstance(line, str) and line.strip()]
    return {
        "address": ", ".join(lines) or None,
        "city": as_text(chosen.get("city")),
        "state": as_text(chosen.get("state")),
        "zip": as_text(chosen.get("postalCode")),
    }
