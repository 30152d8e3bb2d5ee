"""`openvbc attribution run`: members to pharmacies and practices for a program year."""

from __future__ import annotations

from pathlib import Path

import typer

from openvbc.cli.context import console, emit_json, state_of


def register(app: typer.Typer) -> None:
    """Register the commands of this noun."""
    attribution = typer.Typer(help="Attribute members to pharmacies and practices.", no_args_is_help=True)
    app.add_typer(attribution, name="attribution")

    @attribution.command("run")
    def run(
        ctx: typer.Context,
        program: str = typer.Option(..., "--program", help="Program id (rules/programs/<id>/<year>.yaml)."),
        year: int = typer.Option(..., "--year", help="Program year."),
        out: Path = typer.Option(
            Path("attribution"), "--out", help="Folder for CSV, ATR Group JSON, summary."
        ),
        engine: str = typer.Option("duckdb", "--engine", help="duckdb, postgres (in place) or spark."),
        monthly: bool = typer.Option(True, "--monthly/--no-monthly", help="Monthly snapshots."),
        save: bool = typer.Option(True, "--save/--no-save", help="Save snapshots in the store."),
    ) -> None:
        """Attribute by every method side by side; write CSV and a Da Vinci ATR-style FHIR Group."""
        from openvbc.services.attribution import run_attribution
        from openvbc.services.store_admin import open_store

        store = open_store(state_of(ctx).settings())
        result = run_attribution(store, program, year, out, backend=engine, save=save, monthly=monthly)
        if state_of(ctx).json_output:
            emit_json(
                {
                    "ok": True,
                    "counts": result.counts,
                    "agreement": result.agreement,
                    "snapshot_rows": result.snapshot_rows,
                    "files": [str(f) for f in result.files],
                }
            )
            return
        for method, counts in result.counts.items():
            console.print(f"{method}: {counts['attributed']} attributed, {counts['not_attributed']} not")
        console.print("plurality vs PQA: " + ", ".join(f"{k} {v}" for k, v in result.agreement.items()))
        console.print(f"{len(result.files)} file(s) written to {out}")
