"""`openvbc medsync plan --member ID`: synchronise a member's chronic refills."""

from __future__ import annotations

from datetime import date

import typer
from rich.table import Table

from openvbc.cli.commands_mtm import reporting_invalid_input
from openvbc.cli.context import console, emit_json, state_of
from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.services.medsync import plan_member_medsync
from openvbc.services.store_admin import open_store


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            [InputIssue("command line", None, option, f"{text!r} is not YYYY-MM-DD")]
        ) from None


def register(app: typer.Typer) -> None:
    medsync = typer.Typer(help="Medication synchronisation.", no_args_is_help=True)

    @medsync.command("plan")
    def plan(
        ctx: typer.Context,
        member: str = typer.Option(..., "--member", help="Member id (member_key)."),
        anchor: str | None = typer.Option(None, "--anchor", help="Anchor medication (ingredient name)."),
        anchor_date: str | None = typer.Option(None, "--anchor-date", help="Sync date (YYYY-MM-DD)."),
        today: str | None = typer.Option(None, "--today", help="Date that counts as today (YYYY-MM-DD)."),
    ) -> None:
        """Propose a sync date, short fills and prorated copays, and show the PDC effect."""
        state = state_of(ctx)
        with reporting_invalid_input(state):
            engine = open_store(state.settings())
            report = plan_member_medsync(
                engine,
                member,
                today=_day(today, "--today") or date.today(),
                anchor=anchor,
                anchor_date=_day(anchor_date, "--anchor-date"),
            )
        if state.json_output:
            emit_json(report.as_dict())
            return
        console.print(
            f"sync date {report.plan.anchor_date} (anchor: {report.plan.anchor_key or 'chosen date'})"
        )
        table = Table("medication", "runs out", "fill on", "short days", "quantity", "copay", "note")
        for line in report.plan.lines:
            table.add_row(
                line.name,
                str(line.run_out),
                str(line.fill_on),
                str(line.short_days),
                str(line.short_quantity),
                str(line.prorated_copay),
                line.note,
            )
        console.print(table)
        for item in report.pdc:
            console.print(
                f"{item['measure']}: PDC to date {item['pdc_to_date']}, year end with no more fills "
                f"{item['pdc_year_end_no_more_fills']}, with the sync plan {item['pdc_year_end_with_sync']} "
                f"(threshold {item['threshold']})"
            )

    app.add_typer(medsync, name="medsync")
