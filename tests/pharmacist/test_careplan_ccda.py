"""C-CDA Pharmacist Care Plan: golden output, XSD validity, round trips, corpus import, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from openvbc.interop.ccda import templates as t
from openvbc.interop.ccda.errors import CcdaInputError
from openvbc.interop.ccda.parse import read_careplan_cda, read_ccda_entries
from openvbc.interop.ccda.render import render_careplan_cda
from openvbc.interop.ccda.validate import parse_xml, validate_cda_schema
from openvbc.interop.fhir_phcp.parse import read_careplan_fhir
from openvbc.interop.fhir_phcp.render import render_careplan_fhir
from pharmacist.careplan_cases import ADHERENCE_PLAN, MINIMAL_PLAN

DATA = Path(__file__).resolve().parents[1] / "data" / "ccda"
NS = {"h": t.V3, "xsi": t.XSI}


def _xpath(doc: bytes, path: str) -> list[etree._Element]:
    return list(etree.fromstring(doc).xpath(path, namespaces=NS))


@pytest.mark.parametrize(("name", "plan"), [("adherence", ADHERENCE_PLAN), ("minimal", MINIMAL_PLAN)])
def test_output_matches_the_golden_file_and_the_schema(name: str, plan: object) -> None:
    rendered = render_careplan_cda(plan)  # type: ignore[arg-type]
    assert rendered == (DATA / "golden" / f"{name}.out.xml").read_bytes()
    assert validate_cda_schema(parse_xml(rendered, name), name) == []


def test_adherence_document_has_the_expected_content() -> None:
    """Expected content written by hand in careplan_cases.py."""
    doc = render_careplan_cda(ADHERENCE_PLAN)
    roots = [(e.get("root"), e.get("extension")) for e in _xpath(doc, "/h:ClinicalDocument/h:templateId")]
    assert roots == [
        ("2.16.840.1.113883.10.20.22.1.1", "2015-08-01"),
        ("2.16.840.1.113883.10.20.22.1.15", "2015-08-01"),
        ("2.16.840.1.113883.10.20.37.1.1", "2017-08-01"),
    ]
    assert _xpath(doc, "/h:ClinicalDocument/h:code/@code") == ["52521-2"]
    sections = [str(c) for c in _xpath(doc, "//h:section/h:code/@code")]
    assert sections == ["75310-3", "61146-7", "62387-6", "11383-7", "10160-0", "48768-6"]
    problems = _xpath(doc, "//h:observation[h:templateId/@root='2.16.840.1.113883.10.20.37.3.17']")
    assert [p.find("h:value", NS).get("code") for p in problems] == ["697958005", None]
    assert problems[1].find("h:value", NS).get("nullFlavor") == "OTH"
    assert problems[1].findtext("h:text", namespaces=NS) == "Cannot open child-resistant caps"
    goal_refs = _xpath(
        doc, "//h:observation[@moodCode='GOL']/h:entryRelationship[@typeCode='RSON']//h:id/@extension"
    )
    assert goal_refs == ["dtp-1"]
    assert len(_xpath(doc, "//h:act[h:templateId/@root='2.16.840.1.113883.10.20.37.3.15']")) == 1
    assert len(_xpath(doc, "//h:act[h:templateId/@root='2.16.840.1.113883.10.20.37.3.12']")) == 1
    outcome_refs = _xpath(doc, "//h:entryRelationship[@typeCode='GEVL']//h:id/@extension")
    assert outcome_refs == ["goal-1"]
    medications = _xpath(
        doc, "//h:substanceAdministration[h:templateId/@root='2.16.840.1.113883.10.20.37.3.10']"
    )
    assert len(medications) == 2
    supply_refs = _xpath(doc, "//h:supply/h:entryRelationship[@typeCode='REFR']//h:id/@extension")
    assert supply_refs == ["med-1", "med-1", "med-2"]
    assert _xpath(doc, "//h:supply/h:expectedUseTime/h:width/@value") == ["30", "30", "30"]


@pytest.mark.parametrize("plan", [ADHERENCE_PLAN, MINIMAL_PLAN])
def test_cda_round_trip_keeps_the_whole_plan(plan: object) -> None:
    rendered = render_careplan_cda(plan)  # type: ignore[arg-type]
    assert read_careplan_cda(rendered, "rendered") == plan


@pytest.mark.parametrize("plan", [ADHERENCE_PLAN, MINIMAL_PLAN])
def test_cda_to_fhir_to_cda_is_stable(plan: object) -> None:
    first = render_careplan_cda(plan)  # type: ignore[arg-type]
    via_fhir = read_careplan_fhir(render_careplan_fhir(read_careplan_cda(first, "a")), "b")
    assert via_fhir == plan
    assert render_careplan_cda(via_fhir) == first


def test_every_copied_ccda_example_loads() -> None:
    files = sorted((DATA / "examples").rglob("*.xml"))
    assert len(files) >= 40
    totals = {"medications": 0, "problems": 0, "goals": 0, "interventions": 0, "outcomes": 0}
    for file in files:
        content = read_ccda_entries(file.read_bytes(), str(file))
        for name in totals:
            totals[name] += len(getattr(content, name))
    # Each kind the examples publish is found somewhere (counts grow with the corpus, so at least).
    assert all(count > 0 for count in totals.values()), totals


def test_hl7_care_plan_example_imports_as_a_care_plan() -> None:
    """HL7's Care_Plan.xml: 3 problem observations inside health concern acts (two share an id,
    which the reader de-duplicates), 1 goal, 1 planned + 1 done intervention, 1 outcome (95 %)."""
    plan = read_careplan_cda(
        (DATA / "examples" / "Documents" / "Care Plan" / "Care_Plan.xml").read_bytes(), "cp"
    )
    assert [p.code.code for p in plan.problems if p.code] == ["409623005", "233604007", "28743005"]
    assert len({p.id for p in plan.problems}) == 3
    assert [i.status for i in plan.interventions] == ["planned", "completed"]
    assert [o.value for o in plan.outcomes] == ["95 %"]
    assert plan.outcomes[0].goal_ids == (plan.goals[0].id,)
    assert plan.patient.member_key == "444222222" and plan.patient.family == "Betterhalf"


def test_not_xml_is_rejected_with_its_line() -> None:
    with pytest.raises(CcdaInputError) as caught:
        read_careplan_cda(b"<ClinicalDocument>\n<oops></ClinicalDocument>", "bad.xml")
    issue = caught.value.issues[0]
    assert issue.file == "bad.xml" and issue.line == 2 and "well-formed" in issue.message


def test_published_malformed_example_is_rejected_with_its_line() -> None:
    data = (DATA / "malformed" / "basic_occupation_mismatched_tag.xml").read_bytes()
    with pytest.raises(CcdaInputError) as caught:
        read_ccda_entries(data, "occupation.xml")
    assert caught.value.issues[0].line == 25


def test_wrong_root_is_rejected() -> None:
    with pytest.raises(CcdaInputError) as caught:
        read_careplan_cda(b'<Bundle xmlns="http://hl7.org/fhir"/>', "b.xml")
    assert "expected {urn:hl7-org:v3}ClinicalDocument" in caught.value.issues[0].message


def test_missing_care_plan_template_and_sections_are_each_named() -> None:
    doc = etree.fromstring(render_careplan_cda(ADHERENCE_PLAN))
    for template in doc.findall("h:templateId", NS)[1:]:
        doc.remove(template)
    body = doc.find("h:component/h:structuredBody", NS)
    body.remove(body.find("h:component", NS))  # the Health Concerns section
    with pytest.raises(CcdaInputError) as caught:
        read_careplan_cda(etree.tostring(doc), "cut.xml")
    messages = [issue.message for issue in caught.value.issues]
    assert any("Care Plan document templateId" in m for m in messages)
    assert any("Health Concerns section (LOINC 75310-3" in m for m in messages)


def test_schema_violation_is_rejected_with_line_and_path() -> None:
    text = render_careplan_cda(MINIMAL_PLAN).replace(
        b"<title>Pharmacist Care Plan</title>", b"<titel>x</titel>", 1
    )
    with pytest.raises(CcdaInputError) as caught:
        read_careplan_cda(text, "typo.xml")
    assert caught.value.issues[0].line is not None
    assert "CDA schema" in caught.value.issues[0].message
