"""`openvbc registry build|member`: month-by-month results, trends per provider, cohorts."""

from __future__ import annotations

from pathlib import Path

import typer

from openvbc.cli.context import console, emit_json, state_of


def register(app: typer.Typer) -> None:
    """Register the commands of this noun."""
    registry = typer.Typer(
        help="Longitudinal registry: monthly outcomes per member and measure.", no_args_is_help=True
    )
    app.add_typer(registry, name="registry")

    @registry.command("build")
    def build(
        ctx: typer.Context,
        year: int = typer.Option(..., "--year", help="Year whose months are reported."),
        measure: list[str] = typer.Option(
            ["CMS165", "CMS122", "CMS138"], "--measure", help="Measure id (repeatable)."
        ),
        window: str = typer.Option("rolling12", "--window", help="rolling12 or calendar."),
        engine: str = typer.Option("duckdb", "--engine", help="duckdb, postgres (in place) or spark."),
        out: Path = typer.Option(..., "--out", help="Folder for member-months, changes, trends and cohorts."),
    ) -> None:
        """Re-run each measure over every month's period and write the registry files."""
        from openvbc.services.registry import write_registry
        from openvbc.store.database import open_engine

        store = open_engine(state_of(ctx).settings().database_url)
        built = write_registry(store, year, out, measure_ids=measure, window=window, backend=engine)
        if state_of(ctx).json_output:
            emit_json(
                {
                    "ok": True,
                    "member_months": built.member_months,
                    "changes": built.changes,
                    "files": [str(f) for f in built.files],
                }
            )
            return
        console.print(
            f"{built.member_months} member-month(s), {built.changes} status change(s) for {year} ({window})"
        )
        for path in built.files:
            console.print(f"  {path}")

    @registry.command("member")
    def member(
        ctx: typer.Context,
        member_key: str = typer.Option(..., "--member", help="The plan's member id."),
        year: int = typer.Option(..., "--year"),
        window: str = typer.Option("rolling12", "--window", help="rolling12 or calendar."),
    ) -> None:
        """One member's month-by-month outcome per measure."""
        from openvbc.services.registry import read_member_timeline
        from openvbc.store.database import open_engine

        store = open_engine(state_of(ctx).settings().database_url)
        rows = read_member_timeline(store, member_key, year, window=window)
        if state_of(ctx).json_output:
            emit_json({"ok": True, "member": member_key, "months": rows})
            return
        for row in rows:
            status = {True: "controlled", False: "not controlled", None: "not scored"}[row["good_outcome"]]
            evidence = row["evidence_value"] or "-"
            console.print(f"{row['measure_id']} {row['group_id'][:8]} {row['month']}: {status} ({evidence})")
