"""Shared fixtures: the eCQM decks, one DuckDB run per deck, the expected populations."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.backends import connect_duckdb, load_arrow_tables
from openvbc.engine.measure_report import POPULATION_COLUMNS, read_population_counts
from openvbc.services.measure_inputs import MeasureInputs, build_measure_inputs, read_bundles
from openvbc.services.measures import evaluate_measure, load_measure_rule

DATA = Path(__file__).resolve().parents[1] / "data" / "measures"
DECKS = {
    "CMS165": "ControllingHighBloodPressureFHIR",
    "CMS122": "DiabetesGlycemicStatusAssessmentGreaterThan9PercentFHIR",
    "CMS138": "PreventiveCareAndTobaccoUseScreeningAndCessationInterventionFHIR",
}
PERIOD_2025 = MeasurementPeriod(date(2025, 1, 1), date(2025, 12, 31))


@dataclass
class DeckRun:
    rule: dict[str, Any]
    inputs: MeasureInputs
    bundles: dict[str, dict[str, Any]]  # case uuid -> bundle
    names: dict[str, str]  # case uuid -> README name
    rows: list[dict[str, Any]]

    def member_of(self, case: str) -> int:
        patient = next(
            e["resource"]["id"]
            for e in self.bundles[case]["entry"]
            if e["resource"]["resourceType"] == "Patient"
        )
        return next(m for m, p in self.inputs.patient_ids.items() if p == patient)

    def got(self, case: str) -> dict[str, dict[str, int]]:
        member = self.member_of(case)
        out: dict[str, dict[str, int]] = {}
        for row in self.rows:
            if row["member_id"] == member:
                out[row["group_id"]] = {code: int(row[col]) for code, col in POPULATION_COLUMNS.items()}
        return out

    def expected(self, case: str) -> dict[str, dict[str, int]]:
        report = next(
            e["resource"]
            for e in self.bundles[case]["entry"]
            if e["resource"]["resourceType"] == "MeasureReport"
        )
        return read_population_counts(report, [g["id"] for g in self.rule["groups"]])


def case_ids(measure: str) -> list[str]:
    folder = DATA / "qicore-2024" / DECKS[measure]
    return sorted(p.name[len("tests-") : -len("-bundle.json")] for p in folder.glob("tests-*-bundle.json"))


def load_deck(
    measure: str,
) -> tuple[dict[str, Any], MeasureInputs, dict[str, dict[str, Any]], dict[str, str]]:
    folder = DATA / "qicore-2024" / DECKS[measure]
    pairs = [(label, b) for label, b in read_bundles(folder) if Path(label).name.startswith("tests-")]
    bundles = {Path(label).name[len("tests-") : -len("-bundle.json")]: b for label, b in pairs}
    names = dict(
        line.split(" = ", 1) for line in (folder / "README.txt").read_text().splitlines() if " = " in line
    )
    return load_measure_rule(measure, 2025), build_measure_inputs(pairs), bundles, names


_RUNS: dict[str, DeckRun] = {}


def deck_run(measure: str) -> DeckRun:
    """All patients of a deck evaluated together in one DuckDB run (cached per test session)."""
    if measure not in _RUNS:
        rule, inputs, bundles, names = load_deck(measure)
        con = connect_duckdb()
        tables = load_arrow_tables(con, inputs.tables)
        rows = evaluate_measure(tables, rule, PERIOD_2025).to_pyarrow().to_pylist()
        _RUNS[measure] = DeckRun(rule, inputs, bundles, names, rows)
    return _RUNS[measure]


@pytest.fixture(scope="session")
def postgres_url() -> str:
    import os

    return os.environ.get("OPENVBC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
