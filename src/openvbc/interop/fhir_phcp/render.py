"""CarePlan → FHIR R4 document Bundle per the HL7 Pharmacist Care Plan IG (hl7.fhir.us.phcp 1.0.0).

Bundle ``type=document``; the first entry is the PhCP-Composition (LOINC 18776-5 "Plan of care
note", as the IG's Composition example and its C-CDA on FHIR Care Plan base use; the CDA form
uses 52521-2 per the PCP sample), then every resource the sections reference:

- problem (DTP) → Condition (PhCP-Medication-Therapy-Condition), free text in ``code.text``, linked
  medications as ``evidence.detail``; section Health Concerns 75310-3;
- goal → Goal (US Core), ``addresses`` → Conditions, ``outcomeReference`` → outcome Observations;
  section Goals 61146-7;
- intervention done → Procedure (PhCP-Intervention-Procedure), planned → ServiceRequest
  (PhCP-ServiceRequest, intent ``plan``), ``reasonReference`` → Conditions; section Interventions
  62387-6;
- outcome → Observation with ``valueString``; section Health Status Evaluations 11383-7;
- medication → MedicationStatement, ``derivedFrom`` → its dispenses; dispense → MedicationDispense
  (PhCP-MedicationDispense), pharmacy NPI as ``performer.actor.identifier``; section Medications
  10160-0;
- coverage → Coverage (PhCP-Coverage) + payer Organization; section Payers 48768-6.

Resource ids are the model ids (checked to be FHIR ids by ``list_careplan_problems``); references
are relative (``Condition/dtp-1``) and every ``fullUrl`` is ``<base>/<Type>/<id>``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from html import escape
from typing import Any

from openvbc.domain.careplan import (
    CarePlan,
    Code,
    CoverageEntry,
    DispenseEntry,
    Goal,
    Intervention,
    MedicationEntry,
    MedicationTherapyProblem,
    Outcome,
)
from openvbc.domain.codesystems import SYSTEM_URIS

JsonObject = dict[str, Any]

DEFAULT_BASE = "https://openvbc.example/fhir"
PHCP = "http://hl7.org/fhir/us/phcp/StructureDefinition/"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
MEMBER_SYSTEM = "urn:openvbc:member"
PLAN_OF_CARE_NOTE = ("18776-5", "Plan of care note")
_NAMESPACE = uuid.UUID("5f0c6d2e-5b7a-4c55-9d7e-6a3f8c1b2e90")  # openvbc's uuid5 namespace for plan ids

SECTIONS = {
    "concerns": ("Health Concerns", "75310-3", "Health concerns document"),
    "goals": ("Goals", "61146-7", "Goals"),
    "interventions": ("Interventions", "62387-6", "Interventions Narrative"),
    "outcomes": ("Health Status Evaluations and Outcomes", "11383-7", "Patient problem outcome"),
    "medications": ("Medications", "10160-0", "History of Medication use Narrative"),
    "payers": ("Payers", "48768-6", "Payment sources Document"),
}


def render_careplan_fhir(plan: CarePlan, *, base: str = DEFAULT_BASE) -> JsonObject:
    """The care plan as a PhCP document Bundle (a JSON-ready dict)."""
    patient_ref = f"Patient/{_fhir_id(plan.patient.member_key)}"
    resources: list[JsonObject] = [
        _patient(plan),
        _practitioner(plan),
        _organization(plan),
    ]
    if plan.encounter is not None:
        resources.append(_encounter(plan, patient_ref))
    resources += [_condition(p, patient_ref) for p in plan.problems]
    outcome_of_goal = {g.id: [o.id for o in plan.outcomes if g.id in o.goal_ids] for g in plan.goals}
    resources += [_goal(g, patient_ref, outcome_of_goal[g.id]) for g in plan.goals]
    resources += [_intervention(i, patient_ref) for i in plan.interventions]
    resources += [_outcome(o, patient_ref) for o in plan.outcomes]
    resources += [_medication(m, plan.dispenses, patient_ref) for m in plan.medications]
    resources += [_dispense(d, patient_ref) for d in plan.dispenses]
    for coverage in plan.coverages:
        resources += _coverage(coverage, patient_ref)
    composition = _composition(plan, patient_ref)
    return {
        "resourceType": "Bundle",
        "id": _fhir_id(plan.id),
        "meta": {"lastUpdated": plan.created_at.isoformat()},
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid5(_NAMESPACE, plan.id)}"},
        "type": "document",
        "timestamp": plan.created_at.isoformat(),
        "entry": [
            {"fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}", "resource": resource}
            for resource in [composition, *resources]
        ],
    }


def _composition(plan: CarePlan, patient_ref: str) -> JsonObject:
    composition: JsonObject = {
        "resourceType": "Composition",
        "id": _fhir_id(plan.id),
        "meta": {"profile": [PHCP + "PhCP-Composition"]},
        "text": _narrative([plan.title, f"{plan.patient.given} {plan.patient.family}"]),
        "identifier": {
            "system": "urn:ietf:rfc:3986",
            "value": f"urn:uuid:{uuid.uuid5(_NAMESPACE, plan.id + '#c')}",
        },
        "status": "final",
        "type": _concept(Code("loinc", *PLAN_OF_CARE_NOTE)),
        "subject": {"reference": patient_ref},
        "date": plan.created_at.isoformat(),
        "author": [{"reference": f"Practitioner/{_practitioner_id(plan)}"}],
        "title": plan.title,
        "custodian": {"reference": f"Organization/{_organization_id(plan)}"},
        "event": [{"period": _period(plan.period_start, plan.period_end)}],
    }
    if plan.encounter is not None:
        composition["encounter"] = {"reference": f"Encounter/{plan.encounter.id}"}
    sections = [
        _section("concerns", [f"Condition/{p.id}" for p in plan.problems], [p.text for p in plan.problems]),
        _section("goals", [f"Goal/{g.id}" for g in plan.goals], [g.text for g in plan.goals]),
        _section(
            "interventions",
            [f"{_intervention_type(i)}/{i.id}" for i in plan.interventions],
            [i.text for i in plan.interventions],
        ),
        _section("outcomes", [f"Observation/{o.id}" for o in plan.outcomes], [o.text for o in plan.outcomes]),
        _section(
            "medications",
            [f"MedicationStatement/{m.id}" for m in plan.medications]
            + [f"MedicationDispense/{d.id}" for d in plan.dispenses],
            [m.text for m in plan.medications],
        ),
    ]
    if plan.coverages:
        sections.append(
            _section(
                "payers", [f"Coverage/{c.id}" for c in plan.coverages], [c.payer_name for c in plan.coverages]
            )
        )
    composition["section"] = sections
    return composition


def _section(key: str, references: list[str], lines: list[str]) -> JsonObject:
    title, code, display = SECTIONS[key]
    section: JsonObject = {
        "title": title,
        "code": {"coding": [{"system": SYSTEM_URIS["loinc"], "code": code, "display": display}]},
        "text": _narrative(lines or ["None recorded."]),
    }
    if references:
        section["entry"] = [{"reference": ref} for ref in references]
    else:
        section["emptyReason"] = {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/list-empty-reason", "code": "nilknown"}
            ]
        }
    return section


def _patient(plan: CarePlan) -> JsonObject:
    patient = plan.patient
    return {
        "resourceType": "Patient",
        "id": _fhir_id(patient.member_key),
        "meta": {"profile": [US_CORE + "us-core-patient"]},
        "identifier": [{"system": MEMBER_SYSTEM, "value": patient.member_key}],
        "name": [{"family": patient.family, "given": [patient.given]}],
        "gender": {"F": "female", "M": "male"}.get(patient.sex, "unknown"),
        "birthDate": patient.birth_date.isoformat(),
    }


def _practitioner_id(plan: CarePlan) -> str:
    return f"npi-{plan.author.npi}" if plan.author.npi else "author"


def _organization_id(plan: CarePlan) -> str:
    return f"npi-{plan.pharmacy.npi}" if plan.pharmacy.npi else "pharmacy"


def _practitioner(plan: CarePlan) -> JsonObject:
    resource: JsonObject = {
        "resourceType": "Practitioner",
        "id": _practitioner_id(plan),
        "name": [{"family": plan.author.family, "given": [plan.author.given]}],
    }
    if plan.author.npi:
        resource["identifier"] = [{"system": NPI_SYSTEM, "value": plan.author.npi}]
    return resource


def _organization(plan: CarePlan) -> JsonObject:
    resource: JsonObject = {
        "resourceType": "Organization",
        "id": _organization_id(plan),
        "active": True,
        "name": plan.pharmacy.name,
    }
    if plan.pharmacy.npi:
        resource["identifier"] = [{"system": NPI_SYSTEM, "value": plan.pharmacy.npi}]
    return resource


def _encounter(plan: CarePlan, patient_ref: str) -> JsonObject:
    encounter = plan.encounter
    assert encounter is not None
    period = {"start": encounter.start.isoformat()}
    if encounter.end is not None:
        period["end"] = encounter.end.isoformat()
    return {
        "resourceType": "Encounter",
        "id": encounter.id,
        "meta": {"profile": [PHCP + "PhCP-Encounter"]},
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        # PhCP-Encounter makes type 1..1; without a code the type is text only.
        "type": [_concept(encounter.code, "" if encounter.code else "Pharmacist visit")],
        "subject": {"reference": patient_ref},
        "period": period,
        "serviceProvider": {"reference": f"Organization/{_organization_id(plan)}"},
    }


def _condition(problem: MedicationTherapyProblem, patient_ref: str) -> JsonObject:
    resource: JsonObject = {
        "resourceType": "Condition",
        "id": problem.id,
        "meta": {"profile": [US_CORE + "us-core-condition", PHCP + "PhCP-Medication-Therapy-Condition"]},
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": problem.status}
            ]
        },
        "category": [
            {
                "coding": [
                    {"system": SYSTEM_URIS["snomed"], "code": "55607006", "display": "Problem"},
                    {"system": SYSTEM_URIS["loinc"], "code": "75326-9", "display": "Problem"},
                ]
            }
        ],
        "code": _concept(problem.code, problem.text),
        "subject": {"reference": patient_ref},
    }
    if problem.onset is not None:
        resource["onsetDateTime"] = problem.onset.isoformat()
    if problem.medication_ids:
        resource["evidence"] = [
            {"detail": [{"reference": f"MedicationStatement/{ident}"} for ident in problem.medication_ids]}
        ]
    return resource


def _goal(goal: Goal, patient_ref: str, outcome_ids: Sequence[str]) -> JsonObject:
    lifecycle = {"active": "active", "achieved": "completed"}.get(goal.status, "cancelled")
    resource: JsonObject = {
        "resourceType": "Goal",
        "id": goal.id,
        "meta": {"profile": [US_CORE + "us-core-goal"]},
        "lifecycleStatus": lifecycle,
        "description": _concept(goal.code, goal.text),
        "subject": {"reference": patient_ref},
    }
    if goal.status == "achieved":
        resource["achievementStatus"] = {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/goal-achievement", "code": "achieved"}
            ]
        }
    if goal.start is not None:
        resource["startDate"] = goal.start.isoformat()
    if goal.due is not None:
        resource["target"] = [{"dueDate": goal.due.isoformat()}]
    if goal.problem_ids:
        resource["addresses"] = [{"reference": f"Condition/{ident}"} for ident in goal.problem_ids]
    if outcome_ids:
        resource["outcomeReference"] = [{"reference": f"Observation/{ident}"} for ident in outcome_ids]
    return resource


def _intervention_type(intervention: Intervention) -> str:
    return "ServiceRequest" if intervention.status == "planned" else "Procedure"


def _intervention(intervention: Intervention, patient_ref: str) -> JsonObject:
    reasons = [{"reference": f"Condition/{ident}"} for ident in intervention.problem_ids]
    if intervention.status == "planned":
        resource: JsonObject = {
            "resourceType": "ServiceRequest",
            "id": intervention.id,
            "meta": {"profile": [PHCP + "PhCP-ServiceRequest"]},
            "status": "active",
            "intent": "plan",
            "code": _concept(intervention.code, intervention.text),
            "subject": {"reference": patient_ref},
        }
        if intervention.date is not None:
            resource["occurrenceDateTime"] = intervention.date.isoformat()
    else:
        resource = {
            "resourceType": "Procedure",
            "id": intervention.id,
            "meta": {"profile": [PHCP + "PhCP-Intervention-Procedure"]},
            "status": "completed",
            "code": _concept(intervention.code, intervention.text),
            "subject": {"reference": patient_ref},
        }
        if intervention.date is not None:
            resource["performedDateTime"] = intervention.date.isoformat()
    if reasons:
        resource["reasonReference"] = reasons
    return resource


def _outcome(outcome: Outcome, patient_ref: str) -> JsonObject:
    resource: JsonObject = {
        "resourceType": "Observation",
        "id": outcome.id,
        "status": "final",
        "code": _concept(outcome.code, outcome.text),
        "subject": {"reference": patient_ref},
    }
    if outcome.date is not None:
        resource["effectiveDateTime"] = outcome.date.isoformat()
    if outcome.value:
        resource["valueString"] = outcome.value
    return resource


def _medication(
    medication: MedicationEntry, dispenses: Sequence[DispenseEntry], patient_ref: str
) -> JsonObject:
    resource: JsonObject = {
        "resourceType": "MedicationStatement",
        "id": medication.id,
        "status": medication.status,
        "medicationCodeableConcept": _concept(medication.code, medication.text),
        "subject": {"reference": patient_ref},
    }
    if medication.start is not None or medication.end is not None:
        resource["effectivePeriod"] = _period(medication.start, medication.end)
    linked = [
        {"reference": f"MedicationDispense/{d.id}"} for d in dispenses if d.medication_id == medication.id
    ]
    if linked:
        resource["derivedFrom"] = linked
    if medication.sig:
        resource["dosage"] = [{"text": medication.sig}]
    return resource


def _dispense(dispense: DispenseEntry, patient_ref: str) -> JsonObject:
    resource: JsonObject = {
        "resourceType": "MedicationDispense",
        "id": dispense.id,
        "meta": {"profile": [PHCP + "PhCP-MedicationDispense"]},
        "status": "completed",
        "medicationCodeableConcept": _concept(dispense.code),
        "subject": {"reference": patient_ref},
        "quantity": {"value": _number(dispense.quantity)},
        "daysSupply": {
            "value": dispense.days_supply,
            "unit": "d",
            "system": SYSTEM_URIS["ucum"],
            "code": "d",
        },
        "whenHandedOver": dispense.date.isoformat(),
    }
    if dispense.pharmacy_npi:
        resource["performer"] = [
            {"actor": {"identifier": {"system": NPI_SYSTEM, "value": dispense.pharmacy_npi}}}
        ]
    return resource


def _coverage(coverage: CoverageEntry, patient_ref: str) -> list[JsonObject]:
    payer_id = f"{coverage.id}-payer"
    resource: JsonObject = {
        "resourceType": "Coverage",
        "id": coverage.id,
        "meta": {"profile": [PHCP + "PhCP-Coverage"]},
        "status": "active",
        "subscriberId": coverage.subscriber_id,
        "beneficiary": {"reference": patient_ref},
        "payor": [{"reference": f"Organization/{payer_id}"}],
    }
    if coverage.plan_code:
        resource["class"] = [
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}
                    ]
                },
                "value": coverage.plan_code,
            }
        ]
    payer = {"resourceType": "Organization", "id": payer_id, "active": True, "name": coverage.payer_name}
    return [resource, payer]


def system_uri(system: str) -> str:
    if system.startswith("oid:"):
        return "urn:oid:" + system[4:]
    return SYSTEM_URIS.get(system, system)


def _concept(code: Code | None, text: str = "") -> JsonObject:
    concept: JsonObject = {}
    if code is not None:
        coding: JsonObject = {"system": system_uri(code.system), "code": code.code}
        if code.display:
            coding["display"] = code.display
        concept["coding"] = [coding]
    if text:
        concept["text"] = text
    return concept


def _period(start: date | None, end: date | None) -> JsonObject:
    period: JsonObject = {}
    if start is not None:
        period["start"] = start.isoformat()
    if end is not None:
        period["end"] = end.isoformat()
    return period


def _narrative(lines: Sequence[str]) -> JsonObject:
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><ul>{items}</ul></div>'}


def _number(value: Any) -> int | float | str:
    """Quantities as JSON numbers (integral values without a fraction)."""
    text = str(value)
    return int(text) if text.isdigit() else float(text)


def _fhir_id(raw: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in raw)
    return cleaned[:64] or "unknown"
