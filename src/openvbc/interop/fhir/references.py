"""Resource identity, reference resolution and the cross-resource index of one import.

Some rows need facts from another resource: a Condition onset given as an age needs the
Patient's birth date, an Observation's setting comes from its Encounter's class, a member's
line of business from a Coverage, a MedicationRequest's code may sit on a Medication, and NPIs
sit on Practitioner/Organization identifiers. The reader fills a ``ResourceIndex`` in a first
pass over the input, so the order of files and entries does not matter.

Reference forms handled (https://hl7.org/fhir/R4/references.html): relative ``Type/id``,
absolute URLs ending ``Type/id`` (optionally ``/_history/n``), ``urn:uuid:`` fullUrls within a
bundle, conditional ``Type?identifier=system|value`` (Synthea) and ``Reference.identifier``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from openvbc.domain.npi import is_valid_npi
from openvbc.interop.fhir.datatypes import JsonObject, as_list, as_object, as_text, read_date
from openvbc.interop.fhir.payers import line_of_business_for

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"


@dataclass(frozen=True)
class ResourceItem:
    """One resource with where it came from (label and 1-based line / entry number)."""

    label: str
    line: int
    resource: JsonObject
    full_url: str | None = None


@dataclass
class ResourceIndex:
    """Facts other resources point at, gathered before mapping."""

    full_urls: dict[str, str] = field(default_factory=dict)  # fullUrl -> "Type/id"
    birth_dates: dict[str, date] = field(default_factory=dict)  # member_key -> birth date
    encounter_classes: dict[str, str] = field(default_factory=dict)  # "Encounter/id" -> class code
    medications: dict[str, JsonObject] = field(default_factory=dict)  # "Medication/id" -> code concept
    npis: dict[str, str] = field(default_factory=dict)  # "Practitioner/id" | "Organization/id" -> NPI
    lines_of_business: dict[str, str] = field(default_factory=dict)  # member_key -> line of business
    _coverage_starts: dict[str, str] = field(default_factory=dict)  # member_key -> start of that coverage
    # The one Patient of a patient-compartment bundle (``map_bundle(..., patient_compartment=True)``):
    # a resource there that names no patient at all is about this member.
    compartment_member_key: str | None = None

    def add(self, item: ResourceItem) -> None:
        """Record what later mapping may need from this resource."""
        resource = item.resource
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str):
            return
        key = resource_key(resource, item.full_url)
        if item.full_url:
            self.full_urls[item.full_url] = key
        if resource_type == "Patient":
            birth = resource.get("birthDate")
            if isinstance(birth, str):
                # a bad birth date is reported when the Patient itself is mapped
                with contextlib.suppress(ValueError):
                    self.birth_dates[logical_id(key)] = read_date(birth)
        elif resource_type == "Encounter":
            klass = as_object(resource.get("class"))
            code = as_text(klass.get("code")) if klass else None
            if code:
                self.encounter_classes[key] = code
        elif resource_type == "Medication":
            concept = as_object(resource.get("code"))
            if concept:
                self.medications[key] = concept
        elif resource_type == "Coverage":
            self._add_coverage(resource)
        elif resource_type in ("Practitioner", "Organization"):
            npi = npi_of_identifiers(resource.get("identifier"))
            if npi:
                self.npis[key] = npi

    def _add_coverage(self, coverage: JsonObject) -> None:
        """Remember the line of business of the member's most recently started coverage."""
        member_key = self.member_key_for(coverage.get("beneficiary"))
        if member_key is None or coverage.get("status") in ("cancelled", "entered-in-error"):
            return
        period = as_object(coverage.get("period")) or {}
        start = period.get("start") if isinstance(period.get("start"), str) else ""
        if member_key in self._coverage_starts and self._coverage_starts[member_key] > str(start):
            return
        self._coverage_starts[member_key] = str(start)
        self.lines_of_business[member_key] = line_of_business_for(coverage)

    def npi_for(self, reference: object) -> str | None:
        """The NPI a Reference points at (identifier, conditional reference or indexed resource)."""
        obj = as_object(reference)
        if obj is None:
            return None
        npi = npi_of_identifiers([obj.get("identifier")])
        if npi:
            return npi
        text = as_text(obj.get("reference"))
        if text is None:
            return None
        if "?identifier=" in text:
            system, _, value = text.split("?identifier=", 1)[1].partition("|")
            if system == NPI_SYSTEM and is_valid_npi(value):
                return value
            return None
        target = self.resolve(obj)
        return self.npis.get(target) if target else None

    def resolve(self, reference: object) -> str | None:
        """``Type/id`` for a Reference, or None when it names no resource."""
        obj = as_object(reference)
        text = as_text(obj.get("reference")) if obj else None
        if text is None or text.startswith("#") or "?" in text:
            return None
        if text in self.full_urls:
            return self.full_urls[text]
        if text.startswith("urn:"):
            return None
        parts = text.split("/")
        if len(parts) >= 4 and parts[-2] == "_history":
            parts = parts[:-2]
        if len(parts) < 2 or not parts[-1] or not parts[-2]:
            return None
        return f"{parts[-2]}/{parts[-1]}"

    def member_key_for(self, reference: object) -> str | None:
        """The member key (Patient logical id) a subject/patient/beneficiary Reference names."""
        target = self.resolve(reference)
        if target is None or not target.startswith("Patient/"):
            return None
        return logical_id(target)


def resource_key(resource: JsonObject, full_url: str | None = None) -> str:
    """``Type/id``; without an id, the ``urn:uuid`` of the entry, else a SHA-1 of the JSON."""
    resource_type = resource.get("resourceType")
    type_name = resource_type if isinstance(resource_type, str) else "Resource"
    rid = as_text(resource.get("id"))
    if rid is None and full_url and full_url.startswith("urn:uuid:"):
        rid = full_url[len("urn:uuid:") :]
    if rid is None:
        canonical = json.dumps(resource, sort_keys=True, separators=(",", ":"), default=str)
        rid = "sha1-" + hashlib.sha1(canonical.encode("utf-8")).hexdigest()
    return f"{type_name}/{rid}"


def logical_id(key: str) -> str:
    return key.split("/", 1)[1] if "/" in key else key


def npi_of_identifiers(identifiers: Any) -> str | None:
    """The first valid NPI among Identifiers with the us-npi system."""
    for identifier in as_list(identifiers):
        obj = as_object(identifier)
        if obj is None or obj.get("system") != NPI_SYSTEM:
            continue
        value = as_text(obj.get("value"))
        if value and is_valid_npi(value):
            return value
    return None
