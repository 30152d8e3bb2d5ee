"""`openvbc submission export --format fhir|csv --out FILE`: clinical data for the plan."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer

from openvbc.cli.commands_mtm import reporting_invalid_input
from openvbc.cli.context import console, emit_json, state_of
from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.services.clinical_submission import export_clinical_submission
from openvbc.services.store_admin import open_store


def register(app: typer.Typer) -> None:
    submission = typer.Typer(help="Clinical data submission to the health plan.", no_args_is_help=True)

    @submission.command("export")
    def export(
        ctx: typer.Context,
        fmt: str = typer.Option(
            "fhir", "--format", help="fhir (US Core Observation Bundle) or csv (observations.csv)."
        ),
        out: Path = typer.Option(..., "--out", help="File to write (never overwritten)."),
        pharmacy: str | None = typer.Option(None, "--pharmacy", help="Only this pharmacy's NPI."),
        since: str | None = typer.Option(None, "--since", help="Only readings on or after (YYYY-MM-DD)."),
    ) -> None:
        """Write BP, HbA1c and tobacco readings recorded by pharmacists (the plan runs `openvbc import`)."""
        state = state_of(ctx)
        with reporting_invalid_input(state):
            if fmt not in ("fhir", "csv"):
                raise InvalidInput([InputIssue("command line", None, "--format", "must be fhir or csv")])
            try:
                day = date.fromisoformat(since) if since else None
            except ValueError:
                raise InvalidInput([InputIssue("command line", None, "--since", "not YYYY-MM-DD")]) from None
            engine = open_store(state.settings())
            result = export_clinical_submission(
                engine,
                "csv" if fmt == "csv" else "fhir",
                out,
                now=datetime.now(),
                pharmacy_npi=pharmacy,
                since=day,
            )
        if state.json_output:
            emit_json({"ok": True, **result.as_dict()})
        else:
            console.print(
                f"{result.observations} observation(s) of {result.members} member(s) written to {out}"
            )

    app.add_typer(submission, name="submission")
