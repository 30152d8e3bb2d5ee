"""Claim and ExplanationOfBenefit -> claims + claim_lines rows (FHIR R4; CARIN Blue Button 2.0
conventions for the EOB codes).

- ``claim_type`` from ``type`` (claim-type codes ``professional`` / ``institutional``); oral,
  vision and pharmacy claims have no place in the medical claim file and are counted in
  ``skipped`` (pharmacy data arrives as fills).
- ``billing_npi`` = the NPI of ``provider``; ``from``/``to`` = ``billablePeriod`` (else the
  span of the item service dates).
- ``diagnosis_codes``: ICD-10-CM codes by ``diagnosis.sequence``, without the dot, ``|``-joined.
- Lines: each ``item`` with a CPT or HCPCS Level II code (5 characters); items coded otherwise
  are counted in ``skipped``. ``rendering_npi`` from the care-team member the item points at.
- Amounts (EOB only): ``total``/``adjudication`` categories ``eligible`` (allowed) and
  ``benefit`` (paid), from http://terminology.hl7.org/CodeSystem/adjudication.
- ``place_of_service``: CMS place-of-service code of ``item.locationCodeableConcept``;
  ``bill_type``/``discharge_status``: ``supportingInfo`` categories ``typeofbill`` and
  ``discharge-status`` (CARIN BB).
"""

from __future__ import annotations

from openvbc.interop.fhir.datatypes import (
    FhirValueError,
    JsonObject,
    as_list,
    as_object,
    codings_of,
    decimal_text,
    first_code_in,
)
from openvbc.interop.fhir.elements import date_of
from openvbc.interop.fhir.extract import FhirExtract
from openvbc.interop.fhir.references import ResourceIndex, ResourceItem, resource_key

CLAIM_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/claim-type"
POS_SYSTEM = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
ICD10CM_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
PROCEDURE_SYSTEMS = frozenset(
    {
        "http://www.ama-assn.org/go/cpt",
        "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
        "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
        "urn:oid:2.16.840.1.113883.6.12",
        "urn:oid:2.16.840.1.113883.6.285",
    }
)
_CLAIM_TYPES = {"professional": "professional", "institutional": "institutional"}


