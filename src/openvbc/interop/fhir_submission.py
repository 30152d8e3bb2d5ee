"""Clinical data a pharmacy submits to the plan: a FHIR R4 Bundle of US Core Observations.

Profiles (HL7 US Core 3.1.1, the version the eCQM QI-Core 4.1.1 content builds on):
- blood pressure: ``us-core-blood-pressure`` — category vital-signs, code LOINC 85354-9, the
  systolic (8480-6) and diastolic (8462-4) readings as components in UCUM ``mm[Hg]``;
- HbA1c: ``us-core-observation-lab`` — category laboratory, LOINC 4548-4, ``%``;
- smoking status: ``us-core-smokingstatus`` — category social-history, LOINC 72166-2, a SNOMED CT
  answer.

The Bundle is a ``collection`` with no Patient resources: subjects are ``Patient/<member_key>``,
so the plan's own member records are never overwritten, and ``openvbc import`` maps the bundle
through ``openvbc.interop.fhir`` into observation rows (components become rows sharing the panel
key). Input rows are plain mappings (the observation table's columns plus ``member_key``), so this
module stays free of the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from openvbc.domain.codesystems import SYSTEM_URIS

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
BP_PARTS = {"8480-6": "Systolic blood pressure", "8462-4": "Diastolic blood pressure"}
PROFILE_BY_CODE = {"4548-4": "us-core-observation-lab", "72166-2": "us-core-smokingstatus"}
DISPLAY = {"4548-4": "Hemoglobin A1c/Hemoglobin.total in Blood", "72166-2": "Tobacco smoking status"}
_ID = re.compile(r"[^A-Za-z0-9\-.]")


def build_observation_bundle(rows: Iterable[Mapping[str, Any]], *, timestamp: datetime) -> dict[str, Any]:
    """One Observation per reading, one per blood-pressure panel (its two rows become components)."""
    panels: dict[str, list[Mapping[str, Any]]] = {}
    singles: list[Mapping[str, Any]] = []
    for row in rows:
        if row.get("panel_key") and row["code"] in BP_PARTS:
            panels.setdefault(str(row["panel_key"]), []).append(row)
        else:
            singles.append(row)
    resources = [_bp(key, parts) for key, parts in sorted(panels.items())]
    resources += [_single(row) for row in singles]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _instant(timestamp),
        "entry": [{"fullUrl": f"urn:openvbc:Observation/{r['id']}", "resource": r} for r in resources],
    }


def _bp(panel_key: str, parts: list[Mapping[str, Any]]) -> dict[str, Any]:
    first = parts[0]
    resource = _base(panel_key, first, "vital-signs", "us-core-blood-pressure", BP_PANEL)
    resource["component"] = [
        {
            "code": {
                "coding": [
                    {"system": SYSTEM_URIS["loinc"], "code": p["code"], "display": BP_PARTS[p["code"]]}
                ]
            },
            "valueQuantity": _quantity(p["value_num"], "mm[Hg]"),
        }
        for p in sorted(parts, key=lambda p: list(BP_PARTS).index(p["code"]))
    ]
    return resource


def _single(row: Mapping[str, Any]) -> dict[str, Any]:
    code = str(row["code"])
    category = str(row.get("category") or "laboratory")
    profile = PROFILE_BY_CODE.get(code, "us-core-observation-lab")
    resource = _base(str(row["observation_key"]), row, category, profile, (code, DISPLAY.get(code, "")))
    if row.get("value_code"):
        system = SYSTEM_URIS.get(
            str(row.get("value_code_system") or ""), str(row.get("value_code_system") or "")
        )
        resource["valueCodeableConcept"] = {"coding": [{"system": system, "code": str(row["value_code"])}]}
    elif row.get("value_num") is not None:
        resource["valueQuantity"] = _quantity(row["value_num"], str(row.get("unit") or ""))
    return resource


def _base(
    key: str, row: Mapping[str, Any], category: str, profile: str, code: tuple[str, str]
) -> dict[str, Any]:
    coding: dict[str, str] = {"system": SYSTEM_URIS["loinc"], "code": code[0]}
    if code[1]:
        coding["display"] = code[1]
    return {
        "resourceType": "Observation",
        "id": observation_id(key),
        "meta": {"profile": [US_CORE + profile]},
        "status": str(row.get("status") or "final"),
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": category}]}],
        "code": {"coding": [coding]},
        "subject": {"reference": f"Patient/{row['member_key']}"},
        "effectiveDateTime": _instant(row["effective_at"]),
    }


def observation_id(key: str) -> str:
    """A FHIR id from a store key (``mtm/enc-1/4548-4`` → ``mtm-enc-1-4548-4``)."""
    return _ID.sub("-", key)[:64]


def _quantity(value: Any, unit: str) -> dict[str, Any]:
    number = float(value)
    return {
        "value": int(number) if number.is_integer() else number,
        "unit": unit,
        "system": SYSTEM_URIS["ucum"],
        "code": unit,
    }


def _instant(moment: datetime) -> str:
    """Store date-times are naive UTC: write them with an explicit zone, as FHIR requires."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()
