"""The pharmacist care plan: one model, rendered as a C-CDA document and as a FHIR PhCP Bundle.

The model follows what the HL7 Pharmacist Care Plan guides carry (domain-rules.md §A8: the CDA
"Pharmacist Care Plan Document" R1 STU1 templates 2.16.840.1.113883.10.20.37.*, and the FHIR IG
hl7.fhir.us.phcp 1.0.0): health concerns that are medication therapy problems (drug therapy
problems, DTPs, SNOMED CT coded, with the pharmacist's free text beside the code), goals,
interventions (done or planned), outcomes, the medication list, the dispensing history, coverage
and the encounter. Both renderers and both parsers translate exactly this model, so a plan that
survives CDA → model → FHIR → model → CDA compares equal field by field.

Pure values: no I/O and no clock. Date-times are timezone-aware (FHIR requires a zone on any
dateTime with a time; CDA carries the offset in TS), dates are plain dates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, Protocol

ProblemStatus = Literal["active", "resolved"]
GoalStatus = Literal["active", "achieved", "cancelled"]
InterventionStatus = Literal["completed", "planned"]
MedicationStatus = Literal["active", "completed", "stopped"]

PROBLEM_STATUSES: tuple[str, ...] = ("active", "resolved")
GOAL_STATUSES: tuple[str, ...] = ("active", "achieved", "cancelled")
INTERVENTION_STATUSES: tuple[str, ...] = ("completed", "planned")
MEDICATION_STATUSES: tuple[str, ...] = ("active", "completed", "stopped")

# FHIR R4 `id` datatype: the ids of the model become resource ids in the PhCP Bundle.
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass(frozen=True)
class Code:
    """One coding: ``system`` is our short name (``snomed``, ``loinc``, ``rxnorm``, ``ndc``)."""

    system: str
    code: str
    display: str = ""


@dataclass(frozen=True)
class Patient:
    member_key: str
    given: str
    family: str
    birth_date: date
    sex: Literal["F", "M", "U"]


@dataclass(frozen=True)
class Pharmacist:
    npi: str | None
    given: str
    family: str


@dataclass(frozen=True)
class Pharmacy:
    npi: str | None
    name: str


@dataclass(frozen=True)
class CareEncounter:
    """The visit the plan was written at (PhCP-Encounter; CDA encompassingEncounter)."""

    id: str
    code: Code | None
    start: datetime
    end: datetime | None = None


@dataclass(frozen=True)
class MedicationTherapyProblem:
    """A drug therapy problem: SNOMED CT coded when a code exists, free text always kept.

    ``code`` is None for a problem that has no code in the value set (the CPESN review found many
    such problems; the plan still carries them as text so nothing the pharmacist wrote is lost).
    """

    id: str
    code: Code | None
    text: str
    status: ProblemStatus = "active"
    onset: date | None = None
    medication_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Goal:
    id: str
    text: str
    code: Code | None = None
    status: GoalStatus = "active"
    start: date | None = None
    due: date | None = None
    problem_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Intervention:
    id: str
    text: str
    code: Code | None = None
    status: InterventionStatus = "completed"
    date: date | None = None
    problem_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    id: str
    text: str
    code: Code | None = None
    value: str = ""
    date: date | None = None
    goal_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class MedicationEntry:
    """One line of the reconciled medication list (RxNorm or NDC coded)."""

    id: str
    code: Code
    text: str
    sig: str = ""
    status: MedicationStatus = "active"
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class DispenseEntry:
    """One dispensing event of the medication history (PhCP-MedicationDispense)."""

    id: str
    medication_id: str | None
    code: Code
    quantity: Decimal
    days_supply: int
    date: date
    pharmacy_npi: str | None = None


@dataclass(frozen=True)
class CoverageEntry:
    id: str
    subscriber_id: str
    payer_name: str
    plan_code: str = ""


@dataclass(frozen=True)
class CarePlan:
    id: str
    title: str
    patient: Patient
    author: Pharmacist
    pharmacy: Pharmacy
    created_at: datetime
    period_start: date
    period_end: date | None = None
    encounter: CareEncounter | None = None
    problems: tuple[MedicationTherapyProblem, ...] = ()
    goals: tuple[Goal, ...] = ()
    interventions: tuple[Intervention, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    medications: tuple[MedicationEntry, ...] = ()
    dispenses: tuple[DispenseEntry, ...] = ()
    coverages: tuple[CoverageEntry, ...] = field(default_factory=tuple)


def list_careplan_problems(plan: CarePlan) -> list[str]:
    """Every inconsistency in ``plan`` (empty when it can be rendered); never raises.

    Checked: ids are FHIR ids and unique across the plan (they become resource ids and CDA id
    extensions), references between entries resolve, statuses are known, date-times carry a
    zone, periods are ordered, quantities and days supply are positive.
    """
    issues: list[str] = []
    entries: list[tuple[str, str]] = [(kind, item.id) for kind, item in _all_entries(plan)]
    seen: set[str] = set()
    for kind, ident in [("plan", plan.id), *entries]:
        if not _FHIR_ID.match(ident):
            issues.append(f"{kind} id {ident!r} is not a FHIR id (1-64 of A-Z a-z 0-9 - .)")
        if ident in seen:
            issues.append(f"{kind} id {ident!r} is used twice")
        seen.add(ident)
    problem_ids = {p.id for p in plan.problems}
    goal_ids = {g.id for g in plan.goals}
    medication_ids = {m.id for m in plan.medications}
    for problem in plan.problems:
        issues += _missing(f"problem {problem.id}", "medication", problem.medication_ids, medication_ids)
        issues += _status(f"problem {problem.id}", problem.status, PROBLEM_STATUSES)
        if not problem.text.strip() and problem.code is None:
            issues.append(f"problem {problem.id} has neither a code nor text")
    for goal in plan.goals:
        issues += _missing(f"goal {goal.id}", "problem", goal.problem_ids, problem_ids)
        issues += _status(f"goal {goal.id}", goal.status, GOAL_STATUSES)
        if goal.start and goal.due and goal.due < goal.start:
            issues.append(f"goal {goal.id} is due ({goal.due}) before it starts ({goal.start})")
    for intervention in plan.interventions:
        issues += _missing(
            f"intervention {intervention.id}", "problem", intervention.problem_ids, problem_ids
        )
        issues += _status(f"intervention {intervention.id}", intervention.status, INTERVENTION_STATUSES)
    for outcome in plan.outcomes:
        issues += _missing(f"outcome {outcome.id}", "goal", outcome.goal_ids, goal_ids)
    for medication in plan.medications:
        issues += _status(f"medication {medication.id}", medication.status, MEDICATION_STATUSES)
        if medication.start and medication.end and medication.end < medication.start:
            issues.append(f"medication {medication.id} ends before it starts")
    for dispense in plan.dispenses:
        if dispense.medication_id is not None and dispense.medication_id not in medication_ids:
            issues.append(f"dispense {dispense.id} names unknown medication {dispense.medication_id!r}")
        if dispense.quantity <= 0 or dispense.days_supply <= 0:
            issues.append(f"dispense {dispense.id} needs a positive quantity and days supply")
    stamps = [("created_at", plan.created_at)]
    if plan.encounter is not None:
        stamps += [("encounter start", plan.encounter.start)]
        if plan.encounter.end is not None:
            stamps += [("encounter end", plan.encounter.end)]
            if plan.encounter.end < plan.encounter.start:
                issues.append("encounter ends before it starts")
    issues += [f"{name} has no time zone" for name, value in stamps if value.tzinfo is None]
    if plan.period_end is not None and plan.period_end < plan.period_start:
        issues.append("plan period ends before it starts")
    return issues


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


def _all_entries(plan: CarePlan) -> list[tuple[str, _Identified]]:
    items: list[tuple[str, _Identified]] = []
    if plan.encounter is not None:
        items.append(("encounter", plan.encounter))
    items += [("problem", p) for p in plan.problems]
    items += [("goal", g) for g in plan.goals]
    items += [("intervention", i) for i in plan.interventions]
    items += [("outcome", o) for o in plan.outcomes]
    items += [("medication", m) for m in plan.medications]
    items += [("dispense", d) for d in plan.dispenses]
    items += [("coverage", c) for c in plan.coverages]
    return items


def _missing(owner: str, kind: str, wanted: tuple[str, ...], known: set[str]) -> list[str]:
    return [f"{owner} names unknown {kind} {ident!r}" for ident in wanted if ident not in known]


def _status(owner: str, status: str, allowed: tuple[str, ...]) -> list[str]:
    return [] if status in allowed else [f"{owner} has status {status!r}, not one of {', '.join(allowed)}"]


def find_uncoded_problems(plan: CarePlan) -> list[MedicationTherapyProblem]:
    """Problems documented as free text only (no SNOMED CT code in the value set)."""
    return [problem for problem in plan.problems if problem.code is None]
