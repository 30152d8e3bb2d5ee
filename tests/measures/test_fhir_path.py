"""The evaluate path reads FHIR through the importer's mapper: where the two meet.

CMS165 (ControllingHighBloodPressureFHIR 0.1.000, qicore-2024 CQL lines 107 and 112) drops
BP readings whose encounter class is one of EMER, IMP, ACUTE, NONAC, PRENC, SS -- and no other.
"""

from __future__ import annotations

from openvbc.interop.fhir.elements import ENCOUNTER_CLASS_SETTINGS
from openvbc.services.measure_inputs import build_measure_inputs
from openvbc.services.measures import load_measure_rule

CQL_EXCLUDED_CLASSES = {"EMER", "IMP", "ACUTE", "NONAC", "PRENC", "SS"}


def _dropped_classes() -> set[str]:
    excluded = set(load_measure_rule("CMS165", 2025)["parameters"]["excluded_settings"])
    return {klass for klass, setting in ENCOUNTER_CLASS_SETTINGS.items() if setting in excluded}


def test_every_cql_excluded_class_is_dropped() -> None:
    assert _dropped_classes() >= CQL_EXCLUDED_CLASSES


def test_only_cql_excluded_classes_are_dropped() -> None:
    assert _dropped_classes() == CQL_EXCLUDED_CLASSES


def test_patient_without_birth_date_is_reported_in_no_population() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1", "gender": "male"}},
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "c1",
                    "subject": {"reference": "Patient/p1"},
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "59621000"}]},
                }
            },
        ],
    }
    inputs = build_measure_inputs([("one.json", bundle)])
    assert list(inputs.patient_ids.values()) == ["p1"]
    assert inputs.tables["member"].column("birth_date").to_pylist() == [None]
    assert inputs.tables["condition"].num_rows == 1
    assert inputs.issues_by_member == {1: 1}
    assert [(i.file, i.field) for i in inputs.issues] == [("one.json#entry[0]", "Patient.birthDate")]
