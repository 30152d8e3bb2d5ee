"""Staged intermediates change nothing: every measure gives the same rows with and without them.

``openvbc.engine.measures.staging.stage_shared_inputs`` materialises per-run intermediates
(value-set rows, the PDC fill subset, class fills, member periods, coverage runs). The measures
must return exactly what they return when computing everything inline: checked on the PDC
golden cases (hand-computed, tests/adherence/pdc_golden_cases.py) and on the eCQM test decks
(tests/data/measures, the CMS165/CMS122/CMS138 patients, also read by GSD and TOBACCO-FREE).
The numpy kernel fed with ``kernel_rows`` must agree with the expression member by member.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pyarrow.compute as pc
import pytest
from pdc_golden_cases import CASES, build_all

from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine import backends
from openvbc.engine.adherence import evaluate, kernel_rows
from openvbc.engine.measures.staging import merge_value_sets, stage_shared_inputs
from openvbc.engine.pdc_kernel import compute_member_coverage
from openvbc.engine.registry import find_evaluator
from openvbc.rules.loader import load_measure_rule
from openvbc.services.measure_inputs import build_measure_inputs, read_bundles

DECKS = Path(__file__).resolve().parents[1] / "data" / "measures" / "qicore-2024"
QUALITY = ("CMS165", "CMS122", "GSD", "CMS138", "TOBACCO-FREE")
PERIOD_2025 = MeasurementPeriod.calendar_year(2025)


def _sorted_rows(expr: Any) -> list[dict[str, Any]]:
    rows = expr.to_pyarrow().to_pylist()
    return sorted(rows, key=lambda row: (row["group_id"], row["member_id"]))


def _pdc_rule(measure: str, year: int, inpatient: bool) -> dict[str, Any]:
    rule = load_measure_rule(measure, max(year, 2025))
    rule["parameters"]["inpatient_adjustment"] = inpatient
    return rule


def _golden_groups() -> list[tuple[str, int, bool]]:
    return sorted({(case.measure, case.year, case.inpatient_adjustment) for case in CASES})


@pytest.fixture(scope="module")
def golden() -> tuple[Any, dict[str, Any]]:
    con = backends.connect_duckdb()
    scenario, _members = build_all()
    return con, backends.load_arrow_tables(con, scenario.build())


@pytest.mark.parametrize(
    "group", _golden_groups(), ids=lambda g: f"{g[0]}-{g[1]}-{'inpatient' if g[2] else 'pqa'}"
)
def test_pdc_golden_cases_same_with_staging(
    golden: tuple[Any, dict[str, Any]], group: tuple[str, int, bool]
) -> None:
    con, tables = golden
    measure, year, inpatient = group
    rule = _pdc_rule(measure, year, inpatient)
    period = MeasurementPeriod.calendar_year(year)
    staged = stage_shared_inputs(con, tables, [rule], period)
    assert any(key.startswith("__pdc_class_fills") for key in staged)
    inline = _sorted_rows(evaluate(tables, rule, period))
    assert inline, "the golden scenario gives rows for every group"
    assert _sorted_rows(evaluate(staged, rule, period)) == inline


def test_staged_for_another_period_is_not_used(golden: tuple[Any, dict[str, Any]]) -> None:
    con, tables = golden
    rule = _pdc_rule("PDC-DR", 2018, inpatient=False)
    staged = stage_shared_inputs(con, tables, [rule], PERIOD_2025)
    period_2018 = MeasurementPeriod.calendar_year(2018)
    inline = _sorted_rows(evaluate(tables, rule, period_2018))
    assert any(row["initial_population"] for row in inline)
    assert _sorted_rows(evaluate(staged, rule, period_2018)) == inline


def test_kernel_on_kernel_rows_matches_expression(golden: tuple[Any, dict[str, Any]]) -> None:
    _con, tables = golden
    for measure in ("PDC-DR", "PDC-RASA", "PDC-STA"):
        rule = _pdc_rule(measure, 2025, inpatient=False)
        rows = kernel_rows(tables, rule, PERIOD_2025).to_pyarrow()
        if rows.num_rows == 0:
            continue
        coverage = compute_member_coverage(
            rows["member_id"].to_numpy(),
            np.asarray(pc.dictionary_encode(rows["stream"]).combine_chunks().indices),
            rows["fill_day"].to_numpy(),
            rows["days_supply"].to_numpy(),
            rows["end_day"].to_numpy(),
        )
        result = evaluate(tables, rule, PERIOD_2025).to_pyarrow().to_pylist()
        expected = {row["member_id"]: row["covered_days"] for row in result}
        got = dict(zip(coverage.member.tolist(), coverage.covered_days.tolist(), strict=True))
        assert got == {member: expected[member] for member in got}, measure


@pytest.fixture(scope="module")
def decks() -> tuple[Any, dict[str, Any]]:
    pairs = []
    for folder in sorted(DECKS.iterdir()):
        if folder.is_dir():
            pairs += [
                (label, b) for label, b in read_bundles(folder) if Path(label).name.startswith("tests-")
            ]
    con = backends.connect_duckdb()
    return con, backends.load_arrow_tables(con, build_measure_inputs(pairs).tables)


def test_quality_measures_same_with_staging(decks: tuple[Any, dict[str, Any]]) -> None:
    con, tables = decks
    rules = [load_measure_rule(measure, 2025) for measure in QUALITY]
    staged = stage_shared_inputs(con, tables, rules, PERIOD_2025)
    for measure, rule in zip(QUALITY, rules, strict=True):
        evaluate_measure = find_evaluator(measure)
        inline = _sorted_rows(evaluate_measure(tables, rule, PERIOD_2025))
        assert any(row["initial_population"] for row in inline), f"{measure}: the decks fill its population"
        assert _sorted_rows(evaluate_measure(staged, rule, PERIOD_2025)) == inline, measure


def test_other_expansion_of_a_value_set_is_not_shared() -> None:
    cms165 = load_measure_rule("CMS165", 2025)
    other = dict(cms165, value_set_codes={"Essential Hypertension": [("icd10cm", "I10")]})
    merged = merge_value_sets([cms165, other])
    assert "Essential Hypertension" not in merged.by_name
    assert "Office Visit" in merged.by_name


def _staged_equals_inline_everywhere(tables: dict[str, Any], groups: list[tuple[str, int, bool]]) -> None:
    con = ibis.get_backend(tables["fill"])
    for measure, year, inpatient in groups:
        rule = _pdc_rule(measure, year, inpatient)
        period = MeasurementPeriod.calendar_year(year)
        staged = stage_shared_inputs(con, tables, [rule], period)
        assert _sorted_rows(evaluate(staged, rule, period)) == _sorted_rows(evaluate(tables, rule, period))


@pytest.mark.postgres
def test_pdc_staging_on_postgres(postgres_loader: Any) -> None:
    scenario, _members = build_all()
    _staged_equals_inline_everywhere(postgres_loader(scenario.build()), _golden_groups())


@pytest.mark.spark
@pytest.mark.slow
def test_pdc_staging_on_spark(spark_loader: Any) -> None:
    scenario, _members = build_all()
    # Two groups only (PQA's vectors; combination products): each Spark query costs seconds, and
    # the full set runs on DuckDB and PostgreSQL.
    groups = [g for g in _golden_groups() if g in {("PDC-DR", 2018, False), ("PDC-RASA", 2025, False)}]
    _staged_equals_inline_everywhere(spark_loader(scenario.build()), groups)
