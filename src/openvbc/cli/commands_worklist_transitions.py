"""`openvbc transitions worklist --date D [--practice NPI | --pharmacy NPI]`: yesterday's ED visits
and discharges for each attributed practice and pharmacy, with flags and TCM deadlines."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from openvbc.cli.cli_dates import parse_day
from openvbc.cli.context import console, emit_json, state_of
from openvbc.services.store_admin import open_store
from openvbc.services.transitions import build_transitions_worklist, list_transitions_worklist


def register(app: typer.Typer) -> None:
    transitions = typer.Typer(
        help="Transitions of care: daily ED and discharge worklists.", no_args_is_help=True
    )

    @transitions.command("worklist")
    def worklist(
        ctx: typer.Context,
        day: str = typer.Option(..., "--date", help="Worklist date (YYYY-MM-DD); lists the day before."),
        practice: str | None = typer.Option(None, "--practice", help="Only this practice NPI."),
        pharmacy: str | None = typer.Option(None, "--pharmacy", help="Only this pharmacy NPI."),
    ) -> None:
        """Build (idempotently) and show the worklist of one date."""
        state = state_of(ctx)
        worklist_date = parse_day(day, "--date")
        engine = open_store(state.settings())
        build = build_transitions_worklist(engine, worklist_date, now=datetime.now())
        items = list_transitions_worklist(engine, worklist_date, practice_npi=practice, pharmacy_npi=pharmacy)
        if state.json_output:
            emit_json({"build": build.as_dict(), "items": items})
            return
        table = Table(title=f"Transitions worklist {worklist_date} ({build.events} event(s))")
        for column in ("for", "member", "event", "flags", "task", "due", "TCM"):
            table.add_column(column)
        for item in items:
            flags = [name for name in ("high_utilizer", "readmission_30d") if item[name]]
            tcm = item["tcm_code"] or item["tcm_status"] or (item["note"] or "")
            table.add_row(
                f"{item['audience_kind']} {item['audience_npi']}",
                item["member_key"],
                f"{item['event_kind']} {item['setting']} {item['event_at']:%Y-%m-%d %H:%M}",
                ", ".join(flags) + f" (ED 60d: {item['ed_visits_60d']})",
                f"{item['task']} [{item['status']}]",
                str(item["due_date"] or ""),
                tcm,
            )
        console.print(table)
        for who in build.unattributed:
            console.print(f"not attributed to any practice or pharmacy: {who}")

    app.add_typer(transitions, name="transitions")
