"""`openvbc mips export`: a MIPS quality submission (QPP JSON or QRDA III) for a TIN or TIN/NPI."""

from __future__ import annotations

from pathlib import Path

import typer

from openvbc.cli.context import console, emit_json, state_of


def register(app: typer.Typer) -> None:
    """Register the commands of this noun."""
    mips = typer.Typer(help="MIPS quality submissions (QPP JSON, QRDA III).", no_args_is_help=True)
    app.add_typer(mips, name="mips")

    @mips.command("export")
    def export(
        ctx: typer.Context,
        tin: str = typer.Option(..., "--tin", help="Taxpayer identification number (nine digits)."),
        npi: str | None = typer.Option(None, "--npi", help="Clinician NPI for an individual submission."),
        year: int = typer.Option(
            ..., "--year", help="Performance year (selects rules/registry/mips/<year>.yaml)."
        ),
        export_format: str = typer.Option(..., "--format", help="qpp-json or qrda3."),
        out: Path = typer.Option(..., "--out", help="File to write."),
        engine: str = typer.Option("duckdb", "--engine", help="duckdb, postgres (in place) or spark."),
        registry_measures: bool = typer.Option(
            True, "--registry-measures/--no-registry-measures", help="Include the registry's own measures."
        ),
    ) -> None:
        """Compute counts from the measure engine, reconcile them and write the submission."""
        from openvbc.services.mips import export_mips
        from openvbc.store.database import open_engine

        store = open_engine(state_of(ctx).settings().database_url)
        summary = export_mips(
            store,
            tin,
            year,
            export_format,  # type: ignore[arg-type]  # checked inside, with a named error
            out,
            npi=npi,
            backend=engine,
            include_registry_measures=registry_measures,
        )
        rows = [
            {
                "measure": m.quality_id,
                "stratum": s.stratum,
                "performanceMet": s.performance_met,
                "performanceNotMet": s.performance_not_met,
                "eligiblePopulation": s.eligible_population,
                "exclusion": s.eligible_population_exclusion,
                "exception": s.eligible_population_exception,
            }
            for m in summary.measures
            for s in m.strata
        ]
        if state_of(ctx).json_output:
            emit_json({"ok": True, "output": str(summary.output), "format": summary.format, "measures": rows})
            return
        who = f"TIN {tin}" + (f" / NPI {npi}" if npi else "")
        console.print(f"{summary.format} for {who}, {year} written to {summary.output}")
        for row in rows:
            console.print(
                f"  {row['measure']} {row['stratum']}: met {row['performanceMet']}, not met "
                f"{row['performanceNotMet']}, eligible {row['eligiblePopulation']}, exclusions "
                f"{row['exclusion']}, exceptions {row['exception']}"
            )
