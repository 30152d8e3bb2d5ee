"""`openvbc measures run|evaluate`: quality measures over the store or over FHIR bundles."""

from __future__ import annotations

from pathlib import Path

import typer

from openvbc.cli.context import console, emit_json, state_of
from openvbc.services.measures import (
    QUALITY_MEASURES,
    evaluate_fhir_bundles,
    known_measures,
    parse_period,
    run_measures_over_store,
)


def register(app: typer.Typer) -> None:
    """Register the commands of this noun."""
    measures = typer.Typer(
        help="Quality measures (CMS165, CMS122, GSD, CMS138, tobacco-free).", no_args_is_help=True
    )
    app.add_typer(measures, name="measures")

    @measures.command("evaluate")
    def evaluate(
        ctx: typer.Context,
        measure: str = typer.Option(..., "--measure", help="CMS165, CMS122, GSD, CMS138 or TOBACCO-FREE."),
        period_start: str = typer.Option(..., "--period-start", help="YYYY-MM-DD"),
        period_end: str = typer.Option(..., "--period-end", help="YYYY-MM-DD"),
        fhir: Path = typer.Option(..., "--fhir", help="Folder of FHIR R4 patient Bundles (*.json)."),
        out: Path = typer.Option(..., "--out", help="NDJSON file for the individual MeasureReports."),
        engine: str = typer.Option("duckdb", "--engine", help="duckdb or spark."),
    ) -> None:
        """One individual MeasureReport per patient bundle (any MeasureReport inside is ignored)."""
        measure_id = known_measures([measure])[0]
        period = parse_period(period_start, period_end)
        summary = evaluate_fhir_bundles(measure_id, period, fhir, out, engine=engine)
        if state_of(ctx).json_output:
            emit_json(
                {
                    "ok": True,
                    "patients": summary.patients,
                    "output": str(summary.output),
                    "counts": summary.counts,
                    "input_issues": [i.as_dict() for i in summary.issues],
                }
            )
            return
        console.print(
            f"{summary.reports_written} MeasureReport(s) for {measure_id} written to {summary.output}"
        )
        for group_id, counts in summary.counts.items():
            console.print(f"  group {group_id}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if summary.issues:
            console.print(f"  {len(summary.issues)} input problem(s) kept out of the numerator:")
            for issue in summary.issues[:20]:
                console.print(f"    {issue.render()}", highlight=False, markup=False)

    @measures.command("run")
    def run(
        ctx: typer.Context,
        year: int = typer.Option(..., "--year", help="Performance year (selects the rule files)."),
        measure: list[str] = typer.Option(
            list(QUALITY_MEASURES), "--measure", help="Measure id (repeatable)."
        ),
        engine: str = typer.Option("duckdb", "--engine", help="duckdb, postgres (in place) or spark."),
        out: Path = typer.Option(..., "--out", help="Folder for results, rates and MeasureReports."),
    ) -> None:
        """Run measures over the store: member-level results, rates and summary MeasureReports."""
        from openvbc.store.database import open_engine

        measure_ids = known_measures(measure)
        store = open_engine(state_of(ctx).settings().database_url)
        summary = run_measures_over_store(store, year, out, measure_ids=measure_ids, backend=engine)
        if state_of(ctx).json_output:
            emit_json(
                {
                    "ok": True,
                    "year": year,
                    "measures": summary.measures,
                    "files": [str(f) for f in summary.files],
                }
            )
            return
        for measure_id, groups in summary.measures.items():
            for group_id, counts in groups.items():
                console.print(f"{measure_id} {group_id}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        console.print(f"{len(summary.files)} file(s) written to {summary.output}")
