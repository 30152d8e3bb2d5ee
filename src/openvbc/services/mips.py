"""MIPS submissions for a TIN (group) or TIN/NPI (individual) and a performance year.

Counts come from the same member-level results the rest of the platform reads: the eCQMs through
``engine.registry`` (236 = CMS165, 001 = CMS122, 226 = CMS138 with three strata), the PQA opioid
measures through ``engine.opioids`` and the spine PROM outcome through ``services.spine``. A member
counts for the TIN/NPI when one of the clinician's qualifying visits in the period is theirs
(``engine.registry_months.attributed_members``). Counts are reconciled before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine

from openvbc.domain.errors import InputIssue, InvalidInput, UserError
from openvbc.domain.npi import is_valid_npi
from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.canonical import MEMBER_RESULT_COLUMN_NAMES
from openvbc.engine.opioids import evaluate_opioid_measures
from openvbc.engine.registry import find_evaluator
from openvbc.engine.registry_months import attributed_members
from openvbc.interop.qpp.counts import (
    MeasureCounts,
    Populations,
    ReconciliationError,
    SubmissionHeader,
    find_count_problems,
    to_stratum,
)
from openvbc.interop.qpp.qrda3 import build_qrda3
from openvbc.interop.qpp.submission_json import build_submission_json, find_shape_problems
from openvbc.rules.loader import load_measure_rule
from openvbc.rules.registry.schema import (
    MipsMeasure,
    load_drug_products,
    load_mips_map,
    load_opioid_measures,
)
from openvbc.services.measure_inputs import MEASURE_INPUT_TABLES

ExportFormat = Literal["qpp-json", "qrda3"]
MIPS_INPUT_TABLES = tuple(
    dict.fromkeys((*MEASURE_INPUT_TABLES, "provider", "fill", "claim_diagnosis", "medical_claim"))
)


@dataclass(frozen=True)
class MipsCounts:
    header: SubmissionHeader
    measures: list[MeasureCounts]


def make_header(store_tin: str, npi: str | None, year: int, period: MeasurementPeriod) -> SubmissionHeader:
    issues = []
    if not (len(store_tin) == 9 and store_tin.isdigit()):
        issues.append(InputIssue("command line", None, "--tin", f"a TIN is nine digits, got {store_tin!r}"))
    if npi is not None and not is_valid_npi(npi):
        issues.append(InputIssue("command line", None, "--npi", f"not a valid NPI (Luhn check): {npi!r}"))
    if issues:
        raise InvalidInput(issues)
    return SubmissionHeader(
        entity_type="individual" if npi else "group",
        tin=store_tin,
        npi=npi,
        performance_year=year,
        performance_start=period.start,
        performance_end=period.end,
    )


def count_populations(rows: Iterable[Mapping[str, Any]], group_id: str) -> Populations:
    """eCQM population counts of one group from member-level result rows."""
    mine = [r for r in rows if str(r["group_id"]) == group_id]
    return Populations(
        initial_population=sum(bool(r["initial_population"]) for r in mine),
        denominator=sum(bool(r["denominator"]) for r in mine),
        denominator_exclusion=sum(bool(r["denominator_exclusion"]) for r in mine),
        denominator_exception=sum(bool(r["denominator_exception"]) for r in mine),
        numerator=sum(bool(r["numerator"]) for r in mine),
    )


def _measure_counts(measure: MipsMeasure, rows: list[dict[str, Any]]) -> MeasureCounts:
    strata = []
    for stratum in measure.strata:
        ids = (
            stratum.qrda_population_ids.model_dump(exclude_none=True) if stratum.qrda_population_ids else None
        )
        strata.append(
            to_stratum(
                stratum.stratum, count_populations(rows, stratum.group_id), measure.submission_method, ids
            )
        )
    return MeasureCounts(
        quality_id=measure.quality_id,
        title=measure.title,
        submission_method=measure.submission_method,
        metric_type=measure.metric_type,
        inverse=measure.inverse,
        strata=tuple(strata),
        qrda_version_specific_id=measure.qrda_version_specific_id,
    )


def compute_mips_counts(
    store: Engine,
    tin: str,
    year: int,
    *,
    npi: str | None = None,
    backend: str = "duckdb",
    include_registry_measures: bool = True,
) -> MipsCounts:
    """Population counts of every measure in ``registry/mips/<year>.yaml`` for the TIN or TIN/NPI."""
    from openvbc.services.engine_inputs import open_engine_tables

    mips_map = load_mips_map(year)
    period = MeasurementPeriod(mips_map.performance_period.start, mips_map.performance_period.end)
    header = make_header(tin, npi, year, period)
    _con, tables = open_engine_tables(store, MIPS_INPUT_TABLES, backend)
    measures: list[MeasureCounts] = []
    for measure in mips_map.measures:
        if measure.source != "engine" and not include_registry_measures:
            continue
        rows = _member_rows(store, tables, measure, year, period, tin, npi, backend)
        measures.append(_measure_counts(measure, rows))
    return MipsCounts(header, measures)


def _member_rows(
    store: Engine,
    tables: Mapping[str, Any],
    measure: MipsMeasure,
    year: int,
    period: MeasurementPeriod,
    tin: str,
    npi: str | None,
    backend: str,
) -> list[dict[str, Any]]:
    """Member-level result rows of one measure, kept to the members attributed to the TIN/NPI."""
    if measure.source == "engine":
        rule = load_measure_rule(measure.engine_measure, year)
        expr = find_evaluator(measure.engine_measure)(tables, rule, period)
        who = attributed_members(tables, rule, period, tin, npi)
    elif measure.source == "opioids":
        opioid_rule = load_opioid_measures(year)
        expr = evaluate_opioid_measures(
            tables, opioid_rule, load_drug_products(), period, rule_file=f"registry/opioids/pqa_{year}.yaml"
        )
        expr = expr.filter(expr.measure_id == measure.engine_measure)
        who = attributed_members(tables, None, period, tin, npi)
    else:
        from openvbc.services.spine import evaluate_episodes, mcid_member_results

        members = {
            int(r["member_id"])
            for r in attributed_members(tables, None, period, tin, npi).to_pyarrow().to_pylist()
        }
        results = mcid_member_results(evaluate_episodes(store), "ODI", period)
        group_id = measure.strata[0].group_id
        return [
            {**r, "group_id": group_id, "initial_population": True}
            for r in results
            if r["member_id"] in members
        ]
    kept = expr.semi_join(who, expr.member_id == who.member_id)
    rows: list[dict[str, Any]] = kept.select(list(MEMBER_RESULT_COLUMN_NAMES)).to_pyarrow().to_pylist()
    return rows


@dataclass(frozen=True)
class ExportSummary:
    output: Path
    format: ExportFormat
    header: SubmissionHeader
    measures: list[MeasureCounts]


def export_mips(
    store: Engine,
    tin: str,
    year: int,
    export_format: ExportFormat,
    out: Path,
    *,
    npi: str | None = None,
    backend: str = "duckdb",
    include_registry_measures: bool = True,
    now: datetime | None = None,
) -> ExportSummary:
    """Compute, reconcile and write a QPP JSON submission or a QRDA III document."""
    if export_format not in ("qpp-json", "qrda3"):
        raise InvalidInput(
            [InputIssue("command line", None, "--format", f"qpp-json or qrda3, not {export_format!r}")]
        )
    counts = compute_mips_counts(
        store, tin, year, npi=npi, backend=backend, include_registry_measures=include_registry_measures
    )
    problems = [p for m in counts.measures for p in find_count_problems(m)]
    if problems:
        raise InvalidInput([InputIssue("mips export", None, "counts", p) for p in problems])
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        if export_format == "qpp-json":
            document = build_submission_json(counts.header, counts.measures)
            shape = find_shape_problems(document)
            if shape:
                raise UserError("the submission does not have the documented shape: " + "; ".join(shape))
            out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        else:
            stamp = (now or datetime.now(UTC)).replace(tzinfo=None)
            qrda_measures = [m for m in counts.measures if m.submission_method == "electronicHealthRecord"]
            out.write_bytes(build_qrda3(counts.header, qrda_measures, now=stamp))
    except ReconciliationError as error:
        raise InvalidInput([InputIssue("mips export", None, "counts", p) for p in error.problems]) from None
    return ExportSummary(out, export_format, counts.header, counts.measures)
