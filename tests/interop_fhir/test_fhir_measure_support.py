"""Mapper behaviour the measures rely on: incomplete readings kept and reported with their
patient, patient-compartment bundles, one observation category."""

from __future__ import annotations

from typing import Any

from openvbc.interop.fhir import map_bundle

LOINC = "http://loinc.org"


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1960-05-01", "gender": "female"}


def _bp(oid: str, *components: tuple[str, dict[str, Any]], subject: bool = True) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "category": [{"coding": [{"code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "effectiveDateTime": "2025-03-01T10:00:00Z",
        "component": [
            {"code": {"coding": [{"system": LOINC, "code": code}]}, "valueQuantity": quantity}
            for code, quantity in components
        ],
    }
    if subject:
        observation["subject"] = {"reference": "Patient/p1"}
    return observation


def test_incomplete_readings_are_kept_and_reported_with_their_patient() -> None:
    mmhg = {"system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
    extract = map_bundle(
        _bundle(
            PATIENT,
            _bp("one-part", ("8480-6", {"value": 128} | mmhg)),
            _bp("no-unit", ("8480-6", {"value": 128}), ("8462-4", {"value": 82} | mmhg)),
        ),
        source_label="b.json",
    )
    rows = [row for _, _, row in extract.rows["observations"]]
    assert [(r["observation_key"], r["value"], r["unit"]) for r in rows] == [
        ("Observation/one-part#8480-6", "128", "mm[Hg]"),
        ("Observation/no-unit#8480-6", "128", None),
        ("Observation/no-unit#8462-4", "82", "mm[Hg]"),
    ]
    assert [(i.file, i.line, i.field) for i in extract.issues] == [
        ("b.json#entry[1]", 2, "Observation.component"),
        ("b.json#entry[2]", 3, "Observation.component[0].valueQuantity.unit"),
    ]
    assert "diastolic (8462-4)" in extract.issues[0].message
    assert extract.issue_member_keys == {"b.json#entry[1]": "p1", "b.json#entry[2]": "p1"}


def test_patient_compartment_gives_subjectless_resources_their_patient() -> None:
    reading = _bp(
        "r", ("8480-6", {"value": 120, "code": "mm[Hg]"}), ("8462-4", {"value": 80, "code": "mm[Hg]"})
    )
    bundle = _bundle(PATIENT, reading | {"subject": None})
    plain = map_bundle(bundle, source_label="b.json")
    assert plain.rows["observations"] == [] and plain.issues[0].field == "Observation.subject"
    compartment = map_bundle(bundle, source_label="b.json", patient_compartment=True)
    assert {row["member_key"] for _, _, row in compartment.rows["observations"]} == {"p1"}
    assert compartment.issues == []
    # a reference that names something else stays an issue, compartment or not
    other = map_bundle(
        _bundle(PATIENT, reading | {"subject": {"reference": "Group/g"}}),
        source_label="b",
        patient_compartment=True,
    )
    assert other.rows["observations"] == [] and other.issues[0].field == "Observation.subject"


def test_observation_keeps_one_category_survey_first() -> None:
    screening = {
        "resourceType": "Observation",
        "id": "s",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "category": [{"coding": [{"code": "social-history"}]}, {"coding": [{"code": "survey"}]}],
        "code": {"coding": [{"system": LOINC, "code": "72166-2"}]},
        "effectiveDateTime": "2025-03-01",
        "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "8517006"}]},
    }
    extract = map_bundle(_bundle(PATIENT, screening), source_label="b")
    assert [row["category"] for _, _, row in extract.rows["observations"]] == ["survey"]
