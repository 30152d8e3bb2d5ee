"""`openvbc careplan export|import|validate`: Pharmacist eCare Plans as FHIR PhCP or C-CDA."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from openvbc.cli.commands_mtm import reporting_invalid_input
from openvbc.cli.context import console, emit_json, state_of
from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.services.careplan import export_member_careplan, import_careplan_file, read_careplan_file
from openvbc.services.store_admin import open_store

FORMATS = ("fhir", "cda")


def register(app: typer.Typer) -> None:
    careplan = typer.Typer(
        help="Pharmacist eCare Plans (FHIR PhCP Bundle or C-CDA document).", no_args_is_help=True
    )

    @careplan.command("export")
    def export(
        ctx: typer.Context,
        member: str = typer.Option(..., "--member", help="Member id (member_key)."),
        fmt: str = typer.Option("fhir", "--format", help="fhir (PhCP document Bundle) or cda (C-CDA)."),
        out: Path = typer.Option(..., "--out", help="File to write (never overwritten)."),
    ) -> None:
        """Build the member's care plan from their latest MTM encounter, check it and write it."""
        state = state_of(ctx)
        with reporting_invalid_input(state):
            if fmt not in FORMATS:
                raise InvalidInput([InputIssue("command line", None, "--format", "must be fhir or cda")])
            engine = open_store(state.settings())
            result = export_member_careplan(
                engine, member, "cda" if fmt == "cda" else "fhir", out, now=datetime.now()
            )
        if state.json_output:
            emit_json({"ok": True, **result.as_dict()})
        else:
            console.print(
                f"care plan {result.care_plan_key} for {result.member_key} written to {out} ({fmt}): "
                f"{result.problems} problem(s) ({result.uncoded_problems} uncoded), {result.goals} goal(s), "
                f"{result.interventions} intervention(s), {result.medications} medication(s), "
                f"{result.dispenses} dispense(s)"
            )

    @careplan.command("import")
    def import_(
        ctx: typer.Context,
        file: Path = typer.Argument(..., help="C-CDA care plan (.xml) or PhCP Bundle (.json)."),
    ) -> None:
        """Check a care plan strictly and store it for its member (exit 2 with every problem)."""
        state = state_of(ctx)
        with reporting_invalid_input(state):
            engine = open_store(state.settings())
            result = import_careplan_file(engine, file, now=datetime.now())
        if state.json_output:
            emit_json({"ok": True, **result.as_dict()})
        else:
            console.print(
                f"stored care plan {result.care_plan_key} for {result.member_key} ({result.format})"
            )

    @careplan.command("validate")
    def validate(
        ctx: typer.Context, file: Path = typer.Argument(..., help="C-CDA (.xml) or PhCP (.json).")
    ) -> None:
        """Check a care plan file without a store: schema/profile, required templates, references."""
        state = state_of(ctx)
        with reporting_invalid_input(state):
            plan, origin = read_careplan_file(file)
        if state.json_output:
            emit_json({"ok": True, "file": str(file), "format": origin, "care_plan_key": plan.id})
        else:
            console.print(f"{file}: valid {origin} care plan {plan.id}")

    app.add_typer(careplan, name="careplan")
