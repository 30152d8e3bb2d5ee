"""FHIR PhCP document Bundle → CarePlan (the inverse of :mod:`openvbc.interop.fhir_phcp.render`).

Strict on the document shape (``check_phcp_bundle`` first: Bundle type document, Composition
first, required elements of the PhCP profiles), tolerant on content: resources are found through
the Composition's sections, and references resolve by ``Type/id`` (relative, or the tail of an
absolute URL, or a ``urn:uuid`` fullUrl), as the FHIR document rules describe.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from openvbc.domain.careplan import (
    CareEncounter,
    CarePlan,
    Code,
    CoverageEntry,
    DispenseEntry,
    Goal,
    GoalStatus,
    Intervention,
    MedicationEntry,
    MedicationStatus,
    MedicationTherapyProblem,
    Outcome,
    Patient,
    Pharmacist,
    Pharmacy,
    ProblemStatus,
    list_careplan_problems,
)
from openvbc.domain.codesystems import system_name_for_uri
from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.interop.fhir_phcp.profiles import check_phcp_bundle
from openvbc.interop.fhir_phcp.render import MEMBER_SYSTEM, NPI_SYSTEM

JsonObject = dict[str, Any]


class PhcpInputError(InvalidInput):
    """A PhCP Bundle that is not a valid care plan document."""


def read_careplan_fhir(bundle: Any, source: str) -> CarePlan:
    """The care plan held by a PhCP document Bundle; ``PhcpInputError`` lists every problem."""
    issues = check_phcp_bundle(bundle, source)
    if issues:
        raise PhcpInputError(issues)
    index = _Index(bundle)
    composition = bundle["entry"][0]["resource"]
    try:
        plan = _plan(composition, index)
    except (KeyError, TypeError, ValueError, InvalidOperation) as error:
        raise PhcpInputError(
            [InputIssue(source, None, None, f"cannot read the care plan: {error!r}")]
        ) from None
    problems = list_careplan_problems(plan)
    if problems:
        raise PhcpInputError([InputIssue(source, None, None, problem) for problem in problems])
    return plan


class _Index:
    def __init__(self, bundle: JsonObject) -> None:
        self.by_key: dict[str, JsonObject] = {}
        for entry in bundle.get("entry", []):
            resource = entry.get("resource") or {}
            key = f"{resource.get('resourceType')}/{resource.get('id')}"
            self.by_key[key] = resource
            full_url = str(entry.get("fullUrl") or "")
            if full_url:
                self.by_key[full_url] = resource

    def resolve(self, reference: Any) -> JsonObject | None:
        ref = str((reference or {}).get("reference") or "")
        if not ref:
            return None
        if ref in self.by_key:
            return self.by_key[ref]
        parts = ref.rstrip("/").split("/")
        if "_history" in parts:
            parts = parts[: parts.index("_history")]
        return self.by_key.get("/".join(parts[-2:]))

    def section_resources(self, composition: JsonObject, loinc: str) -> list[JsonObject]:
        for section in composition.get("section", []):
            codes = [c.get("code") for c in (section.get("code") or {}).get("coding", [])]
            if loinc in codes:
                return [r for r in (self.resolve(e) for e in section.get("entry", [])) if r is not None]
        return []


def _ids(references: Any) -> tuple[str, ...]:
    out: list[str] = []
    for reference in references or []:
        ref = str(reference.get("reference") or "")
        if ref:
            out.append(ref.rstrip("/").split("/")[-1])
    return tuple(out)


def _code(concept: Any) -> Code | None:
    for coding in (concept or {}).get("coding", []):
        system_uri = str(coding.get("system") or "")
        if not coding.get("code"):
            continue
        if system_uri.startswith("urn:oid:"):
            name = system_name_for_uri(system_uri) or f"oid:{system_uri[8:]}"
        else:
            name = system_name_for_uri(system_uri) or system_uri
        return Code(name, str(coding["code"]), str(coding.get("display") or ""))
    return None


def _text(concept: Any) -> str:
    return str((concept or {}).get("text") or "")


def _day(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def _identifier(resource: JsonObject | None, system: str) -> str | None:
    for identifier in (resource or {}).get("identifier", []):
        if identifier.get("system") == system and identifier.get("value"):
            return str(identifier["value"])
    return None


def _plan(composition: JsonObject, index: _Index) -> CarePlan:
    patient = index.resolve(composition.get("subject")) or {}
    author = index.resolve((composition.get("author") or [{}])[0]) or {}
    custodian = index.resolve(composition.get("custodian")) or {}
    period = ((composition.get("event") or [{}])[0]).get("period") or {}
    created = _moment(composition.get("date"))
    assert created is not None  # the profile check requires Composition.date
    outcomes_of: dict[str, list[str]] = {}
    goals = []
    for resource in index.section_resources(composition, "61146-7"):
        goal = _goal(resource)
        goals.append(goal)
        for outcome_id in _ids(resource.get("outcomeReference")):
            outcomes_of.setdefault(outcome_id, []).append(goal.id)
    medications_resources = index.section_resources(composition, "10160-0")
    statements = [r for r in medications_resources if r.get("resourceType") == "MedicationStatement"]
    medication_of = {d: s["id"] for s in statements for d in _ids(s.get("derivedFrom"))}
    return CarePlan(
        id=str(composition["id"]),
        title=str(composition.get("title") or "Care Plan"),
        patient=_patient(patient),
        author=_person(author),
        pharmacy=Pharmacy(_identifier(custodian, NPI_SYSTEM), str(custodian.get("name") or "")),
        created_at=created,
        period_start=_day(period.get("start")) or created.date(),
        period_end=_day(period.get("end")),
        encounter=_encounter(index.resolve(composition.get("encounter"))),
        problems=tuple(_problem(r) for r in index.section_resources(composition, "75310-3")),
        goals=tuple(goals),
        interventions=tuple(_intervention(r) for r in index.section_resources(composition, "62387-6")),
        outcomes=tuple(
            _outcome(r, tuple(outcomes_of.get(str(r["id"]), ())))
            for r in index.section_resources(composition, "11383-7")
        ),
        medications=tuple(_medication(r) for r in statements),
        dispenses=tuple(
            _dispense(r, medication_of.get(str(r["id"])))
            for r in medications_resources
            if r.get("resourceType") == "MedicationDispense"
        ),
        coverages=tuple(_coverage(r, index) for r in index.section_resources(composition, "48768-6")),
    )


def _patient(resource: JsonObject) -> Patient:
    name = (resource.get("name") or [{}])[0]
    sex = {"female": "F", "male": "M"}.get(str(resource.get("gender")), "U")
    birth = _day(resource.get("birthDate"))
    if birth is None:
        raise ValueError("Patient.birthDate is missing")
    return Patient(
        member_key=_identifier(resource, MEMBER_SYSTEM) or str(resource.get("id")),
        given=str((name.get("given") or [""])[0]),
        family=str(name.get("family") or ""),
        birth_date=birth,
        sex=sex,  # type: ignore[arg-type]
    )


def _person(resource: JsonObject) -> Pharmacist:
    name = (resource.get("name") or [{}])[0]
    return Pharmacist(
        _identifier(resource, NPI_SYSTEM), str((name.get("given") or [""])[0]), str(name.get("family") or "")
    )


def _encounter(resource: JsonObject | None) -> CareEncounter | None:
    if resource is None:
        return None
    period = resource.get("period") or {}
    start = _moment(period.get("start"))
    if start is None:
        return None
    return CareEncounter(
        str(resource["id"]), _code((resource.get("type") or [{}])[0]), start, _moment(period.get("end"))
    )


def _problem(resource: JsonObject) -> MedicationTherapyProblem:
    clinical = _code(resource.get("clinicalStatus"))
    status: ProblemStatus = "active" if clinical is None or clinical.code == "active" else "resolved"
    evidence = [ref for item in resource.get("evidence", []) for ref in item.get("detail", [])]
    return MedicationTherapyProblem(
        str(resource["id"]),
        _code(resource.get("code")),
        _text(resource.get("code")),
        status,
        _day(resource.get("onsetDateTime")),
        _ids(evidence),
    )


def _goal(resource: JsonObject) -> Goal:
    lifecycle = resource.get("lifecycleStatus")
    status: GoalStatus = "cancelled"
    if lifecycle == "active":
        status = "active"
    elif lifecycle == "completed":
        status = "achieved"
    return Goal(
        str(resource["id"]),
        _text(resource.get("description")),
        _code(resource.get("description")),
        status,
        _day(resource.get("startDate")),
        _day(((resource.get("target") or [{}])[0]).get("dueDate")),
        _ids(resource.get("addresses")),
    )


def _intervention(resource: JsonObject) -> Intervention:
    planned = resource.get("resourceType") == "ServiceRequest"
    when = resource.get("occurrenceDateTime") if planned else resource.get("performedDateTime")
    return Intervention(
        str(resource["id"]),
        _text(resource.get("code")),
        _code(resource.get("code")),
        "planned" if planned else "completed",
        _day(when),
        _ids(resource.get("reasonReference")),
    )


def _outcome(resource: JsonObject, goal_ids: tuple[str, ...]) -> Outcome:
    return Outcome(
        str(resource["id"]),
        _text(resource.get("code")),
        _code(resource.get("code")),
        str(resource.get("valueString") or ""),
        _day(resource.get("effectiveDateTime")),
        goal_ids,
    )


def _medication(resource: JsonObject) -> MedicationEntry:
    concept = resource.get("medicationCodeableConcept")
    code = _code(concept)
    if code is None:
        raise ValueError(f"MedicationStatement/{resource.get('id')} has no coded medication")
    period = resource.get("effectivePeriod") or {}
    status = str(resource.get("status"))
    known: dict[str, MedicationStatus] = {"active": "active", "completed": "completed", "stopped": "stopped"}
    return MedicationEntry(
        str(resource["id"]),
        code,
        _text(concept),
        str(((resource.get("dosage") or [{}])[0]).get("text") or ""),
        known.get(status, "active"),
        _day(period.get("start")),
        _day(period.get("end")),
    )


def _dispense(resource: JsonObject, medication_id: str | None) -> DispenseEntry:
    code = _code(resource.get("medicationCodeableConcept"))
    if code is None:
        raise ValueError(f"MedicationDispense/{resource.get('id')} has no coded medication")
    npi = None
    for performer in resource.get("performer", []):
        identifier = (performer.get("actor") or {}).get("identifier") or {}
        if identifier.get("system") == NPI_SYSTEM:
            npi = str(identifier.get("value"))
    handed = _day(resource.get("whenHandedOver"))
    if handed is None:
        raise ValueError(f"MedicationDispense/{resource.get('id')} has no whenHandedOver")
    return DispenseEntry(
        str(resource["id"]),
        medication_id,
        code,
        Decimal(str((resource.get("quantity") or {}).get("value"))),
        int(str((resource.get("daysSupply") or {}).get("value"))),
        handed,
        npi,
    )


def _coverage(resource: JsonObject, index: _Index) -> CoverageEntry:
    payer = index.resolve((resource.get("payor") or [{}])[0]) or {}
    plan_code = ""
    for item in resource.get("class", []):
        if any(c.get("code") == "plan" for c in (item.get("type") or {}).get("coding", [])):
            plan_code = str(item.get("value") or "")
    return CoverageEntry(
        str(resource["id"]), str(resource.get("subscriberId") or ""), str(payer.get("name") or ""), plan_code
    )
