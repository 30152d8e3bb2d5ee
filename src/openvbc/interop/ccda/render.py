"""CarePlan → C-CDA Pharmacist Care Plan document (CDA R2 XML, lxml).

Document shape (template ids in :mod:`openvbc.interop.ccda.templates`): US Realm Header + C-CDA
Care Plan + Pharmacist Care Plan templates, LOINC 52521-2; the four Care Plan sections (Health
Concerns, Goals, Interventions, Health Status Evaluations and Outcomes), then Medications (the
medication activities, then the dispensing history as Medication Dispense supplies that point at
their medication) and Payers.

Cross references (goal → problem, intervention → problem, outcome → goal, problem → medication,
dispense → medication)
are C-CDA Entry Reference acts carrying the target's id, as C-CDA R2.1 relates care plan entries.
Ids are ``<id root=ROOT extension=model-id/>`` so the parser gets the model ids back unchanged.
Element order follows the POCD_MT000040 schema sequence (the XSD rejects any other order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any, TypeAlias, TypeVar

from lxml import etree

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
from openvbc.interop.ccda import templates as t

_NSMAP = {None: t.V3, "xsi": t.XSI, "sdtc": t.SDTC}
_XSI_TYPE = f"{{{t.XSI}}}type"

Element: TypeAlias = Any  # lxml ships no type information; etree._Element at run time
_T = TypeVar("_T")


class CcdaRenderError(ValueError):
    """The model cannot be written as CDA (a code system without an OID, for instance)."""


def render_careplan_cda(
    plan: CarePlan, *, id_root: str = t.DEFAULT_ID_ROOT, member_root: str = t.DEFAULT_MEMBER_ROOT
) -> bytes:
    """The care plan as a UTF-8 CDA document (pretty-printed, with an XML declaration)."""
    writer = _Writer(id_root)
    doc = etree.Element(f"{{{t.V3}}}ClinicalDocument", nsmap=_NSMAP)
    _sub(doc, "realmCode", code="US")
    _sub(doc, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_HD000040")
    _templates(doc, t.DOCUMENT_TEMPLATES)
    writer.id(doc, plan.id)
    _coded(doc, "code", Code("loinc", *t.CARE_PLAN_DOCUMENT_CODE))
    _sub(doc, "title").text = plan.title
    _sub(doc, "effectiveTime", value=format_ts(plan.created_at))
    _sub(doc, "confidentialityCode", code="N", codeSystem="2.16.840.1.113883.5.25")
    _sub(doc, "languageCode", code="en-US")
    _record_target(doc, plan, member_root)
    _author(doc, plan)
    _custodian(doc, plan)
    service = _sub(_sub(doc, "documentationOf"), "serviceEvent", classCode="PCPR")
    _interval(service, "effectiveTime", plan.period_start, plan.period_end)
    if plan.encounter is not None:
        encounter = _sub(_sub(doc, "componentOf"), "encompassingEncounter")
        writer.id(encounter, plan.encounter.id)
        if plan.encounter.code is not None:
            _coded(encounter, "code", plan.encounter.code)
        when = _sub(encounter, "effectiveTime")
        _sub(when, "low", value=format_ts(plan.encounter.start))
        if plan.encounter.end is not None:
            _sub(when, "high", value=format_ts(plan.encounter.end))
    body = _sub(_sub(doc, "component"), "structuredBody")
    writer.section(body, t.HEALTH_CONCERNS_SECTION, plan.problems, writer.problem, _problem_line)
    writer.section(body, t.GOALS_SECTION, plan.goals, writer.goal, _goal_line)
    writer.section(body, t.INTERVENTIONS_SECTION, plan.interventions, writer.intervention, _intervention_line)
    writer.section(body, t.OUTCOMES_SECTION, plan.outcomes, writer.outcome, _outcome_line)
    # Dispenses are entries of their own, in the plan's order, each pointing at its medication
    # with an Entry Reference (nesting them would regroup them by medication).
    section = writer.section_head(_sub(body, "component"), t.MEDICATIONS_SECTION)
    lines = [_medication_line(m) for m in plan.medications] + [_dispense_line(d) for d in plan.dispenses]
    _narrative(section, lines)
    for medication in plan.medications:
        writer.medication(_sub(section, "entry"), medication)
    for dispense in plan.dispenses:
        writer.dispense(_sub(section, "entry"), dispense)
    if plan.coverages:
        payers = writer.section_head(_sub(body, "component"), t.PAYERS_SECTION)
        _narrative(payers, [_coverage_line(c) for c in plan.coverages])
        for coverage in plan.coverages:
            writer.coverage(_sub(payers, "entry"), coverage, member_root)
    return bytes(etree.tostring(doc, xml_declaration=True, encoding="UTF-8", pretty_print=True))


class _Writer:
    """Entry builders sharing the id root of one document."""

    def __init__(self, id_root: str) -> None:
        self.id_root = id_root

    def id(self, parent: Element, ident: str) -> None:
        _sub(parent, "id", root=self.id_root, extension=ident)

    def reference(self, parent: Element, type_code: str, ident: str) -> None:
        """An Entry Reference act pointing at another entry of this document by id."""
        act = _sub(
            _sub(parent, "entryRelationship", typeCode=type_code), "act", classCode="ACT", moodCode="EVN"
        )
        _templates(act, (t.ENTRY_REFERENCE,))
        self.id(act, ident)
        _sub(act, "code", nullFlavor="NP")
        _sub(act, "statusCode", code="completed")

    def section_head(self, component: Element, spec: tuple[tuple[t.Template, ...], str, str, str]) -> Element:
        templates, code, display, title = spec
        section = _sub(component, "section")
        _templates(section, templates)
        _coded(section, "code", Code("loinc", code, display))
        _sub(section, "title").text = title
        return section

    def section(
        self,
        body: Element,
        spec: tuple[tuple[t.Template, ...], str, str, str],
        items: Sequence[_T],
        write: Callable[[Element, _T], None],
        describe: Callable[[_T], str],
    ) -> None:
        section = self.section_head(_sub(body, "component"), spec)
        _narrative(section, [describe(item) for item in items])
        for item in items:
            write(_sub(section, "entry"), item)

    def problem(self, entry: Element, problem: MedicationTherapyProblem) -> None:
        concern = _sub(entry, "act", classCode="ACT", moodCode="EVN")
        _templates(concern, t.HEALTH_CONCERN_ACT)
        self.id(concern, f"{problem.id}.concern")
        _coded(concern, "code", Code("loinc", *t.HEALTH_CONCERN_CODE))
        _sub(concern, "statusCode", code="active" if problem.status == "active" else "completed")
        observation = _sub(
            _sub(concern, "entryRelationship", typeCode="REFR"),
            "observation",
            classCode="OBS",
            moodCode="EVN",
        )
        _templates(observation, t.MEDICATION_THERAPY_PROBLEM)
        self.id(observation, problem.id)
        _coded(observation, "code", Code("snomed", *t.PROBLEM_CODE))
        _sub(observation, "text").text = problem.text
        _sub(observation, "statusCode", code="completed")
        when = _sub(observation, "effectiveTime")
        if problem.onset is not None:
            _sub(when, "low", value=format_date(problem.onset))
        else:
            _sub(when, "low", nullFlavor="UNK")
        _value_code(observation, problem.code, problem.text)
        for medication_id in problem.medication_ids:
            self.reference(observation, "REFR", medication_id)

    def goal(self, entry: Element, goal: Goal) -> None:
        observation = _sub(entry, "observation", classCode="OBS", moodCode="GOL")
        _templates(observation, t.GOAL)
        self.id(observation, goal.id)
        _code_or_text(observation, "code", goal.code, goal.text)
        _sub(observation, "text").text = goal.text
        _sub(
            observation,
            "statusCode",
            code={"active": "active", "achieved": "completed"}.get(goal.status, "cancelled"),
        )
        _interval(observation, "effectiveTime", goal.start, goal.due)
        for problem_id in goal.problem_ids:
            self.reference(observation, "RSON", problem_id)

    def intervention(self, entry: Element, intervention: Intervention) -> None:
        planned = intervention.status == "planned"
        mood = "INT" if planned else "EVN"
        act = _sub(entry, "act", classCode="ACT", moodCode=mood)
        _templates(act, t.PLANNED_INTERVENTION if planned else t.INTERVENTION)
        self.id(act, intervention.id)
        _coded(act, "code", Code("snomed", *t.INTERVENTION_CODE))
        _sub(act, "text").text = intervention.text
        _sub(act, "statusCode", code="active" if planned else "completed")
        if intervention.date is not None:
            _sub(act, "effectiveTime", value=format_date(intervention.date))
        # The intervention itself (what was done or is planned) is the nested activity's code.
        detail = _sub(_sub(act, "entryRelationship", typeCode="REFR"), "act", classCode="ACT", moodCode=mood)
        _templates(detail, (t.PLANNED_ACT if planned else t.PROCEDURE_ACTIVITY_ACT,))
        self.id(detail, f"{intervention.id}.detail")
        _code_or_text(detail, "code", intervention.code, intervention.text)
        _sub(detail, "statusCode", code="active" if planned else "completed")
        for problem_id in intervention.problem_ids:
            self.reference(act, "RSON", problem_id)

    def outcome(self, entry: Element, outcome: Outcome) -> None:
        observation = _sub(entry, "observation", classCode="OBS", moodCode="EVN")
        _templates(observation, t.OUTCOME)
        self.id(observation, outcome.id)
        _code_or_text(observation, "code", outcome.code, outcome.text)
        _sub(observation, "text").text = outcome.text
        _sub(observation, "statusCode", code="completed")
        if outcome.date is not None:
            _sub(observation, "effectiveTime", value=format_date(outcome.date))
        if outcome.value:
            value = _sub(observation, "value")
            value.set(_XSI_TYPE, "ST")
            value.text = outcome.value
        for goal_id in outcome.goal_ids:
            self.reference(observation, "GEVL", goal_id)

    def medication(self, entry: Element, medication: MedicationEntry) -> None:
        activity = _sub(entry, "substanceAdministration", classCode="SBADM", moodCode="EVN")
        _templates(activity, t.MEDICATION)
        self.id(activity, medication.id)
        _sub(activity, "text").text = medication.sig
        status = {"active": "active", "completed": "completed", "stopped": "aborted"}[medication.status]
        _sub(activity, "statusCode", code=status)
        when = _sub(activity, "effectiveTime")
        when.set(_XSI_TYPE, "IVL_TS")
        _bound(when, "low", medication.start)
        if medication.end is not None:
            _bound(when, "high", medication.end)
        _product(_sub(activity, "consumable"), medication.code, medication.text)

    def dispense(self, parent: Element, dispense: DispenseEntry) -> None:
        supply = _sub(parent, "supply", classCode="SPLY", moodCode="EVN")
        _templates(supply, t.DISPENSE)
        self.id(supply, dispense.id)
        _sub(supply, "statusCode", code="completed")
        _sub(supply, "effectiveTime", value=format_date(dispense.date))
        _sub(supply, "quantity", value=str(dispense.quantity))
        use = _sub(supply, "expectedUseTime")
        _sub(use, "width", value=str(dispense.days_supply), unit="d")
        _product(_sub(supply, "product"), dispense.code, dispense.code.display)
        if dispense.pharmacy_npi:
            performer = _sub(_sub(supply, "performer"), "assignedEntity")
            _sub(performer, "id", root=t.NPI_ROOT, extension=dispense.pharmacy_npi)
        if dispense.medication_id is not None:
            self.reference(supply, "REFR", dispense.medication_id)

    def coverage(self, entry: Element, coverage: CoverageEntry, member_root: str) -> None:
        act = _sub(entry, "act", classCode="ACT", moodCode="EVN")
        _templates(act, (t.COVERAGE_ACTIVITY,))
        self.id(act, f"{coverage.id}.activity")
        _coded(act, "code", Code("loinc", "48768-6", "Payment sources"))
        _sub(act, "statusCode", code="completed")
        policy = _sub(_sub(act, "entryRelationship", typeCode="COMP"), "act", classCode="ACT", moodCode="EVN")
        _templates(policy, ((t.POLICY_ACTIVITY, t.CCDA),))
        self.id(policy, coverage.id)
        code = _sub(policy, "code", nullFlavor="OTH")
        _sub(code, "originalText").text = coverage.plan_code
        _sub(policy, "statusCode", code="completed")
        payer = _sub(_sub(policy, "performer", typeCode="PRF"), "assignedEntity")
        _sub(payer, "id", nullFlavor="NI")
        _sub(_sub(payer, "representedOrganization"), "name").text = coverage.payer_name
        role = _sub(_sub(policy, "participant", typeCode="COV"), "participantRole", classCode="PAT")
        _sub(role, "id", root=member_root, extension=coverage.subscriber_id)


def _record_target(doc: Element, plan: CarePlan, member_root: str) -> None:
    role = _sub(_sub(doc, "recordTarget"), "patientRole")
    _sub(role, "id", root=member_root, extension=plan.patient.member_key)
    patient = _sub(role, "patient")
    name = _sub(patient, "name")
    _sub(name, "given").text = plan.patient.given
    _sub(name, "family").text = plan.patient.family
    if plan.patient.sex in ("F", "M"):
        _sub(patient, "administrativeGenderCode", code=plan.patient.sex, codeSystem="2.16.840.1.113883.5.1")
    else:
        _sub(patient, "administrativeGenderCode", nullFlavor="UNK")
    _sub(patient, "birthTime", value=format_date(plan.patient.birth_date))


def _author(doc: Element, plan: CarePlan) -> None:
    author = _sub(doc, "author")
    _sub(author, "time", value=format_ts(plan.created_at))
    assigned = _sub(author, "assignedAuthor")
    _npi(assigned, plan.author.npi)
    _coded(assigned, "code", Code("nucc", *t.PHARMACIST_TAXONOMY))
    name = _sub(_sub(assigned, "assignedPerson"), "name")
    _sub(name, "given").text = plan.author.given
    _sub(name, "family").text = plan.author.family
    organization = _sub(assigned, "representedOrganization")
    _npi(organization, plan.pharmacy.npi)
    _sub(organization, "name").text = plan.pharmacy.name


def _custodian(doc: Element, plan: CarePlan) -> None:
    organization = _sub(_sub(_sub(doc, "custodian"), "assignedCustodian"), "representedCustodianOrganization")
    _npi(organization, plan.pharmacy.npi)
    _sub(organization, "name").text = plan.pharmacy.name


def _npi(parent: Element, npi: str | None) -> None:
    if npi:
        _sub(parent, "id", root=t.NPI_ROOT, extension=npi)
    else:
        _sub(parent, "id", nullFlavor="NI")


def _product(parent: Element, code: Code, text: str) -> None:
    product = _sub(parent, "manufacturedProduct", classCode="MANU")
    _templates(product, (t.MEDICATION_INFORMATION,))
    material = _sub(product, "manufacturedMaterial")
    _coded(material, "code", code)
    if text:
        _sub(material, "name").text = text


def _sub(parent: Element, tag: str, **attributes: str) -> Element:
    return etree.SubElement(parent, f"{{{t.V3}}}{tag}", attributes)


def _templates(parent: Element, templates: Iterable[t.Template]) -> None:
    for root, extension in templates:
        if extension is None:
            _sub(parent, "templateId", root=root)
        else:
            _sub(parent, "templateId", root=root, extension=extension)


def _oid(system: str) -> str:
    try:
        return t.CODE_SYSTEM_OIDS[system]
    except KeyError:
        raise CcdaRenderError(f"code system {system!r} has no OID for CDA") from None


def _coded(parent: Element, tag: str, code: Code) -> Element:
    element = _sub(parent, tag, code=code.code, codeSystem=_oid(code.system))
    if code.display:
        element.set("displayName", code.display)
    return element


def _code_or_text(parent: Element, tag: str, code: Code | None, text: str) -> None:
    """A coded element, or nullFlavor OTH with the free text as originalText when uncoded."""
    if code is not None:
        _coded(parent, tag, code)
    else:
        _sub(_sub(parent, tag, nullFlavor="OTH"), "originalText").text = text


def _value_code(observation: Element, code: Code | None, text: str) -> None:
    value = _sub(observation, "value")
    value.set(_XSI_TYPE, "CD")
    if code is not None:
        value.set("code", code.code)
        value.set("codeSystem", _oid(code.system))
        if code.display:
            value.set("displayName", code.display)
    else:
        value.set("nullFlavor", "OTH")
        _sub(value, "originalText").text = text


def _interval(parent: Element, tag: str, low: date | None, high: date | None) -> None:
    when = _sub(parent, tag)
    _bound(when, "low", low)
    if high is not None:
        _bound(when, "high", high)


def _bound(parent: Element, tag: str, day: date | None) -> None:
    if day is None:
        _sub(parent, tag, nullFlavor="UNK")
    else:
        _sub(parent, tag, value=format_date(day))


def _narrative(section: Element, lines: list[str]) -> None:
    text = _sub(section, "text")
    if not lines:
        _sub(text, "paragraph").text = "None recorded."
        return
    listing = _sub(text, "list")
    for line in lines:
        _sub(listing, "item").text = line


def format_date(day: date) -> str:
    return day.strftime("%Y%m%d")


def format_ts(moment: datetime) -> str:
    """CDA TS with seconds and the UTC offset (``20250314093000-0500``)."""
    if moment.tzinfo is None:
        raise CcdaRenderError(f"date-time {moment.isoformat()} has no time zone")
    return moment.strftime("%Y%m%d%H%M%S%z")


def _label(code: Code | None) -> str:
    if code is None:
        return "no code"
    return f"{code.system.upper()} {code.code}"


def _problem_line(problem: MedicationTherapyProblem) -> str:
    onset = f", since {problem.onset.isoformat()}" if problem.onset else ""
    return f"{problem.text} ({_label(problem.code)}; {problem.status}{onset})"


def _goal_line(goal: Goal) -> str:
    due = f", due {goal.due.isoformat()}" if goal.due else ""
    return f"{goal.text} ({goal.status}{due})"


def _intervention_line(intervention: Intervention) -> str:
    when = f" on {intervention.date.isoformat()}" if intervention.date else ""
    return f"{intervention.text} ({_label(intervention.code)}; {intervention.status}{when})"


def _outcome_line(outcome: Outcome) -> str:
    value = f": {outcome.value}" if outcome.value else ""
    return f"{outcome.text}{value}"


def _medication_line(medication: MedicationEntry) -> str:
    sig = f" — {medication.sig}" if medication.sig else ""
    return f"{medication.text}{sig} ({medication.status})"


def _dispense_line(dispense: DispenseEntry) -> str:
    return (
        f"Dispensed {dispense.code.display or dispense.code.code} on {dispense.date.isoformat()}: "
        f"{dispense.quantity} for {dispense.days_supply} days"
    )


def _coverage_line(coverage: CoverageEntry) -> str:
    plan = f", plan {coverage.plan_code}" if coverage.plan_code else ""
    return f"{coverage.payer_name}: member {coverage.subscriber_id}{plan}"
