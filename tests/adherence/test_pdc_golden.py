"""The hand-computed PDC cases, on DuckDB, PostgreSQL and PySpark, with identical member-level results."""

from __future__ import annotations

from typing import Any

import pytest
from pdc_golden_cases import CASES, Golden, build_all

from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.adherence import RESULT_COLUMNS, evaluate
from openvbc.engine.canonical import MEMBER_RESULT_COLUMN_NAMES
from openvbc.rules.loader import load_measure_rule

Group = tuple[str, int, bool]


def _rule(measure: str, year: int, inpatient: bool) -> dict[str, Any]:
    # PQA's vectors are dated 2018; the 2025 rule file is applied to that year's period.
    rule = load_measure_rule(measure, max(year, 2025))
    rule["parameters"]["inpatient_adjustment"] = inpatient
    return rule


def run_all_cases(loader: Any) -> dict[str, dict[str, Any]]:
    """Evaluate every case group on one backend; return each case's result row."""
    scenario, members = build_all()
    tables = loader(scenario.build())
    groups: dict[Group, list[Golden]] = {}
    for case in CASES:
        groups.setdefault((case.measure, case.year, case.inpatient_adjustment), []).append(case)
    rows: dict[str, dict[str, Any]] = {}
    for (measure, year, inpatient), cases in groups.items():
        result = evaluate(tables, _rule(measure, year, inpatient), MeasurementPeriod.calendar_year(year))
        by_member = {row["member_id"]: row for row in result.to_pyarrow().to_pylist()}
        for case in cases:
            rows[case.name] = by_member.get(members[case.name], {})
    return rows


@pytest.fixture(scope="module")
def duckdb_rows(duckdb_loader: Any) -> dict[str, dict[str, Any]]:
    return run_all_cases(duckdb_loader)


def _check(case: Golden, row: dict[str, Any]) -> None:
    assert row, f"{case.name}: no result row"
    for key, expected in case.expected.items():
        assert row[key] == expected, (
            f"{case.name}: {key} = {row[key]!r}, expected {expected!r} ({row['reason']})"
        )
    if case.expected.get("initial_population") is True and "denominator_exclusion" not in case.expected:
        assert row["denominator_exclusion"] is False, f"{case.name}: unexpected exclusion ({row['reason']})"
    if case.reason_contains:
        assert case.reason_contains in row["reason"], f"{case.name}: reason {row['reason']!r}"
    assert row["denominator"] == row["initial_population"]
    assert not row["numerator"] or (row["denominator"] and not row["denominator_exclusion"])


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_on_duckdb(case: Golden, duckdb_rows: dict[str, dict[str, Any]]) -> None:
    _check(case, duckdb_rows[case.name])


def test_result_columns_follow_the_contract(duckdb_rows: dict[str, dict[str, Any]]) -> None:
    row = next(iter(duckdb_rows.values()))
    assert tuple(row)[: len(MEMBER_RESULT_COLUMN_NAMES)] == MEMBER_RESULT_COLUMN_NAMES
    assert tuple(row) == tuple(name for name, _ in RESULT_COLUMNS)


def test_evidence_names_the_fills(duckdb_rows: dict[str, dict[str, Any]]) -> None:
    row = duckdb_rows["pqa-3-refill-shifted-to-10-03"]
    assert row["fills_used"].count("fill:") == 3
    assert row["fills_used"].startswith("2018-03-25 fill:")
    assert row["evidence_value"] == "PDC 270/282"
    assert row["evidence_source"].startswith("fill:")
    assert row["evidence_date"] == row["last_fill_date"]
    assert row["rule_file"] == "measures/PDC-DR/2025.yaml"


@pytest.mark.postgres
def test_postgres_matches_duckdb(postgres_loader: Any, duckdb_rows: dict[str, dict[str, Any]]) -> None:
    assert run_all_cases(postgres_loader) == duckdb_rows


@pytest.mark.spark
@pytest.mark.slow
def test_spark_matches_duckdb(spark_loader: Any, duckdb_rows: dict[str, dict[str, Any]]) -> None:
    assert run_all_cases(spark_loader) == duckdb_rows
