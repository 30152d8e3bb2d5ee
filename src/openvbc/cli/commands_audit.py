"""`openvbc audit verify|report`: check the hash chain; report a time range."""

from __future__ import annotations

import csv
import sys
from datetime import datetime

import typer

from openvbc.cli.context import console, emit_json, state_of
from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.services.audit import REPORT_SORT_KEYS, read_audit_report, verify_audit_chain
from openvbc.services.store_admin import open_store


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            [InputIssue("command line", None, option, f"not an ISO date or date-time: {value!r}")]
        ) from None


def register(app: typer.Typer) -> None:
    audit = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)

    @audit.command("verify")
    def verify(ctx: typer.Context) -> None:
        """Recompute the chain; exit 1 naming the first altered, deleted or reordered record."""
        state = state_of(ctx)
        engine = open_store(state.settings(), upgrade=False)
        with engine.connect() as connection:
            report = verify_audit_chain(connection)
        if state.json_output:
            emit_json(report.as_dict())
        elif report.ok:
            console.print(f"audit chain intact: {report.records} records")
        else:
            console.print(
                f"[bold red]audit chain broken[/] at record {report.first_bad_id}: {report.problem}"
            )
        if not report.ok:
            raise typer.Exit(1)

    @audit.command("report")
    def report(
        ctx: typer.Context,
        start: str | None = typer.Option(None, "--from", help="First moment (ISO date or date-time, UTC)."),
        end: str | None = typer.Option(None, "--to", help="End, exclusive."),
        sort: str = typer.Option("recorded_at", help=f"Sort key: {', '.join(REPORT_SORT_KEYS)}."),
        descending: bool = typer.Option(False, help="Newest / largest first."),
    ) -> None:
        """Audit records of a period as CSV on standard output (or JSON with --json)."""
        state = state_of(ctx)
        engine = open_store(state.settings(), upgrade=False)
        with engine.connect() as connection:
            rows = read_audit_report(
                connection,
                start=_moment(start, "--from"),
                end=_moment(end, "--to"),
                sort_by=sort,
                descending=descending,
            )
        if state.json_output:
            emit_json(rows)
            return
        writer = csv.DictWriter(sys.stdout, fieldnames=list(REPORT_SORT_KEYS))
        writer.writeheader()
        writer.writerows(rows)

    app.add_typer(audit, name="audit")
