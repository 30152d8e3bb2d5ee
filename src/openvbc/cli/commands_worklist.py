"""`openvbc worklist build|record`: outreach worklists per pharmacy and recorded attempts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from openvbc.cli.context import console, emit_json, state_of
from openvbc.domain.errors import InputIssue, InvalidInput


def _parse_day(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            [InputIssue("command line", None, "--today", f"not a YYYY-MM-DD date: {value!r}")]
        ) from None


def register(app: typer.Typer) -> None:
    """Register the commands of this noun."""
    worklist = typer.Typer(help="Outreach worklists per pharmacy.", no_args_is_help=True)
    app.add_typer(worklist, name="worklist")

    @worklist.command("build")
    def build(
        ctx: typer.Context,
        program: str = typer.Option(..., "--program"),
        year: int = typer.Option(..., "--year"),
        out: Path = typer.Option(Path("worklists"), "--out"),
        today: str | None = typer.Option(None, "--today", help="YYYY-MM-DD (default: today)."),
        engine: str = typer.Option("duckdb", "--engine"),
    ) -> None:
        """Members per pharmacy, ordered by what an outreach is worth (gaps, benchmark movers, contact)."""
        from openvbc.services.program_year import build_worklists
        from openvbc.services.store_admin import open_store

        store = open_store(state_of(ctx).settings())
        result = build_worklists(store, program, year, out, _parse_day(today), backend=engine)
        if state_of(ctx).json_output:
            emit_json(
                {
                    "ok": True,
                    "rows": result.rows,
                    "pharmacies": result.pharmacies,
                    "files": [str(f) for f in result.files],
                }
            )
            return
        console.print(
            f"{result.rows} member(s) on the worklists of {result.pharmacies} pharmacies; files in {out}"
        )

    @worklist.command("record")
    def record(
        ctx: typer.Context,
        csv_file: Path = typer.Argument(
            ...,
            help="CSV: attempt_key, member_key, pharmacy_npi, attempted_at, "
            "channel, outcome[, gap, note, recorded_by, program_id]",
        ),
    ) -> None:
        """Record outreach attempts and outcomes (an attempt_key already recorded is skipped)."""
        from openvbc.services.store_admin import open_store
        from openvbc.services.worklists import parse_outreach_csv, read_member_keys, record_outreach

        store = open_store(state_of(ctx).settings())
        keys = {key: member_id for member_id, key in read_member_keys(store).items()}
        rows = parse_outreach_csv(csv_file, keys)
        added = record_outreach(store, rows)
        if state_of(ctx).json_output:
            emit_json({"ok": True, "rows": len(rows), "added": added})
            return
        console.print(f"{added} new attempt(s) recorded ({len(rows) - added} already known)")
