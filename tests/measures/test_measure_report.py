"""MeasureReport JSON shape (individual and summary) and the `measures evaluate` command."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from measures.decks import DATA, DECKS
from openvbc.cli.main import app
from openvbc.engine.measure_report import build_individual_report, build_summary_report
from openvbc.services.measures import load_measure_rule

RULE = load_measure_rule("CMS138", 2025)
GROUPS = [g["id"] for g in RULE["groups"]]


def _row(group: str, **flags: bool) -> dict[str, object]:
    base = dict.fromkeys(
        ("initial_population", "denominator", "denominator_exclusion", "denominator_exception", "numerator"),
        False,
    )
    return base | flags | {"group_id": group, "reason": "r", "rule_file": "f", "rule_version": "v"}


def test_individual_report_has_one_group_per_rule_group() -> None:
    rows = [_row(GROUPS[0], initial_population=True, denominator=True, numerator=True)]
    report = build_individual_report(
        RULE, rows, subject="Patient/p1", period_start=date(2025, 1, 1), period_end=date(2025, 12, 31)
    )
    assert report["resourceType"] == "MeasureReport" and report["type"] == "individual"
    assert report["subject"] == {"reference": "Patient/p1"}
    assert [g["id"] for g in report["group"]] == GROUPS
    first = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}
    assert first == {"initial-population": 1, "denominator": 1, "denominator-exclusion": 0, "numerator": 1}
    second = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][1]["population"]}
    assert set(second.values()) == {0}


def test_summary_report_counts_and_score() -> None:
    # hand count: 3 in the denominator, 1 excluded, 1 numerator -> score 1 / (3 - 1) = 0.5
    rows = [
        _row(GROUPS[0], initial_population=True, denominator=True, numerator=True),
        _row(GROUPS[0], initial_population=True, denominator=True, denominator_exclusion=True),
        _row(GROUPS[0], initial_population=True, denominator=True),
        _row(GROUPS[0]),
    ]
    report = build_summary_report(RULE, rows, period_start=date(2025, 1, 1), period_end=date(2025, 12, 31))
    group = report["group"][0]
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in group["population"]}
    assert counts == {"initial-population": 3, "denominator": 3, "denominator-exclusion": 1, "numerator": 1}
    assert group["measureScore"] == {"value": 0.5}
    assert "measureScore" not in report["group"][1]


def test_evaluate_command_writes_one_report_per_patient(tmp_path: Path) -> None:
    out = tmp_path / "cms138.ndjson"
    folder = DATA / "qicore-2024" / DECKS["CMS138"]
    result = CliRunner().invoke(
        app,
        [
            "measures",
            "evaluate",
            "--measure",
            "CMS138",
            "--period-start",
            "2025-01-01",
            "--period-end",
            "2025-12-31",
            "--fhir",
            str(folder),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    reports = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(reports) == 33
    assert all(r["subject"]["reference"].startswith("Patient/") and len(r["group"]) == 3 for r in reports)


def test_evaluate_command_rejects_a_bad_date(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "measures",
            "evaluate",
            "--measure",
            "CMS165",
            "--period-start",
            "2025-13-01",
            "--period-end",
            "2025-12-31",
            "--fhir",
            str(tmp_path),
            "--out",
            str(tmp_path / "x.ndjson"),
        ],
    )
    assert result.exit_code == 2
