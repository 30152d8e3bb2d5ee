"""Canonical rows rendered as FHIR R4 resources (JSON), and searchset Bundles.

The inverse of ``openvbc.interop.fhir`` for the few resources the API serves: ids are the
natural keys (Patient.id = member_key, Observation.id = observation_key), so a resource read
back has the id it was submitted with.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from openvbc.domain.codesystems import uri_for_system_name

MEMBER_ID_SYSTEM = "urn:openvbc:member-id"
UCUM = "http://unitsofmeasure.org"
GENDER = {"F": "female", "M": "male", "U": "unknown"}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _system_uri(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return uri_for_system_name(name)
    except (KeyError, ValueError):
        return f"urn:openvbc:code-system:{name}"


def _drop_empty(resource: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in resource.items() if value not in (None, [], {}, "")}


def render_patient(row: dict[str, Any]) -> dict[str, Any]:
    name = _drop_empty(
        {"family": row.get("last_name"), "given": [row["first_name"]] if row.get("first_name") else []}
    )
    address = _drop_empty(
        {
            "line": [row["address"]] if row.get("address") else [],
            "city": row.get("city"),
            "state": row.get("state"),
            "postalCode": row.get("zip"),
        }
    )
    resource = {
        "resourceType": "Patient",
        "id": row["member_key"],
        "identifier": [{"system": MEMBER_ID_SYSTEM, "value": row["member_key"]}],
        "name": [name] if name else [],
        "gender": GENDER.get(str(row.get("sex")), "unknown"),
        "birthDate": _text(row.get("birth_date")),
        "address": [address] if address else [],
        "deceasedDateTime": _text(row.get("death_date")),
    }
    if row.get("pcp_npi"):
        resource["generalPractitioner"] = [
            {"identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": row["pcp_npi"]}}
        ]
    return _drop_empty(resource)


def render_observation(row: dict[str, Any], member_key: str) -> dict[str, Any]:
    coding = [_drop_empty({"system": _system_uri(row.get("code_system")), "code": row.get("code")})]
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        # FHIR imports key observations as 'Observation/<id>'; other sources by their own key.
        "id": str(row["observation_key"]).removeprefix("Observation/"),
        "status": row.get("status") or "final",
        "code": {"coding": coding},
        "subject": {"reference": f"Patient/{member_key}"},
        "effectiveDateTime": _text(row.get("effective_at")),
    }
    if row.get("category"):
        resource["category"] = [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": row["category"],
                    }
                ]
            }
        ]
    if row.get("value_num") is not None:
        resource["valueQuantity"] = _drop_empty(
            {
                "value": row["value_num"],
                "unit": row.get("unit"),
                "system": UCUM if row.get("unit") else None,
                "code": row.get("unit"),
            }
        )
    elif row.get("value_code"):
        resource["valueCodeableConcept"] = {
            "coding": [
                _drop_empty({"system": _system_uri(row.get("value_code_system")), "code": row["value_code"]})
            ]
        }
    return _drop_empty(resource)


def render_group(npi: str, kind: str, name: str | None, member_keys: list[str]) -> dict[str, Any]:
    """An attribution list as a Group (the Bulk Data ``Group/[id]/$export`` target)."""
    return {
        "resourceType": "Group",
        "id": npi,
        "type": "person",
        "actual": True,
        "name": f"Members attributed to {name or npi}",
        "managingEntity": {
            "identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": npi},
            "display": f"{kind} {name or npi}",
        },
        "quantity": len(member_keys),
        "member": [{"entity": {"reference": f"Patient/{key}"}} for key in member_keys],
    }


def render_searchset(resources: list[dict[str, Any]], self_url: str, next_url: str | None) -> dict[str, Any]:
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [
            {
                "fullUrl": f"{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ],
    }
