"""Measure use cases: evaluate FHIR patient bundles, or run measures over the store.

Both paths run the same Ibis expressions (``openvbc.engine.registry``); this module only
chooses the rule file for the year, moves data into an engine, and writes the outputs
(member-level Parquet/CSV, rates CSV, FHIR MeasureReports).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from openvbc.domain.errors import InputIssue, InvalidInput, UserError
from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.backends import connect_duckdb, load_arrow_tables
from openvbc.engine.canonical import MEMBER_RESULT_COLUMN_NAMES
from openvbc.engine.measure_report import build_individual_report, build_summary_report
from openvbc.engine.measures.staging import stage_shared_inputs
from openvbc.engine.rates import compute_rates
from openvbc.engine.registry import MEASURE_EVALUATORS, find_evaluator
from openvbc.rules.loader import load_rule_file
from openvbc.services.measure_inputs import MEASURE_INPUT_TABLES, build_measure_inputs, read_bundles

QUALITY_MEASURES = ("CMS165", "CMS122", "GSD", "CMS138", "TOBACCO-FREE")
# Every measure the engine runs over the store (the quality measures plus PQA PDC).
STORE_MEASURES: tuple[str, ...] = tuple(MEASURE_EVALUATORS)


def load_measure_rule(measure_id: str, year: int) -> dict[str, Any]:
    """The rule file of a measure for a performance year (``measures/<ID>/<year>.yaml``)."""
    relative = f"measures/{measure_id.upper()}/{year}.yaml"
    try:
        rule = load_rule_file(relative)
    except (FileNotFoundError, LookupError) as error:
        raise UserError(f"no rule file {relative} for measure {measure_id} in {year}: {error}") from None
    rule["rule_file"] = relative
    return rule


def evaluate_measure(tables: Mapping[str, Any], rule: Mapping[str, Any], period: MeasurementPeriod) -> Any:
    """Member-level results (an Ibis table) of one measure over canonical tables on any backend."""
    return find_evaluator(str(rule["id"]))(tables, rule, period)


@dataclass
class EvaluateSummary:
    """What `measures evaluate` did."""

    patients: int
    reports_written: int
    output: Path
    counts: dict[str, dict[str, int]]
    issues: list[InputIssue] = field(default_factory=list)


def evaluate_fhir_bundles(
    measure_id: str,
    period: MeasurementPeriod,
    fhir_dir: Path,
    out_file: Path,
    *,
    engine: str = "duckdb",
) -> EvaluateSummary:
    """Individual MeasureReports (NDJSON, one per patient) for FHIR patient bundles in a folder."""
    if measure_id.upper() not in QUALITY_MEASURES:
        # PDC needs pharmacy fills, coverage and claims: it runs over the store (`measures run`).
        raise UserError(f"`measures evaluate` runs {', '.join(QUALITY_MEASURES)}, not {measure_id}")
    rule = load_measure_rule(measure_id, period.start.year)
    try:
        bundles = read_bundles(fhir_dir)
    except (FileNotFoundError, json.JSONDecodeError) as error:
        raise InvalidInput([InputIssue(str(fhir_dir), None, None, str(error))]) from None
    inputs = build_measure_inputs(bundles)
    rows = _run_in_memory(inputs.tables, rule, period, engine)
    by_member: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_member[int(row["member_id"])].append(row)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with out_file.open("w", encoding="utf-8") as handle:
        for member_id, patient_id in sorted(inputs.patient_ids.items()):
            report = build_individual_report(
                rule,
                by_member.get(member_id, []),
                subject=f"Patient/{patient_id}",
                period_start=period.start,
                period_end=period.end,
                report_id=f"{rule['id']}-{patient_id}",
            )
            issues = inputs.issues_by_member.get(member_id, 0)
            if issues:
                report.setdefault("extension", []).append(
                    {
                        "url": "https://openvbc.org/fhir/StructureDefinition/input-issues",
                        "valueInteger": issues,
                    }
                )
            handle.write(json.dumps(report) + "\n")
    summary = build_summary_report(rule, rows, period_start=period.start, period_end=period.end)
    counts = {
        g["id"]: {p["code"]["coding"][0]["code"]: p["count"] for p in g["population"]}
        for g in summary["group"]
    }
    return EvaluateSummary(len(inputs.patient_ids), len(inputs.patient_ids), out_file, counts, inputs.issues)


def _run_in_memory(
    tables: Mapping[str, pa.Table], rule: Mapping[str, Any], period: MeasurementPeriod, engine: str
) -> list[dict[str, Any]]:
    if engine == "spark":
        from openvbc.engine.backends import connect_spark

        con = connect_spark()
    elif engine == "duckdb":
        con = connect_duckdb()
    else:
        raise UserError(f"`measures evaluate` runs on duckdb or spark, not {engine!r}")
    loaded = load_arrow_tables(con, tables)
    return list(evaluate_measure(loaded, rule, period).to_pyarrow().to_pylist())


@dataclass
class RunSummary:
    year: int
    output: Path
    measures: dict[str, dict[str, dict[str, int]]]
    files: list[Path]


def run_measures_over_store(
    store_engine: Any,
    year: int,
    out_dir: Path,
    *,
    measure_ids: Sequence[str] = QUALITY_MEASURES,
    backend: str = "duckdb",
) -> RunSummary:
    """Run measures over the store; write results, rates and summary MeasureReports into ``out_dir``."""
    from openvbc.services.engine_inputs import ALL_POPULATION_TABLE_NAMES, open_engine_tables

    rules = [load_measure_rule(m, year) for m in measure_ids]
    # The quality measures read six clinical tables; PDC also reads fills, coverage and claims.
    quality_only = all(m.upper() in QUALITY_MEASURES for m in measure_ids)
    names = MEASURE_INPUT_TABLES if quality_only else ALL_POPULATION_TABLE_NAMES
    con, tables = open_engine_tables(store_engine, names, backend)
    # Intermediates several measures share (value-set rows, class fills, member periods) are
    # built once per run; a measure uses a staged table only if it matches its own rule.
    tables = stage_shared_inputs(con, tables, rules)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    measures: dict[str, dict[str, dict[str, int]]] = {}
    for rule in rules:
        period = MeasurementPeriod(rule["measurement_period"]["start"], rule["measurement_period"]["end"])
        expr = evaluate_measure(tables, rule, period)
        result = expr.to_pyarrow().select(list(MEMBER_RESULT_COLUMN_NAMES))
        files += write_member_results(result, out_dir / f"{rule['id']}-{year}-members")
        rates = compute_rates(expr, tables["member"], period.end).to_pyarrow()
        rates_path = out_dir / f"{rule['id']}-{year}-rates.csv"
        pa_csv.write_csv(rates, rates_path)
        summary = build_summary_report(
            rule, result.to_pylist(), period_start=period.start, period_end=period.end
        )
        report_path = out_dir / f"{rule['id']}-{year}-MeasureReport.json"
        report_path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
        files += [rates_path, report_path]
        measures[str(rule["id"])] = {
            g["id"]: {p["code"]["coding"][0]["code"]: p["count"] for p in g["population"]}
            for g in summary["group"]
        }
    return RunSummary(year, out_dir, measures, files)


def write_member_results(result: pa.Table, stem: Path) -> list[Path]:
    """Member-level results as Parquet (typed) and CSV (for people)."""
    parquet_path, csv_path = stem.with_suffix(".parquet"), stem.with_suffix(".csv")
    pq.write_table(result, parquet_path)
    pa_csv.write_csv(result, csv_path)
    return [parquet_path, csv_path]


def parse_period(start: str, end: str) -> MeasurementPeriod:
    """A measurement period from two ISO dates (a user error names the bad field)."""
    issues = []
    parsed: list[date] = []
    for name, value in (("--period-start", start), ("--period-end", end)):
        try:
            parsed.append(date.fromisoformat(value))
        except ValueError:
            issues.append(InputIssue("command line", None, name, f"not a YYYY-MM-DD date: {value!r}"))
    if issues:
        raise InvalidInput(issues)
    try:
        return MeasurementPeriod(parsed[0], parsed[1])
    except ValueError as error:
        raise InvalidInput([InputIssue("command line", None, "--period-end", str(error))]) from None


def known_measures(ids: Iterable[str]) -> list[str]:
    """Upper-cased measure ids, rejecting ones this service does not run."""
    out = []
    for measure_id in ids:
        upper = measure_id.upper()
        if upper not in STORE_MEASURES:
            raise UserError(f"unknown measure {measure_id!r}; known: {', '.join(STORE_MEASURES)}")
        out.append(upper)
    return out
