"""Every shipped rule file validates; broken files are rejected naming file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openvbc.cli.main import app
from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.rules.loader import load_measure_rule, load_rule_file
from openvbc.rules.resources import RuleFileNotFound
from openvbc.services.rules_catalog import check_rules

GOOD_MEASURE = """\
kind: measure
id: TEST1
title: Test measure
year: 2025
version: "1.0.0"
source:
  document: Hand-written test measure
  url: https://example.org/test
  publisher: openvbc tests
effective: {start: 2025-01-01, end: 2025-12-31}
measurement_period: {start: 2025-01-01, end: 2025-12-31}
scoring: proportion
improvement: increase
groups:
  - id: main
    populations: [initial-population, denominator, numerator]
value_sets:
  Essential Hypertension: 2.16.840.1.113883.3.464.1003.104.12.1011
parameters: {age_min: 18}
"""


def write_measure(folder: Path, text: str, measure_id: str = "TEST1", year: int = 2025) -> Path:
    path = folder / "measures" / measure_id / f"{year}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def only_issues_for(issues: list[InputIssue], path: Path) -> list[InputIssue]:
    return [issue for issue in issues if issue.file == str(path)]


def test_every_shipped_file_validates() -> None:
    report = check_rules()
    assert report.issues == []
    kinds = {rule.kind for rule in report.loaded}
    assert {"value_set_index", "direct_codes", "drug_classes", "holiday_calendar", "ndc_reference"} <= kinds


def test_a_good_user_measure_is_loaded(tmp_path: Path) -> None:
    write_measure(tmp_path, GOOD_MEASURE)
    report = check_rules(tmp_path)
    assert report.issues == []
    assert any(rule.id == "TEST1" and rule.kind == "measure" for rule in report.loaded)


def test_missing_source_is_named(tmp_path: Path) -> None:
    text = GOOD_MEASURE.replace(
        "source:\n  document: Hand-written test measure\n  url: https://example.org/test\n"
        "  publisher: openvbc tests\n",
        "",
    )
    path = write_measure(tmp_path, text)
    issues = only_issues_for(check_rules(tmp_path).issues, path)
    assert [(i.field, i.message) for i in issues] == [("source", "required field is missing")]


def test_end_before_start_is_named_with_its_line(tmp_path: Path) -> None:
    text = GOOD_MEASURE.replace(
        "effective: {start: 2025-01-01, end: 2025-12-31}", "effective: {start: 2025-01-01, end: 2024-12-31}"
    )
    path = write_measure(tmp_path, text)
    issues = only_issues_for(check_rules(tmp_path).issues, path)
    assert len(issues) == 1
    assert issues[0].field == "effective"
    assert issues[0].line == 10  # the line of "effective:" in GOOD_MEASURE
    assert "before start" in issues[0].message


def test_unknown_value_set_oid_is_named_with_its_line(tmp_path: Path) -> None:
    text = GOOD_MEASURE.replace("2.16.840.1.113883.3.464.1003.104.12.1011", "2.16.840.1.999.1")
    path = write_measure(tmp_path, text)
    issues = only_issues_for(check_rules(tmp_path).issues, path)
    # Line 18 of GOOD_MEASURE is "  Essential Hypertension: ...".
    assert [(i.line, i.field) for i in issues] == [(18, "value_sets.Essential Hypertension")]
    assert "2.16.840.1.999.1" in issues[0].message


def test_contradictory_year_and_unknown_field(tmp_path: Path) -> None:
    text = GOOD_MEASURE.replace("year: 2025", "year: 2024").replace("scoring: proportion", "scoring: average")
    text += "benchmark: 0.7\n"
    path = write_measure(tmp_path, text, year=2024)
    fields = {i.field for i in only_issues_for(check_rules(tmp_path).issues, path)}
    assert fields == {"scoring", "benchmark"}
    # Once the field errors are fixed the year/measurement-period contradiction is reported.
    text = GOOD_MEASURE.replace("year: 2025", "year: 2024")
    path = write_measure(tmp_path, text, year=2024)
    issues = only_issues_for(check_rules(tmp_path).issues, path)
    assert issues and "contradicts" in issues[0].message


def test_bad_csv_header_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "valuesets" / "2.16.840.1.113883.3.464.1003.104.12.1011.csv"
    path.parent.mkdir(parents=True)
    path.write_text("code,system,display\nI10,icd10cm,\n", encoding="utf-8")
    issues = only_issues_for(check_rules(tmp_path).issues, path)
    assert len(issues) == 1 and issues[0].line == 1 and "expected exactly" in issues[0].message


def test_bad_ndc_rows_name_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "drugs" / "ndc_reference.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "ndc11,ingredient,rxnorm_ingredient,drug_class,strength,dose_form,is_maintenance,source\n"
        "99999000101,metformin,6809,biguanides,500 mg,oral tablet,true,synthetic\n"
        "1234,metformin,6809,no_such_class,500 mg,oral tablet,yes,synthetic\n",
        encoding="utf-8",
    )
    issues = only_issues_for(check_rules(tmp_path).issues, path)
    assert {(i.line, i.field) for i in issues} == {(3, "ndc11"), (3, "drug_class"), (3, "is_maintenance")}


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write_measure(tmp_path, GOOD_MEASURE.replace("scoring: proportion", "scoring: [proportion"))
    issues = only_issues_for(check_rules(tmp_path).issues, path)
    assert len(issues) == 1 and issues[0].line is not None and "YAML" in issues[0].message


def test_loader_reads_and_validates_measure_files() -> None:
    with pytest.raises(RuleFileNotFound):
        load_measure_rule("NO-SUCH-MEASURE", 2025)
    index = load_rule_file("valuesets/index.yaml")
    index["value_sets"].clear()  # a copy: the cache is untouched
    assert load_rule_file("valuesets/index.yaml")["value_sets"]


def test_cli_check_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["rules", "check"])
    assert ok.exit_code == 0, ok.output
    write_measure(
        tmp_path, GOOD_MEASURE.replace("2.16.840.1.113883.3.464.1003.104.12.1011", "2.16.840.1.999.1")
    )
    bad = runner.invoke(app, ["--json", "rules", "check", "--path", str(tmp_path)])
    assert bad.exit_code == 2
    payload = json.loads(bad.stdout)
    assert payload["ok"] is False
    assert payload["issues"][0]["field"] == "value_sets.Essential Hypertension"
    missing = runner.invoke(app, ["rules", "check", "--path", str(tmp_path / "absent")])
    assert missing.exit_code == 2
    listed = runner.invoke(app, ["rules", "list", "--value-sets", "--json"])
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)) == 54


def test_invalid_input_lists_every_issue(tmp_path: Path) -> None:
    from openvbc.services.rules_catalog import require_valid_rules

    write_measure(tmp_path, GOOD_MEASURE.replace("improvement: increase", "improvement: up"))
    with pytest.raises(InvalidInput) as caught:
        require_valid_rules(tmp_path)
    assert "improvement" in str(caught.value)