def map_claim(item: ResourceItem, index: ResourceIndex, out: FhirExtract) -> None:
    claim = item.resource
    type_name = str(claim.get("resourceType"))
    if claim.get("status") in ("cancelled", "entered-in-error"):
        out.skip(f"{type_name} (status {claim.get('status')})")
        return
    raw_type = first_code_in([claim.get("type")], CLAIM_TYPE_SYSTEM)
    claim_type = _CLAIM_TYPES.get(raw_type or "")
    if claim_type is None:
        out.skip(f"{type_name} (type {raw_type or 'missing'})")
        return
    member_key = index.member_key_for(claim.get("patient"))
    if member_key is None:
        raise FhirValueError(f"{type_name}.patient", "no reference to a Patient")
    billing_npi = index.npi_for(claim.get("provider"))
    if billing_npi is None:
        raise FhirValueError(f"{type_name}.provider", "no billing provider with a valid NPI")
    items = [i for i in as_list(claim.get("item")) if isinstance(i, dict)]
    service_dates = [d for i in items for d in _service_dates(i, type_name) if d]
    period = as_object(claim.get("billablePeriod")) or {}
    from_date = date_of(period.get("start"), f"{type_name}.billablePeriod.start") or min(
        service_dates, default=None
    )
    to_date = date_of(period.get("end"), f"{type_name}.billablePeriod.end") or max(
        service_dates, default=None
    )
    if from_date is None:
        raise FhirValueError(f"{type_name}.billablePeriod", "no billable period and no service dates")
    claim_key = resource_key(claim, item.full_url)
    place_of_service = next((p for i in items if (p := _place_of_service(i))), None)
    values: dict[str, str | None] = {
        "claim_key": claim_key,
        "member_key": member_key,
        "claim_type": claim_type,
        "billing_npi": billing_npi,
        "from_date": from_date,
        "to_date": to_date or from_date,
        "place_of_service": place_of_service,
        "bill_type": _supporting_code(claim, "typeofbill"),
        "discharge_status": _supporting_code(claim, "discharge-status"),
        "diagnosis_codes": _diagnosis_codes(claim),
        "allowed_amount": _amount(claim.get("total"), "eligible"),
        "paid_amount": _amount(claim.get("total"), "benefit"),
    }
    out.add_row("claims", item.label, item.line, values)
    care_team = {
        str(member.get("sequence")): index.npi_for(member.get("provider"))
        for member in as_list(claim.get("careTeam"))
        if isinstance(member, dict)
    }
    for number, claim_item in enumerate(items, start=1):
        code = next(
            (c for s, c in codings_of(claim_item.get("productOrService")) if s in PROCEDURE_SYSTEMS), None
        )
        if code is None or len(code) != 5:
            out.skip(f"{type_name}.item (no CPT/HCPCS code)")
            continue
        dates = _service_dates(claim_item, type_name)
        sequences = [str(s) for s in as_list(claim_item.get("careTeamSequence"))]
        line: dict[str, str | None] = {
            "claim_key": claim_key,
            "line_number": str(claim_item.get("sequence") or number),
            "procedure_code": code,
            "modifiers": "|".join(
                c for concept in as_list(claim_item.get("modifier")) for _, c in codings_of(concept)
            )
            or None,
            "service_date": dates[0] or from_date,
            "units": decimal_text((as_object(claim_item.get("quantity")) or {}).get("value")) or "1",
            "rendering_npi": next((care_team[s] for s in sequences if care_team.get(s)), None),
            "place_of_service": _place_of_service(claim_item) or place_of_service,
            "allowed_amount": _amount(claim_item.get("adjudication"), "eligible"),
        }
        out.add_row("claim_lines", item.label, item.line, line)


def _service_dates(claim_item: JsonObject, type_name: str) -> tuple[str | None, str | None]:
    if claim_item.get("servicedDate") is not None:
        day = date_of(claim_item.get("servicedDate"), f"{type_name}.item.servicedDate")
        return day, day
    period = as_object(claim_item.get("servicedPeriod")) or {}
    return (
        date_of(period.get("start"), f"{type_name}.item.servicedPeriod.start"),
        date_of(period.get("end"), f"{type_name}.item.servicedPeriod.end"),
    )


def _place_of_service(claim_item: JsonObject) -> str | None:
    return first_code_in([claim_item.get("locationCodeableConcept")], POS_SYSTEM)


def _diagnosis_codes(claim: JsonObject) -> str | None:
    entries = [d for d in as_list(claim.get("diagnosis")) if isinstance(d, dict)]
    entries.sort(key=_sequence_of)
    codes: list[str] = []
    for entry in entries:
        code = first_code_in([entry.get("diagnosisCodeableConcept")], ICD10CM_SYSTEM)
        if code and code.replace(".", "") not in codes:
            codes.append(code.replace(".", ""))
    return "|".join(codes) or None


def _sequence_of(entry: JsonObject) -> int:
    sequence = entry.get("sequence")
    return sequence if isinstance(sequence, int) else 10**6


def _supporting_code(claim: JsonObject, category: str) -> str | None:
    for info in as_list(claim.get("supportingInfo")):
        obj = as_object(info)
        if obj and any(code == category for _, code in codings_of(obj.get("category"))):
            return first_code_in([obj.get("code")])
    return None


def _amount(entries: object, category: str) -> str | None:
    """The amount of the total/adjudication entry with the given adjudication category."""
    for entry in as_list(entries):
        obj = as_object(entry)
        if obj and any(code == category for _, code in codings_of(obj.get("category"))):
            return decimal_text((as_object(obj.get("amount")) or {}).get("value"))
    return None
