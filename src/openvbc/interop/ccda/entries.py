"""C-CDA entries → care plan model parts, from any document or fragment.

Entries are found by template id wherever they sit (a care plan, a CCD's medications section, a
bare entry from the C-CDA examples), so one reader serves care plan import and medication
section import alike. What is read:

- Problem Observation (…22.4.4, incl. Medication Therapy Problem …37.3.17) inside a Health
  Concern Act (…22.4.132) → problem; the concern act's status gives active/resolved.
- Goal Observation (…22.4.121) → goal; Intervention Act (…22.4.131, done) and Planned
  Intervention Act (…22.4.146, planned) → intervention; Outcome Observation (…22.4.144) → outcome.
- Medication Activity (…22.4.16) → medication; Medication Dispense (…22.4.18) → dispense, linked
  to the medication it is nested in or points at with an Entry Reference; Policy Activity
  (…22.4.61) → coverage.
- Entry Reference acts (…22.4.122) and directly nested entries link goals/interventions to
  problems, outcomes to goals, problems to medications, by id.

Entries that cannot become model entries (a negated "no known medications" statement, a
medication without any code, a dispense without quantity or days supply) are passed over with
a note, never an error: foreign documents vary and the rest must still load.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from openvbc.domain.careplan import (
    Code,
    CoverageEntry,
    DispenseEntry,
    Goal,
    GoalStatus,
    Intervention,
    InterventionStatus,
    MedicationEntry,
    MedicationTherapyProblem,
    Outcome,
    ProblemStatus,
)
from openvbc.interop.ccda import templates as t
from openvbc.interop.ccda.xmlread import (
    Element,
    attr,
    child,
    children,
    code_of,
    has_template,
    index_narrative,
    interval_days,
    local_name,
    model_id,
    original_text,
    raw_id,
    resolved_text,
    template_roots,
    text_of,
)

_XSI_TYPE = f"{{{t.XSI}}}type"
_Linked = TypeVar("_Linked", MedicationTherapyProblem, Goal, Intervention, Outcome)


@dataclass
class CcdaContent:
    problems: list[MedicationTherapyProblem] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    interventions: list[Intervention] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    medications: list[MedicationEntry] = field(default_factory=list)
    dispenses: list[DispenseEntry] = field(default_factory=list)
    coverages: list[CoverageEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self) -> int:
        return sum(
            len(items)
            for items in (
                self.problems,
                self.goals,
                self.interventions,
                self.outcomes,
                self.medications,
                self.dispenses,
                self.coverages,
            )
        )


class _Ids:
    """CDA II → unique model id; the same II always maps to the same id."""

    def __init__(self) -> None:
        self.by_ii: dict[tuple[str, str], str] = {}
        self.used: set[str] = set()

    def assign(self, element: Element, fallback: str) -> str:
        ii = raw_id(element)
        if ii is not None and ii in self.by_ii:
            # A second entry reusing an id (seen in the C-CDA examples): give it a fresh one.
            return self._fresh(self.by_ii[ii])
        ident = self._fresh(model_id(*ii) if ii else fallback)
        if ii is not None:
            self.by_ii[ii] = ident
        return ident

    def lookup(self, element: Element) -> str | None:
        ii = raw_id(element)
        return self.by_ii.get(ii) if ii is not None else None

    def _fresh(self, ident: str) -> str:
        candidate, number = ident, 1
        while candidate in self.used:
            number += 1
            candidate = f"{ident[:60]}-{number}"
        self.used.add(candidate)
        return candidate


def read_ccda_content(root: Element) -> CcdaContent:
    """Every care plan entry under ``root`` (a ClinicalDocument or any fragment)."""
    narrative = index_narrative(root)
    content = CcdaContent()
    ids = _Ids()
    elements = [el for el in root.iter() if isinstance(el.tag, str)]
    # First pass: ids of every entry kind, so references resolve whatever the order.
    kinds: dict[int, tuple[str, str]] = {}
    for number, element in enumerate(elements):
        kind = _kind_of(element)
        if kind is not None:
            kinds[number] = (kind, ids.assign(element, f"{kind}-{number}"))
    for number, (kind, ident) in kinds.items():
        _READERS[kind](elements[number], ident, ids, narrative, content)
    _keep_known_references(content)
    return content


def _kind_of(element: Element) -> str | None:
    name = local_name(element)
    roots = template_roots(element)
    if name == "observation" and t.PROBLEM_OBSERVATION in roots:
        parent = element.getparent()
        concern = parent.getparent() if parent is not None else None
        if concern is not None and has_template(concern, t.HEALTH_CONCERN_ACT[0][0]):
            return "problem"
        return None
    if name == "observation" and t.GOAL_OBSERVATION in roots:
        return "goal"
    if name == "act" and (t.INTERVENTION_ACT in roots or t.PLANNED_INTERVENTION_ACT in roots):
        return "intervention"
    if name == "observation" and t.OUTCOME_OBSERVATION in roots:
        return "outcome"
    if name == "substanceAdministration" and t.MEDICATION_ACTIVITY in roots:
        return "medication"
    if name == "supply" and t.MEDICATION_DISPENSE in roots:
        return "dispense"
    if name == "act" and t.POLICY_ACTIVITY in roots:
        return "coverage"
    return None


def _references(element: Element, ids: _Ids, type_codes: tuple[str, ...]) -> tuple[str, ...]:
    """Ids of entries this one points at through entryRelationships (references or nesting)."""
    found: list[str] = []
    for relationship in children(element, "entryRelationship"):
        if relationship.get("typeCode") not in type_codes:
            continue
        for target in relationship:
            if not isinstance(target.tag, str):
                continue
            ident = ids.lookup(target)
            if ident is not None and ident not in found:
                found.append(ident)
    return tuple(found)


def _read_problem(
    element: Element, ident: str, ids: _Ids, narrative: dict[str, str], out: CcdaContent
) -> None:
    value = child(element, "value")
    code = code_of(value)
    text = resolved_text(child(element, "text"), narrative) or original_text(value, narrative)
    if not text and code is not None:
        text = code.display or code.code
    parent = element.getparent()
    concern = parent.getparent() if parent is not None else None
    status_element = child(concern, "statusCode") if concern is not None else None
    status: ProblemStatus = (
        "active" if status_element is None or status_element.get("code") == "active" else "resolved"
    )
    onset, _ = interval_days(child(element, "effectiveTime"))
    medications = _references(element, ids, ("REFR", "SUBJ", "CAUS", "RSON"))
    out.problems.append(MedicationTherapyProblem(ident, code, text, status, onset, medications))


def _read_goal(element: Element, ident: str, ids: _Ids, narrative: dict[str, str], out: CcdaContent) -> None:
    code_element = child(element, "code")
    code = code_of(code_element)
    text = resolved_text(child(element, "text"), narrative) or original_text(code_element, narrative)
    if not text:
        text = code.display if code is not None and code.display else _value_text(element, narrative)
    status_code = attr(child(element, "statusCode"), "code")
    status: GoalStatus = "cancelled"
    if status_code in (None, "active"):
        status = "active"
    elif status_code == "completed":
        status = "achieved"
    start, due = interval_days(child(element, "effectiveTime"))
    problems = _references(element, ids, ("RSON", "REFR", "SUBJ"))
    out.goals.append(Goal(ident, text or "Goal", code, status, start, due, problems))


def _read_intervention(
    element: Element, ident: str, ids: _Ids, narrative: dict[str, str], out: CcdaContent
) -> None:
    planned = element.get("moodCode") != "EVN"
    detail_code: Code | None = None
    detail_text = ""
    detail_day = None
    for relationship in children(element, "entryRelationship"):
        if relationship.get("typeCode") not in ("REFR", "COMP"):
            continue
        for detail in relationship:
            if not isinstance(detail.tag, str) or has_template(detail, t.ENTRY_REFERENCE[0]):
                continue
            detail_code = detail_code or code_of(child(detail, "code"))
            detail_text = detail_text or original_text(child(detail, "code"), narrative)
            detail_day = detail_day or interval_days(child(detail, "effectiveTime"))[0]
    text = resolved_text(child(element, "text"), narrative) or detail_text
    if not text:
        text = detail_code.display if detail_code is not None and detail_code.display else "Intervention"
    day = interval_days(child(element, "effectiveTime"))[0] or detail_day
    problems = _references(element, ids, ("RSON",))
    status: InterventionStatus = "planned" if planned else "completed"
    out.interventions.append(Intervention(ident, text, detail_code, status, day, problems))


def _read_outcome(
    element: Element, ident: str, ids: _Ids, narrative: dict[str, str], out: CcdaContent
) -> None:
    code_element = child(element, "code")
    code = code_of(code_element)
    text = resolved_text(child(element, "text"), narrative) or original_text(code_element, narrative)
    if not text and code is not None:
        text = code.display or code.code
    day = interval_days(child(element, "effectiveTime"))[0]
    goals = _references(element, ids, ("GEVL",))
    out.outcomes.append(Outcome(ident, text or "Outcome", code, _value_text(element, narrative), day, goals))


def _read_medication(
    element: Element, ident: str, ids: _Ids, narrative: dict[str, str], out: CcdaContent
) -> None:
    if element.get("negationInd") == "true":
        out.notes.append(f"medication {ident}: negated statement (e.g. no known medications) not kept")
        return
    material = element.find("h:consumable/h:manufacturedProduct/h:manufacturedMaterial", {"h": t.V3})
    code_element = child(material, "code") if material is not None else None
    code = code_of(code_element)
    name = text_of(child(material, "name")) if material is not None else ""
    if code is None:
        out.notes.append(f"medication {ident}: no code, not kept")
        return
    text = name or code.display or original_text(code_element, narrative) or code.code
    status = {"active": "active", "completed": "completed", "aborted": "stopped", "cancelled": "stopped"}.get(
        attr(child(element, "statusCode"), "code") or "", "active"
    )
    start, end = None, None
    for when in children(element, "effectiveTime"):
        if when.get(_XSI_TYPE, "").endswith("IVL_TS") or child(when, "low") is not None:
            start, end = interval_days(when)
            break
    sig = resolved_text(child(element, "text"), narrative)
    out.medications.append(MedicationEntry(ident, code, text, sig, status, start, end))  # type: ignore[arg-type]


def _read_dispense(
    element: Element, ident: str, ids: _Ids, narrative: dict[str, str], out: CcdaContent
) -> None:
    material = element.find("h:product/h:manufacturedProduct/h:manufacturedMaterial", {"h": t.V3})
    code = code_of(child(material, "code")) if material is not None else None
    quantity = _decimal(attr(child(element, "quantity"), "value"))
    days = _days_supply(element)
    start = interval_days(child(element, "effectiveTime"))[0]
    medication_id = _enclosing_medication(element, ids) or next(
        iter(_references(element, ids, ("REFR",))), None
    )
    if code is None and medication_id is not None:
        code = next((m.code for m in out.medications if m.id == medication_id), None)
    if code is None or quantity is None or quantity <= 0 or days is None or start is None:
        out.notes.append(f"dispense {ident}: needs a code, quantity, days supply and date; not kept")
        return
    if material is not None and not code.display:
        code = Code(code.system, code.code, text_of(child(material, "name")))
    npi = None
    for ident_element in element.findall("h:performer/h:assignedEntity/h:id", {"h": t.V3}):
        if ident_element.get("root") == t.NPI_ROOT and ident_element.get("extension"):
            npi = ident_element.get("extension")
    out.dispenses.append(DispenseEntry(ident, medication_id, code, quantity, days, start, npi))


def _read_coverage(
    element: Element, ident: str, ids: _Ids, narrative: dict[str, str], out: CcdaContent
) -> None:
    code_element = child(element, "code")
    plan_code = original_text(code_element, narrative) if code_element is not None else ""
    if code_element is not None and code_element.get("code"):
        plan_code = str(code_element.get("code"))
    payer = ""
    for performer in children(element, "performer"):
        name = performer.find("h:assignedEntity/h:representedOrganization/h:name", {"h": t.V3})
        if name is not None:
            payer = text_of(name)
            break
    subscriber = ""
    for participant in children(element, "participant"):
        if participant.get("typeCode") == "COV":
            role = child(participant, "participantRole")
            ii = raw_id(role) if role is not None else None
            if ii is not None:
                subscriber = ii[1] or ii[0]
    out.coverages.append(CoverageEntry(ident, subscriber, payer, plan_code))


def _enclosing_medication(element: Element, ids: _Ids) -> str | None:
    node = element.getparent()
    while node is not None:
        if isinstance(node.tag, str) and local_name(node) == "substanceAdministration":
            return ids.lookup(node) if has_template(node, t.MEDICATION_ACTIVITY) else None
        node = node.getparent()
    return None


def _days_supply(element: Element) -> int | None:
    use = child(element, "expectedUseTime")
    if use is None:
        return None
    width = child(use, "width")
    if width is not None and width.get("unit") in ("d", None):
        amount = _decimal(width.get("value"))
        return int(amount) if amount is not None and amount == int(amount) and amount > 0 else None
    low, high = interval_days(use)
    if low is not None and high is not None and high >= low:
        return (high - low).days + 1
    return None


def _value_text(element: Element, narrative: dict[str, str]) -> str:
    value = child(element, "value")
    if value is None:
        return ""
    kind = value.get(_XSI_TYPE, "")
    if kind.endswith("PQ") and value.get("value"):
        return f"{value.get('value')} {value.get('unit') or ''}".strip()
    if kind.endswith("CD") or kind.endswith("CE"):
        code = code_of(value)
        return (code.display or code.code) if code is not None else original_text(value, narrative)
    if value.get("value"):
        return str(value.get("value"))
    return text_of(value)


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _keep_known_references(content: CcdaContent) -> None:
    """Drop links to entries of another kind (an Entry Reference may point anywhere)."""
    medication_ids = {m.id for m in content.medications}
    content.dispenses = [
        d if d.medication_id is None or d.medication_id in medication_ids else replace(d, medication_id=None)
        for d in content.dispenses
    ]
    problem_ids = {p.id for p in content.problems}
    goal_ids = {g.id for g in content.goals}
    content.problems = [
        _replace_links(p, "medication_ids", tuple(i for i in p.medication_ids if i in medication_ids))
        for p in content.problems
    ]
    content.goals = [
        _replace_links(g, "problem_ids", tuple(i for i in g.problem_ids if i in problem_ids))
        for g in content.goals
    ]
    content.interventions = [
        _replace_links(i, "problem_ids", tuple(p for p in i.problem_ids if p in problem_ids))
        for i in content.interventions
    ]
    content.outcomes = [
        _replace_links(o, "goal_ids", tuple(g for g in o.goal_ids if g in goal_ids)) for o in content.outcomes
    ]


def _replace_links(entry: _Linked, name: str, value: tuple[str, ...]) -> _Linked:
    changes: dict[str, Any] = {name: value}
    return replace(entry, **changes)


_READERS = {
    "problem": _read_problem,
    "goal": _read_goal,
    "intervention": _read_intervention,
    "outcome": _read_outcome,
    "medication": _read_medication,
    "dispense": _read_dispense,
    "coverage": _read_coverage,
}
