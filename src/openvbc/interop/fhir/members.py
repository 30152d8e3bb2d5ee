"""Patient -> members row; Coverage -> coverage row.

Profiles followed: US Core 6.1 Patient (race/ethnicity extensions with OMB categories from
CDC Race & Ethnicity, urn:oid:2.16.840.1.113883.6.238) and FHIR R4 Coverage.
"""

from __future__ import annotations

from openvbc.interop.fhir.datatypes import (
    FhirValueError,
    JsonObject,
    as_list,
    as_object,
    as_text,
    codings_of,
)
from openvbc.interop.fhir.elements import date_of
from openvbc.interop.fhir.extract import FhirExtract
from openvbc.interop.fhir.payers import UNKNOWN_LINE_OF_BUSINESS, line_of_business_for
from openvbc.interop.fhir.references import ResourceIndex, ResourceItem, logical_id, resource_key

US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
US_CORE_ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"

_SEX_BY_GENDER = {"female": "F", "male": "M"}  # other | unknown | absent -> U


def map_patient(item: ResourceItem, index: ResourceIndex, out: FhirExtract) -> None:
    patient = item.resource
    member_key = logical_id(resource_key(patient, item.full_url))
    birth_date = date_of(patient.get("birthDate"), "Patient.birthDate")
    if birth_date is None:
        raise FhirValueError("Patient.birthDate", "missing (the package requires a birth date)")
    first_name, last_name = _name_parts(patient.get("name"))
    address = _home_address(patient.get("address"))
    pcp_npi = None
    for practitioner in as_list(patient.get("generalPractitioner")):
        pcp_npi = index.npi_for(practitioner)
        if pcp_npi:
            break
    death_date = date_of(patient.get("deceasedDateTime"), "Patient.deceasedDateTime")
    values: dict[str, str | None] = {
        "member_key": member_key,
        "first_name": first_name,
        "last_name": last_name,
        "birth_date": birth_date,
        "sex": _SEX_BY_GENDER.get(str(patient.get("gender")), "U"),
        "race": _omb_codes(patient, US_CORE_RACE),
        "ethnicity": _omb_codes(patient, US_CORE_ETHNICITY),
        "line_of_business": index.lines_of_business.get(member_key, UNKNOWN_LINE_OF_BUSINESS),
        "pcp_npi": pcp_npi,
        "death_date": death_date,
        **address,
    }
    out.add_row("members", item.label, item.line, values)


def map_coverage(item: ResourceItem, index: ResourceIndex, out: FhirExtract) -> None:
    coverage = item.resource
    if coverage.get("status") in ("cancelled", "entered-in-error", "draft"):
        out.skip(f"Coverage (status {coverage.get('status')})")
        return
    member_key = index.member_key_for(coverage.get("beneficiary"))
    if member_key is None:
        raise FhirValueError("Coverage.beneficiary", "no reference to a Patient")
    period = as_object(coverage.get("period")) or {}
    start = date_of(period.get("start"), "Coverage.period.start")
    if start is None:
        # A Coverage without a start says who pays, not when: it still sets the member's line
        # of business (see ResourceIndex) but cannot be a coverage span.
        out.skip("Coverage (no period.start)")
        return
    values: dict[str, str | None] = {
        "coverage_key": resource_key(coverage, item.full_url),
        "member_key": member_key,
        "line_of_business": line_of_business_for(coverage),
        "plan_code": _plan_code(coverage),
        "start_date": start,
        "end_date": date_of(period.get("end"), "Coverage.period.end", end=True),
        "rx_benefit": None,  # not stated by Coverage; the loader applies the table default
    }
    out.add_row("coverage", item.label, item.line, values)


def _name_parts(names: object) -> tuple[str | None, str | None]:
    candidates = [n for n in as_list(names) if isinstance(n, dict)]
    if not candidates:
        return None, None
    chosen = next((n for n in candidates if n.get("use") in ("official", "usual")), candidates[0])
    given = [g for g in as_list(chosen.get("given")) if isinstance(g, str)]
    return (given[0] if given else None), as_text(chosen.get("family"))


def _home_address(addresses: object) -> dict[str, str | None]:
    candidates = [a for a in as_list(addresses) if isinstance(a, dict)]
    empty: dict[str, str | None] = {"address": None, "city": None, "state": None, "zip": None}
    if not candidates:
        return empty
    chosen = next((a for a in candidates if a.get("use") == "home"), candidates[0])
    lines = [line.strip() for line in as_list(chosen.get("line")) if isinstance(line, str) and line.strip()]
    return {
        "address": ", ".join(lines) or None,
        "city": as_text(chosen.get("city")),
        "state": as_text(chosen.get("state")),
        "zip": as_text(chosen.get("postalCode")),
    }


def _omb_codes(patient: JsonObject, url: str) -> str | None:
    """OMB category codes of a US Core race/ethnicity extension, ``|``-separated."""
    codes: list[str] = []
    for extension in as_list(patient.get("extension")):
        if not isinstance(extension, dict) or extension.get("url") != url:
            continue
        for part in as_list(extension.get("extension")):
            if isinstance(part, dict) and part.get("url") == "ombCategory":
                codes.extend(code for _, code in codings_of(part.get("valueCoding")) if code not in codes)
    return "|".join(codes) or None


def _plan_code(coverage: JsonObject) -> str | None:
    for klass in as_list(coverage.get("class")):
        obj = as_object(klass)
        if obj and any(code == "plan" for _, code in codings_of(obj.get("type"))):
            return as_text(obj.get("value"))
    return None
