"""`openvbc demo`: synthetic plan -> store -> summary, on the embedded defaults."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from openvbc.cli.context import console, emit_json, state_of


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        ctx: typer.Context,
        members: int = typer.Option(20_000, min=100, help="Members in the synthetic plan."),
        seed: int = typer.Option(2025, help="Random seed (same seed, same plan)."),
        year: int = typer.Option(2025, help="Performance year of the synthetic plan."),
        out: Path = typer.Option(Path("demo-out"), help="Folder for the generated files and reports."),
    ) -> None:
        """Generate a synthetic plan, load it into the store and print a summary."""
        from openvbc.services.demo import run_demo

        state = state_of(ctx)
        settings = state.settings()
        with Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
            disable=state.json_output,
        ) as bar:
            tasks: dict[str, object] = {}

            def report(step: str, done: int, total: int) -> None:
                if step not in tasks:
                    tasks[step] = bar.add_task(step, total=max(total, 1))
                bar.update(tasks[step], completed=done, total=max(total, 1))  # type: ignore[arg-type]

            result = run_demo(
                settings,
                out_dir=out,
                members=members,
                seed=seed,
                year=year,
                today=date.today(),
                progress=report,
            )
        summary = result.summary
        if state.json_output:
            emit_json(
                {
                    "database_url": result.database_url,
                    "out_dir": str(result.out_dir),
                    "summary": summary.as_dict(),
                    "measures": result.measures.measures,
                    "program_year": {
                        "program": result.program_year.program_id,
                        "total_paid": str(result.program_year.total_paid),
                        "pharmacies": result.program_year.pharmacies,
                        "report": str(result.program_year.report),
                    },
                }
            )
            return
        table = Table(title=f"Synthetic plan, performance year {summary.year}")
        table.add_column("what")
        table.add_column("count / rate", justify="right")
        rows = [
            ("members", f"{summary.members:,}"),
            ("adults (18+)", f"{summary.adults:,}"),
            ("coverage spans", f"{summary.coverage_spans:,}"),
            ("pharmacies", f"{summary.pharmacies:,}"),
            ("practices", f"{summary.practices:,}"),
            ("clinicians", f"{summary.clinicians:,}"),
            ("pharmacy fills", f"{summary.fills:,}"),
            ("medical claims", f"{summary.claims:,}"),
            ("observations", f"{summary.observations:,}"),
            ("ADT events", f"{summary.adt_events:,}"),
            ("MTM encounters", f"{summary.mtm_encounters:,}"),
            ("hypertension (adults)", f"{summary.hypertension_rate:.1%}"),
            ("diabetes (adults)", f"{summary.diabetes_rate:.1%}"),
            ("tobacco use (adults screened)", f"{summary.tobacco_use_rate:.1%}"),
        ]
        for what, value in rows:
            table.add_row(what, value)
        console.print(table)
        measures = Table(title="Measures (whole plan)")
        for column in ("measure", "group", "denominator", "numerator", "rate"):
            measures.add_column(column, justify="left" if column in ("measure", "group") else "right")
        for measure_id, groups in result.measures.measures.items():
            for group_id, counts in groups.items():
                denominator = (
                    counts.get("denominator", 0)
                    - counts.get("denominator-exclusion", 0)
                    - counts.get("denominator-exception", 0)
                )
                numerator = counts.get("numerator", 0)
                rate = f"{numerator / denominator:.1%}" if denominator > 0 else "no data"
                measures.add_row(measure_id, group_id, f"{denominator:,}", f"{numerator:,}", rate)
        console.print(measures)
        program = result.program_year
        console.print(
            f"program {program.program_id} {program.year}: {program.pharmacies} pharmacies paid "
            f"${program.total_paid:,.2f} in total"
        )
        console.print(f"report: {program.report}")
        console.print(f"store: {result.database_url}   files: {result.out_dir}")
