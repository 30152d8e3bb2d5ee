"""C-CDA → care plan model: whole Pharmacist/C-CDA Care Plan documents, or any document/fragment.

``read_careplan_cda`` is strict, because a care plan that is stored or forwarded must be one:
the input must be well-formed XML, its root ``ClinicalDocument`` in the HL7 v3 namespace, valid
against the CDA R2 + SDTC schema, carry a Care Plan document template (C-CDA Care Plan …22.1.15
or Pharmacist Care Plan …37.1.1; both imply the US Realm Header), and hold the two sections C-CDA makes
required for a care plan (Health Concerns 75310-3, Goals 61146-7). Every problem found is listed.

``read_ccda_entries`` is lenient: a document of any type, or a fragment as published in the C-CDA
examples (a section, a single entry; undeclared ``xsi:``/``sdtc:`` prefixes are tolerated by
wrapping the fragment in an element that declares them) → the entries it holds.
"""

from __future__ import annotations

import re
from datetime import datetime

from lxml import etree

from openvbc.domain.careplan import (
    CareEncounter,
    CarePlan,
    Patient,
    Pharmacist,
    Pharmacy,
    list_careplan_problems,
)
from openvbc.domain.errors import InputIssue
from openvbc.interop.ccda import templates as t
from openvbc.interop.ccda.entries import CcdaContent, read_ccda_content
from openvbc.interop.ccda.errors import CcdaInputError
from openvbc.interop.ccda.validate import make_safe_parser, parse_xml, validate_cda_schema
from openvbc.interop.ccda.xmlread import (
    NS,
    Element,
    child,
    children,
    code_of,
    interval_days,
    model_id,
    parse_day,
    parse_ts,
    raw_id,
    template_roots,
    text_of,
)

_DOCUMENT = f"{{{t.V3}}}ClinicalDocument"
_XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*\?>")
_WRAPPER = (
    f'<fragment xmlns="{t.V3}" xmlns:xsi="{t.XSI}" xmlns:sdtc="{t.SDTC}" xmlns:cda="urn:hl7-org:v3">'
).encode()


def read_careplan_cda(data: bytes, source: str, *, check_schema: bool = True) -> CarePlan:
    """A C-CDA (Pharmacist) Care Plan document as the model; ``CcdaInputError`` lists every problem."""
    tree = parse_xml(data, source)
    root = tree.getroot()
    if root.tag != _DOCUMENT:
        raise CcdaInputError(
            [InputIssue(source, root.sourceline, "/", f"root element is {root.tag}, expected {_DOCUMENT}")]
        )
    issues = validate_cda_schema(tree, source) if check_schema else []
    issues += _check_required_templates(root, source)
    if issues:
        raise CcdaInputError(issues)
    content = read_ccda_content(root)
    plan = _header(root, source, content)
    problems = list_careplan_problems(plan)
    if problems:
        raise CcdaInputError([InputIssue(source, None, None, problem) for problem in problems])
    return plan


def read_ccda_entries(data: bytes, source: str) -> CcdaContent:
    """The care plan entries (medications, dispenses, problems, goals …) of any C-CDA XML."""
    root: Element | None
    try:
        root = etree.fromstring(data, make_safe_parser())
    except etree.XMLSyntaxError:
        root = None
    if root is None or etree.QName(root).namespace is None:
        # A published fragment often has no namespace, or uses xsi:/sdtc: prefixes declared only in
        # its parent document: read it inside an element that declares them.
        wrapped = _WRAPPER + _XML_DECLARATION.sub(b"", data, count=1) + b"</fragment>"
        root = parse_xml(wrapped, source).getroot()
    if not str(root.tag).startswith(f"{{{t.V3}}}"):
        raise CcdaInputError(
            [
                InputIssue(
                    source,
                    root.sourceline,
                    "/",
                    f"root element {root.tag} is not in the CDA namespace {t.V3}",
                )
            ]
        )
    return read_ccda_content(root)


def _check_required_templates(root: Element, source: str) -> list[InputIssue]:
    issues: list[InputIssue] = []
    roots = template_roots(root)
    # The US Realm Header template is implied by the Care Plan templates (both conform to it) and
    # HL7's own Care_Plan.xml example omits it, so only the Care Plan template is required.
    if t.CCDA_CARE_PLAN[0] not in roots and t.PHARMACIST_CARE_PLAN[0] not in roots:
        issues.append(
            _missing(
                root, source, "Care Plan document", f"{t.CCDA_CARE_PLAN[0]} or {t.PHARMACIST_CARE_PLAN[0]}"
            )
        )
    section_codes = {
        str(code.get("code"))
        for code in root.iterfind("h:component/h:structuredBody/h:component/h:section/h:code", NS)
    }
    for spec in (t.HEALTH_CONCERNS_SECTION, t.GOALS_SECTION):
        if spec[1] not in section_codes:
            issues.append(
                InputIssue(
                    source,
                    root.sourceline,
                    "structuredBody",
                    f"required {spec[3]} section (LOINC {spec[1]}, template {spec[0][0][0]}) is missing",
                )
            )
    return issues


