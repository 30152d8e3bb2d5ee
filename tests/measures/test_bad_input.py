"""Bad BP input is counted per member and never passes into the CMS165 numerator.

Each patient is otherwise a clean numerator case (hand-built: age 60 at the end of 2025,
active essential hypertension since 2020 (SNOMED 59621000, in the value set), an office
visit (CPT 99213) in 2025); only the BP observation differs.
"""

from __future__ import annotations

from typing import Any

from measures.decks import PERIOD_2025
from openvbc.engine.backends import connect_duckdb, load_arrow_tables
from openvbc.services.measure_inputs import build_measure_inputs
from openvbc.services.measures import evaluate_measure, load_measure_rule

LOINC = "http://loinc.org"


def _component(code: str, value: float, unit: str | None = "mm[Hg]") -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value}
    if unit:
        quantity |= {"unit": "mmHg", "system": "http://unitsofmeasure.org", "code": unit}
    return {"code": {"coding": [{"system": LOINC, "code": code}]}, "valueQuantity": quantity}


def _patient_bundle(pid: str, bp: dict[str, Any]) -> dict[str, Any]:
    resources = [
        {"resourceType": "Patient", "id": pid, "birthDate": "1965-03-01", "gender": "female"},
        {
            "resourceType": "Condition",
            "id": f"{pid}-htn",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "59621000"}]},
            "onsetDateTime": "2020-01-01",
        },
        {
            "resourceType": "Encounter",
            "id": f"{pid}-visit",
            "status": "finished",
            "class": {"code": "AMB"},
            "type": [{"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "99213"}]}],
            "period": {"start": "2025-03-01T10:00:00Z", "end": "2025-03-01T10:30:00Z"},
        },
        {
            "resourceType": "Observation",
            "id": f"{pid}-bp",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        }
        | bp,
    ]
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


CASES: dict[str, dict[str, Any]] = {
    "good": {
        "effectiveDateTime": "2025-03-01T10:05:00Z",
        "component": [_component("8480-6", 128), _component("8462-4", 82)],
    },
    "one-component": {"effectiveDateTime": "2025-03-01T10:05:00Z", "component": [_component("8480-6", 128)]},
    "no-unit": {
        "effectiveDateTime": "2025-03-01T10:05:00Z",
        "component": [_component("8480-6", 128, None), _component("8462-4", 82)],
    },
    "no-date": {"component": [_component("8480-6", 128), _component("8462-4", 82)]},
}


def _run() -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    inputs = build_measure_inputs([(name, _patient_bundle(name, bp)) for name, bp in CASES.items()])
    tables = load_arrow_tables(connect_duckdb(), inputs.tables)
    rows = evaluate_measure(tables, load_measure_rule("CMS165", 2025), PERIOD_2025).to_pyarrow().to_pylist()
    by_patient = {inputs.patient_ids[row["member_id"]]: row for row in rows}
    issues = {inputs.patient_ids[m]: n for m, n in inputs.issues_by_member.items()}
    return by_patient, issues


def test_only_the_clean_reading_reaches_the_numerator() -> None:
    rows, _ = _run()
    assert all(row["denominator"] for row in rows.values())
    assert {name: row["numerator"] for name, row in rows.items()} == {
        "good": True,
        "one-component": False,
        "no-unit": False,
        "no-date": False,
    }
    assert rows["good"]["evidence_value"] == "128.0/82.0 mmHg"


def test_bad_readings_are_counted_per_member() -> None:
    rows, issues = _run()
    assert issues == {"one-component": 1, "no-unit": 1, "no-date": 1}
    assert "1 BP reading(s) missing a component or mmHg value" in rows["one-component"]["reason"]
    assert rows["no-unit"]["evidence_value"] == "incomplete reading (missing component or unit)"
    assert "no qualifying BP reading in the period" in rows["no-date"]["reason"]
