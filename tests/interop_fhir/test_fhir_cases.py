"""Hand-written bundles (``cases/<case>.in.json``) against rows worked out by hand (``.out.json``).

An ``.out.json`` lists, per package file, the expected rows with their non-empty columns (every
other column must be empty), the expected ``skipped`` counts, and the expected issues as
``[line, field, part of the message]``. Its ``_notes`` give the arithmetic behind the values.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openvbc.interop.fhir import FhirExtract, columns_for, map_bundle, read_fhir_path

CASES = Path(__file__).resolve().parents[1] / "data" / "fhir" / "cases"
CASE_NAMES = sorted(p.name.removesuffix(".in.json") for p in CASES.glob("*.in.json"))


def _expected_rows(kind: str, rows: list[dict[str, str]]) -> list[dict[str, str | None]]:
    columns = columns_for(kind)
    for row in rows:
        unknown = set(row) - set(columns)
        assert not unknown, f"{kind}: the expectation names unknown columns {unknown}"
    return [{column: row.get(column) for column in columns} for row in rows]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_case_maps_to_the_hand_worked_rows(case: str) -> None:
    extract = read_fhir_path(CASES / f"{case}.in.json")
    expected = json.loads((CASES / f"{case}.out.json").read_text())
    for kind, rows in extract.rows.items():
        actual = [row for _, _, row in rows]
        assert actual == _expected_rows(kind, expected["rows"].get(kind, [])), kind
    assert extract.skipped == expected["skipped"]
    actual_issues = sorted((issue.line or 0, issue.field or "", issue.message) for issue in extract.issues)
    assert len(actual_issues) == len(expected["issues"]), [i.render() for i in extract.issues]
    for (line, field, message), (want_line, want_field, want_text) in zip(
        actual_issues, expected["issues"], strict=True
    ):
        assert (line, field) == (want_line, want_field)
        assert want_text in message
    for issue in extract.issues:
        assert issue.file == f"{case}.in.json#entry[{(issue.line or 0) - 1}]"


def test_rows_carry_their_entry_label_and_line() -> None:
    extract = read_fhir_path(CASES / "claims.in.json")
    label, line, _ = extract.rows["claims"][0]
    assert (label, line) == ("claims.in.json#entry[1]", 2)


def test_map_bundle_is_pure_and_takes_float_json() -> None:
    bundle = json.loads((CASES / "encounter_observation.in.json").read_text())
    first = map_bundle(bundle, source_label="upload-1")
    second = map_bundle(bundle, source_label="upload-1")
    assert first == second
    a1c = next(row for _, _, row in first.rows["observations"] if row["observation_key"] == "Observation/a1c")
    assert a1c["value"] == "9.4"  # a float-parsed 9.40 has lost its trailing zero; the value is the same
    assert first.rows["members"][0][0] == "upload-1#entry[0]"


def test_single_resource_is_accepted() -> None:
    patient = {"resourceType": "Patient", "id": "solo", "gender": "other", "birthDate": "2001"}
    extract = map_bundle(patient, source_label="solo.json")
    assert extract.issues == []
    label, line, row = extract.rows["members"][0]
    # Year-only birth date: the first day of that year; gender 'other' -> U.
    assert (label, line, row["birth_date"], row["sex"]) == ("solo.json", 1, "2001-01-01", "U")


def test_resource_without_id_gets_a_stable_sha1_key() -> None:
    condition = {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/x"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]},
    }
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": condition}]}
    key_1 = map_bundle(bundle, source_label="a").rows["conditions"][0][2]["condition_key"]
    key_2 = map_bundle(json.loads(json.dumps(bundle)), source_label="b").rows["conditions"][0][2][
        "condition_key"
    ]
    assert key_1 == key_2
    assert (
        key_1 is not None
        and key_1.startswith("Condition/sha1-")
        and len(key_1) == len("Condition/sha1-") + 40
    )


def test_ndjson_reports_bad_lines_and_keeps_the_rest(tmp_path: Path) -> None:
    lines = [
        json.dumps({"resourceType": "Patient", "id": "a", "gender": "male", "birthDate": "1990-01-01"}),
        "{not json",
        "",
        json.dumps(["not", "an", "object"]),
        json.dumps({"resourceType": "Patient", "id": "b", "gender": "female", "birthDate": "1991-02-02"}),
    ]
    (tmp_path / "Patient.000.ndjson").write_text("\n".join(lines) + "\n")
    extract = read_fhir_path(tmp_path)
    assert [row["member_key"] for _, _, row in extract.rows["members"]] == ["a", "b"]
    assert [line for _, line, _ in extract.rows["members"]] == [1, 5]
    assert [(i.file, i.line) for i in extract.issues] == [
        ("Patient.000.ndjson", 2),
        ("Patient.000.ndjson", 4),
    ]


def test_missing_path_and_empty_directory_are_issues(tmp_path: Path) -> None:
    missing = read_fhir_path(tmp_path / "nope")
    assert [i.message for i in missing.issues] == ["no such file or directory"]
    empty = read_fhir_path(tmp_path)
    assert [i.message for i in empty.issues] == ["no .json or .ndjson files found"]


def test_unreadable_json_file_is_an_issue(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"resourceType": "Bundle", ')
    extract = read_fhir_path(tmp_path)
    assert len(extract.issues) == 1
    assert extract.issues[0].file == "broken.json"
    assert "not readable as JSON" in extract.issues[0].message


def test_directory_walk_is_sorted_and_merges_bundles(tmp_path: Path) -> None:
    for name in ("b", "a"):
        patient = {"resourceType": "Patient", "id": name, "gender": "male", "birthDate": "1990-01-01"}
        (tmp_path / f"{name}.json").write_text(
            json.dumps({"resourceType": "Bundle", "entry": [{"resource": patient}]})
        )
    extract: FhirExtract = read_fhir_path(tmp_path)
    assert [label for label, _, _ in extract.rows["members"]] == ["a.json#entry[0]", "b.json#entry[0]"]
