"""`openvbc synth`: generate a synthetic plan data package (CSV or Parquet plus HL7 ADT files)."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from openvbc.cli.context import console, emit_json, state_of
from openvbc.synth.generator import generate_plan


def register(app: typer.Typer) -> None:
    """Register the commands of this noun."""

    @app.command("synth")
    def synth(
        ctx: typer.Context,
        members: int = typer.Option(..., "--members", help="Number of members (100 to 10,000,000)."),
        seed: int = typer.Option(..., "--seed", help="Random seed; the same seed gives identical files."),
        year: int = typer.Option(..., "--year", help="Measurement year (YYYY)."),
        out: Path = typer.Option(..., "--out", help="Output folder (created if missing)."),
        fmt: str = typer.Option("csv", "--format", help="csv or parquet."),
        chunk_size: int = typer.Option(
            50_000, "--chunk-size", help="Members generated per chunk (memory bound)."
        ),
        json_output: bool = typer.Option(False, "--json", help="Machine-readable JSON output."),
    ) -> None:
        """Generate a deterministic synthetic health plan (members, fills, claims, clinical data, ADT)."""
        as_json = json_output or state_of(ctx).json_output
        started = time.perf_counter()
        if as_json:
            manifest = generate_plan(out, members, seed, year, fmt=fmt.lower(), chunk_size=chunk_size)
        else:
            columns = (TextColumn("members"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=console, transient=True) as bar:
                task = bar.add_task("synth", total=members)
                manifest = generate_plan(
                    out,
                    members,
                    seed,
                    year,
                    fmt=fmt.lower(),
                    chunk_size=chunk_size,
                    progress=lambda done, _total: bar.update(task, completed=done),
                )
        elapsed = time.perf_counter() - started
        if as_json:
            emit_json({"ok": True, "out": str(out), "seconds": round(elapsed, 2), **manifest.as_dict()})
            return
        table = Table(title=f"Synthetic plan {year} (seed {seed}) in {out}")
        table.add_column("file")
        table.add_column("rows", justify="right")
        for name, rows in manifest.files.items():
            table.add_row(name, f"{rows:,}")
        table.add_row(f"adt/*.hl7 ({manifest.hl7_files} files)", f"{manifest.hl7_messages:,} messages")
        console.print(table)
        console.print(
            f"{len(manifest.edge_cases)} planted edge cases listed in manifest.json; {elapsed:.1f} s"
        )