def _missing(root: Element, source: str, what: str, template: str) -> InputIssue:
    return InputIssue(source, root.sourceline, "templateId", f"missing required {what} templateId {template}")


def _header(root: Element, source: str, content: CcdaContent) -> CarePlan:
    ii = raw_id(root)
    effective = child(root, "effectiveTime")
    created = parse_ts(effective.get("value")) if effective is not None else None
    if created is None:
        raise CcdaInputError(
            [InputIssue(source, root.sourceline, "effectiveTime", "document date is missing")]
        )
    period_start, period_end = interval_days(
        root.find("h:documentationOf/h:serviceEvent/h:effectiveTime", NS)
    )
    title = text_of(child(root, "title")) or "Care Plan"
    return CarePlan(
        id=model_id(*ii) if ii else "careplan",
        title=title,
        patient=_patient(root, source),
        author=_author(root),
        pharmacy=_pharmacy(root),
        created_at=created,
        period_start=period_start or created.date(),
        period_end=period_end,
        encounter=_encounter(root),
        problems=tuple(content.problems),
        goals=tuple(content.goals),
        interventions=tuple(content.interventions),
        outcomes=tuple(content.outcomes),
        medications=tuple(content.medications),
        dispenses=tuple(content.dispenses),
        coverages=tuple(content.coverages),
    )


def _patient(root: Element, source: str) -> Patient:
    role = root.find("h:recordTarget/h:patientRole", NS)
    if role is None:
        raise CcdaInputError([InputIssue(source, root.sourceline, "recordTarget", "no patientRole")])
    ii = raw_id(role)
    patient = child(role, "patient")
    given, family = _name(patient)
    gender = patient.find("h:administrativeGenderCode", NS) if patient is not None else None
    sex = gender.get("code") if gender is not None else None
    birth = patient.find("h:birthTime", NS) if patient is not None else None
    birth_date = parse_day(birth.get("value")) if birth is not None else None
    if birth_date is None:
        raise CcdaInputError(
            [InputIssue(source, role.sourceline, "patient/birthTime", "birth date is missing")]
        )
    return Patient(
        member_key=(ii[1] or ii[0]) if ii else "",
        given=given,
        family=family,
        birth_date=birth_date,
        sex=sex if sex in ("F", "M") else "U",  # type: ignore[arg-type]
    )


def _name(person: Element | None) -> tuple[str, str]:
    if person is None:
        return "", ""
    name = child(person, "name")
    if name is None:
        return "", ""
    given = child(name, "given")
    return text_of(given), text_of(child(name, "family"))


def _npi_of(element: Element | None) -> str | None:
    if element is None:
        return None
    for ident in children(element, "id"):
        if ident.get("root") == t.NPI_ROOT and ident.get("extension"):
            return str(ident.get("extension"))
    return None


def _author(root: Element) -> Pharmacist:
    assigned = root.find("h:author/h:assignedAuthor", NS)
    if assigned is None:
        return Pharmacist(None, "", "")
    given, family = _name(child(assigned, "assignedPerson"))
    return Pharmacist(_npi_of(assigned), given, family)


def _pharmacy(root: Element) -> Pharmacy:
    for path in (
        "h:author/h:assignedAuthor/h:representedOrganization",
        "h:custodian/h:assignedCustodian/h:representedCustodianOrganization",
    ):
        organization = root.find(path, NS)
        if organization is not None:
            return Pharmacy(_npi_of(organization), text_of(child(organization, "name")))
    return Pharmacy(None, "")


def _encounter(root: Element) -> CareEncounter | None:
    encounter = root.find("h:componentOf/h:encompassingEncounter", NS)
    if encounter is None:
        return None
    when = child(encounter, "effectiveTime")
    start: datetime | None = None
    end: datetime | None = None
    if when is not None:
        low, high = child(when, "low"), child(when, "high")
        start = parse_ts(when.get("value") or (low.get("value") if low is not None else None))
        end = parse_ts(high.get("value")) if high is not None else None
    if start is None:
        return None
    ii = raw_id(encounter)
    return CareEncounter(model_id(*ii) if ii else "encounter", code_of(child(encounter, "code")), start, end)
