"""FHIR PhCP document Bundle: golden output, profile check from the PhCP StructureDefinitions, round trip."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from openvbc.interop.fhir_phcp.parse import PhcpInputError, read_careplan_fhir
from openvbc.interop.fhir_phcp.profiles import check_phcp_bundle, load_phcp_profiles
from openvbc.interop.fhir_phcp.render import render_careplan_fhir
from pharmacist.careplan_cases import ADHERENCE_PLAN, MINIMAL_PLAN

DATA = Path(__file__).resolve().parents[1] / "data" / "phcp"


@pytest.mark.parametrize(("name", "plan"), [("adherence", ADHERENCE_PLAN), ("minimal", MINIMAL_PLAN)])
def test_output_matches_golden_and_passes_the_profile_check(name: str, plan: Any) -> None:
    bundle = render_careplan_fhir(plan)
    golden = json.loads((DATA / "golden" / f"{name}.out.json").read_text(encoding="utf-8"))
    assert json.loads(json.dumps(bundle)) == golden
    assert check_phcp_bundle(bundle, name) == []


def test_adherence_bundle_has_the_expected_resources() -> None:
    """Expected content written by hand in careplan_cases.py (18 entries, Composition first)."""
    bundle = render_careplan_fhir(ADHERENCE_PLAN)
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert bundle["type"] == "document" and kinds[0] == "Composition" and len(kinds) == 18
    counts = {kind: kinds.count(kind) for kind in set(kinds)}
    assert counts == {
        "Composition": 1,
        "Patient": 1,
        "Practitioner": 1,
        "Organization": 2,
        "Encounter": 1,
        "Condition": 2,
        "Goal": 1,
        "Procedure": 1,
        "ServiceRequest": 1,
        "Observation": 1,
        "MedicationStatement": 2,
        "MedicationDispense": 3,
        "Coverage": 1,
    }
    conditions = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"]
    assert conditions[0]["code"]["coding"][0]["code"] == "697958005"
    assert conditions[0]["code"]["text"] == "Misses evening metformin doses about twice a week"
    assert "coding" not in conditions[1]["code"]
    composition = bundle["entry"][0]["resource"]
    assert composition["type"]["coding"][0]["code"] == "18776-5"
    assert [s["code"]["coding"][0]["code"] for s in composition["section"]] == [
        "75310-3",
        "61146-7",
        "62387-6",
        "11383-7",
        "10160-0",
        "48768-6",
    ]


def test_profiles_are_read_from_the_shipped_structure_definitions() -> None:
    profiles = load_phcp_profiles()
    encounter = profiles["http://hl7.org/fhir/us/phcp/StructureDefinition/PhCP-Encounter"]
    assert ("Encounter.type", 1) in [(rule.path, rule.min) for rule in encounter.elements]
    composition = profiles["http://hl7.org/fhir/us/phcp/StructureDefinition/PhCP-Composition"]
    assert {(s.loinc, s.max) for s in composition.sections} == {("62387-6", "1"), ("48768-6", "1")}


def _broken(change: Any) -> list[str]:
    bundle = copy.deepcopy(render_careplan_fhir(ADHERENCE_PLAN))
    change(bundle)
    return [f"{issue.field}: {issue.message}" for issue in check_phcp_bundle(bundle, "b.json")]


def _resource(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)


def test_profile_check_names_each_broken_rule() -> None:
    assert any(
        "Encounter.type" in p and "at least 1" in p
        for p in _broken(lambda b: _resource(b, "Encounter").pop("type"))
    )
    assert any("Bundle.type" in p for p in _broken(lambda b: b.update(type="collection")))
    assert any("Goals section" in p for p in _broken(lambda b: b["entry"][0]["resource"]["section"].pop(1)))
    twice = _broken(
        lambda b: b["entry"][0]["resource"]["section"].append(b["entry"][0]["resource"]["section"][2])
    )
    assert any("interventions_section" in p and "at most 1" in p for p in twice)
    assert any("does not resolve" in p for p in _broken(lambda b: b["entry"].pop(5)))
    assert any("Condition.code" in p for p in _broken(lambda b: _resource(b, "Condition").pop("code")))


def test_parser_refuses_a_bundle_that_fails_the_check() -> None:
    bundle = render_careplan_fhir(MINIMAL_PLAN)
    bundle["type"] = "collection"
    with pytest.raises(PhcpInputError) as caught:
        read_careplan_fhir(bundle, "x.json")
    assert caught.value.issues[0].field == "Bundle.type"


@pytest.mark.parametrize("plan", [ADHERENCE_PLAN, MINIMAL_PLAN])
def test_fhir_round_trip_keeps_the_whole_plan(plan: Any) -> None:
    assert read_careplan_fhir(json.loads(json.dumps(render_careplan_fhir(plan))), "x") == plan
