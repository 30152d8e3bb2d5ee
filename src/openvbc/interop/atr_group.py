"""Da Vinci ATR-style member attribution list as a FHIR R4 ``Group`` (pure).

Shape after the HL7 Da Vinci Member Attribution List IG, STU 2.1.0
(https://build.fhir.org/ig/HL7/davinci-atr/ , domain-rules.md §A10): one ``Group`` (actual,
type person) per contract, ``ext-contractValidityPeriod`` and ``ext-attributionListStatus`` on the
Group, and for each member an ``entity`` reference to the Patient with ``ext-attributedProvider``
(the pharmacy or practice Organization) and ``ext-changeType``. Extension URLs follow the IG's
canonical base; check them against the IG version your partner validates with [verify].
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

ATR_BASE = "http://hl7.org/fhir/us/davinci-atr/StructureDefinition"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"


@dataclass(frozen=True)
class AttributedMember:
    member_key: str
    provider_npi: str
    provider_kind: str  # pharmacy | practice
    change: str  # new | changed | nochange


def build_atr_group(
    *,
    program_id: str,
    year: int,
    version: str,
    period_start: date,
    period_end: date,
    status: str,
    members: Iterable[AttributedMember],
    member_system: str,
    payer_name: str = "openvbc health plan",
) -> dict[str, Any]:
    """A ``Group`` resource listing attributed members (status: draft | open | final)."""
    if status not in ("draft", "open", "final"):
        raise ValueError(f"attribution list status must be draft, open or final, not {status!r}")
    entries = []
    for item in sorted(members, key=lambda m: (m.member_key, m.provider_kind)):
        entries.append(
            {
                "extension": [
                    {"url": f"{ATR_BASE}/ext-changeType", "valueCode": item.change},
                    {
                        "url": f"{ATR_BASE}/ext-attributedProvider",
                        "valueReference": {
                            "identifier": {"system": NPI_SYSTEM, "value": item.provider_npi},
                            "display": f"{item.provider_kind} {item.provider_npi}",
                        },
                    },
                ],
                "entity": {
                    "reference": f"Patient/{item.member_key}",
                    "identifier": {"system": member_system, "value": item.member_key},
                },
                "period": {"start": period_start.isoformat(), "end": period_end.isoformat()},
                "inactive": False,
            }
        )
    return {
        "resourceType": "Group",
        "id": f"{program_id}-{year}",
        "meta": {"profile": [f"{ATR_BASE}/atr-group"]},
        "extension": [
            {
                "url": f"{ATR_BASE}/ext-contractValidityPeriod",
                "valuePeriod": {"start": period_start.isoformat(), "end": period_end.isoformat()},
            },
            {"url": f"{ATR_BASE}/ext-attributionListStatus", "valueCode": status},
        ],
        "identifier": [
            {"system": "https://openvbc.org/fhir/attribution-list", "value": f"{program_id}-{year}"}
        ],
        "active": True,
        "type": "person",
        "actual": True,
        "name": f"{program_id} {year} member attribution list (contract version {version})",
        "managingEntity": {"display": payer_name},
        "quantity": len(entries),
        "member": entries,
    }


def classify_changes(current: Mapping[str, str], previous: Mapping[str, str]) -> dict[str, str]:
    """member_key -> new | changed | nochange, comparing provider NPIs with the previous list."""
    out = {}
    for key, npi in current.items():
        before = previous.get(key)
        out[key] = "new" if before is None else ("nochange" if before == npi else "changed")
    return out
