"""Structural check of a PhCP document Bundle: required elements, cardinalities and fixed codes.

Rules come from three places, each named:

1. The PhCP StructureDefinitions shipped in ``profiles/`` (HL7/PhCP-r4 @ 2857115, hl7.fhir.us.phcp
   1.0.0): every differential element with a ``min`` ≥ 1 or ``max`` of 1 on a plain path
   (``Encounter.type`` 1.., ``Composition.event`` ..1, ``Composition.event.period`` 1..), and the
   Composition section slices with their ``patternCodeableConcept`` LOINC codes and required
   ``title``/``code``/``text``. These are read from the files, not re-typed.
2. The FHIR document rules (FHIR R4 4.0.1 "Documents"): Bundle.type ``document``, identifier and
   timestamp present, the Composition first, every entry with a fullUrl, references resolvable.
3. Base FHIR R4 / US Core 3.1.1 cardinalities of the resources the renderer emits (table
   ``_BASE_REQUIRED``) and the C-CDA on FHIR Care Plan rule that Health Concerns (75310-3) and
   Goals (61146-7) sections are present (the PhCP-Composition base, Care-Plan-Document).

This is a structural check, not a terminology or FHIRPath validator: bindings and invariants are
left to a full validator (HL7's Java validator) when one is available.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from openvbc.domain.errors import InputIssue

PROFILE_DIR = Path(__file__).parent / "profiles"
_FHIR = {"f": "http://hl7.org/fhir"}

_BASE_REQUIRED: dict[str, tuple[str, ...]] = {
    # FHIR R4 base 1..1 / 1..* elements, plus US Core 3.1.1 where the resource claims US Core.
    "Composition": ("status", "type", "subject", "date", "author", "title"),
    "Patient": ("identifier", "name", "gender"),
    "Condition": ("subject", "category", "code"),
    "Goal": ("lifecycleStatus", "description", "subject"),
    "Procedure": ("status", "subject", "code"),
    "ServiceRequest": ("status", "intent", "subject"),
    "Observation": ("status", "code"),
    "MedicationStatement": ("status", "medicationCodeableConcept", "subject"),
    "MedicationDispense": ("status", "medicationCodeableConcept"),
    "Coverage": ("status", "beneficiary", "payor"),
    "Encounter": ("status", "class"),
}
_REQUIRED_SECTIONS = {"75310-3": "Health Concerns", "61146-7": "Goals"}


@dataclass(frozen=True)
class ElementRule:
    path: str  # e.g. Encounter.type
    min: int
    max: str | None


@dataclass(frozen=True)
class SectionSlice:
    name: str
    loinc: str
    max: str | None
    required: tuple[str, ...]


@dataclass(frozen=True)
class Profile:
    url: str
    type: str
    elements: tuple[ElementRule, ...]
    sections: tuple[SectionSlice, ...]


@lru_cache(maxsize=1)
def load_phcp_profiles() -> dict[str, Profile]:
    """The shipped StructureDefinitions by canonical URL."""
    profiles: dict[str, Profile] = {}
    for file in sorted(PROFILE_DIR.glob("*.xml")):
        root = ElementTree.parse(file).getroot()
        url = _value(root, "f:url") or ""
        kind = _value(root, "f:type") or ""
        elements: list[ElementRule] = []
        slices: dict[str, dict[str, Any]] = {}
        for element in root.iterfind("f:differential/f:element", _FHIR):
            ident = element.get("id") or ""
            low, high = _value(element, "f:min"), _value(element, "f:max")
            if ":" not in ident:
                # The root element (``Coverage`` 1..) says nothing about the resource's content.
                if "." in ident and ((low and int(low) > 0) or high == "1"):
                    elements.append(ElementRule(ident, int(low or 0), high))
                continue
            slice_name = ident.split(":", 1)[1].split(".", 1)[0]
            if not ident.startswith("Composition.section:"):
                continue
            spec = slices.setdefault(slice_name, {"max": None, "loinc": None, "required": []})
            tail = ident.split(":", 1)[1][len(slice_name) :]
            if tail == "":
                spec["max"] = high
            elif tail.count(".") == 1 and low and int(low) > 0:
                spec["required"].append(tail[1:])
            pattern = element.find("f:patternCodeableConcept/f:coding/f:code", _FHIR)
            if tail == ".code" and pattern is not None:
                spec["loinc"] = pattern.get("value")
        sections = tuple(
            SectionSlice(name, str(spec["loinc"]), spec["max"], tuple(spec["required"]))
            for name, spec in slices.items()
            if spec["loinc"]
        )
        profiles[url] = Profile(url, kind, tuple(elements), sections)
    return profiles


def _value(element: ElementTree.Element, path: str) -> str | None:
    found = element.find(path, _FHIR)
    return found.get("value") if found is not None else None


def check_phcp_bundle(bundle: Any, source: str) -> list[InputIssue]:
    """Every structural problem of a PhCP document Bundle (empty when it passes)."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return [InputIssue(source, None, "resourceType", "not a FHIR Bundle")]
    issues: list[InputIssue] = []

    def add(line: int | None, field: str, message: str) -> None:
        issues.append(InputIssue(source, line, field, message))

    if bundle.get("type") != "document":
        add(None, "Bundle.type", f"must be 'document', not {bundle.get('type')!r}")
    for name in ("identifier", "timestamp"):
        if not bundle.get(name):
            add(None, f"Bundle.{name}", "required for a document Bundle")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        add(None, "Bundle.entry", "a document needs at least the Composition")
        return issues
    keys: set[str] = set()
    for number, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            add(number + 1, f"Bundle.entry[{number}].resource", "missing")
            continue
        if not entry.get("fullUrl"):
            add(number + 1, f"Bundle.entry[{number}].fullUrl", "required in a document Bundle")
        keys.add(f"{resource.get('resourceType')}/{resource.get('id')}")
        _check_resource(resource, number, add)
    first = entries[0].get("resource") if isinstance(entries[0], dict) else None
    if not isinstance(first, dict) or first.get("resourceType") != "Composition":
        add(1, "Bundle.entry[0].resource", "the first entry of a document must be the Composition")
        return issues
    _check_sections(first, add)
    for reference in _references(first):
        tail = "/".join(reference.rstrip("/").split("/")[-2:])
        if tail not in keys:
            add(1, "Composition", f"reference {reference!r} does not resolve inside the Bundle")
    return issues


