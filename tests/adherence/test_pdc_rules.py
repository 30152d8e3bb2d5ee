"""The PDC rule files load, validate and say where their rules come from."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from pdc_scenario import Scenario

from openvbc.engine.adherence import evaluate, read_adherence_spec
from openvbc.engine.registry import find_evaluator
from openvbc.rules.loader import load_drug_reference, load_measure_rule

MEASURES = ["PDC-DR", "PDC-RASA", "PDC-STA"]


@pytest.mark.parametrize("year", [2025, 2026])
@pytest.mark.parametrize("measure", MEASURES)
def test_rule_file_resolves(measure: str, year: int) -> None:
    rule = load_measure_rule(measure, year)
    assert rule["source"]["publisher"] == "Pharmacy Quality Alliance"
    assert rule["effective"]["start"] == date(year, 1, 1)
    spec = read_adherence_spec(rule)
    classes = load_drug_reference().classes.measures[measure]
    assert list(spec.target_classes) == classes.target_classes
    assert list(spec.exclude_drug_classes) == classes.exclusion_classes
    assert spec.threshold == Fraction(4, 5) == Fraction(str(classes.threshold))
    assert (spec.min_fills, spec.min_age, spec.min_treatment_days) == (2, 18, 91)
    assert spec.inpatient_adjustment is False
    assert {e.name for e in spec.exclusions} == {"hospice", "esrd"}
    assert "N186" in dict(next(e for e in spec.exclusions if e.name == "esrd").codes)["icd10cm"]
    assert spec.target_ingredients, "combination products need the target ingredient names"
    assert find_evaluator(measure) is evaluate


def test_no_fills_gives_no_rows(duckdb_loader: object) -> None:
    tables = duckdb_loader(Scenario().member(1).build())  # type: ignore[operator]
    assert evaluate(tables, load_measure_rule("PDC-STA", 2025)).to_pyarrow().num_rows == 0