def _check_resource(resource: dict[str, Any], number: int, add: Any) -> None:
    kind = str(resource.get("resourceType"))
    where = f"Bundle.entry[{number}].resource"
    for name in _BASE_REQUIRED.get(kind, ()):
        if _empty(resource.get(name)):
            add(number + 1, f"{where}.{kind}.{name}", "required element is missing")
    profiles = load_phcp_profiles()
    for url in (resource.get("meta") or {}).get("profile", []):
        profile = profiles.get(url)
        if profile is None or profile.type != kind:
            continue
        for rule in profile.elements:
            for problem in _check_path(resource, rule.path.split(".")[1:], rule):
                add(number + 1, f"{where}.{rule.path}", f"{problem} ({url.rsplit('/', 1)[-1]})")


def _check_path(node: Any, steps: list[str], rule: ElementRule) -> list[str]:
    """Cardinality of the element at ``steps`` under ``node``, through repeating parents."""
    name = steps[0].replace("[x]", "")
    if len(steps) > 1:
        values = _as_list(node.get(name)) if isinstance(node, dict) else []
        return [p for value in values for p in _check_path(value, steps[1:], rule)]
    if not isinstance(node, dict):
        return []
    if steps[0].endswith("[x]"):
        present = [v for k, v in node.items() if k.startswith(name) and not _empty(v)]
    else:
        present = _as_list(node.get(name))
    problems = []
    if len(present) < rule.min:
        problems.append(f"needs at least {rule.min}")
    if rule.max == "1" and len(present) > 1:
        problems.append("allows at most 1")
    return problems


def _check_sections(composition: dict[str, Any], add: Any) -> None:
    sections = [s for s in _as_list(composition.get("section")) if isinstance(s, dict)]
    codes = [_loinc_codes(s) for s in sections]
    for code, title in _REQUIRED_SECTIONS.items():
        if not any(code in found for found in codes):
            add(1, "Composition.section", f"the {title} section (LOINC {code}) is required in a care plan")
    for profile in load_phcp_profiles().values():
        for spec in profile.sections:
            matching = [s for s, found in zip(sections, codes, strict=True) if spec.loinc in found]
            if spec.max == "1" and len(matching) > 1:
                add(1, f"Composition.section:{spec.name}", "allows at most 1 section")
            for section in matching:
                for name in spec.required:
                    if _empty(section.get(name)):
                        add(1, f"Composition.section:{spec.name}.{name}", "required element is missing")


def _loinc_codes(section: dict[str, Any]) -> set[str]:
    return {
        str(c.get("code"))
        for c in (section.get("code") or {}).get("coding", [])
        if c.get("system") == "http://loinc.org"
    }


def _references(composition: dict[str, Any]) -> list[str]:
    refs = [
        str(composition.get(name, {}).get("reference") or "")
        for name in ("subject", "encounter", "custodian")
    ]
    refs += [
        str(a.get("reference") or "") for a in _as_list(composition.get("author")) if isinstance(a, dict)
    ]
    for section in _as_list(composition.get("section")):
        refs += [str(e.get("reference") or "") for e in _as_list(section.get("entry")) if isinstance(e, dict)]
    return [ref for ref in refs if ref]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}
