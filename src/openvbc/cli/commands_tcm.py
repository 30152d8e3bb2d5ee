"""`openvbc tcm contact|visit|medrec|status|bill`: work a transitional care management case."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer

from openvbc.cli.cli_dates import parse_day, parse_moment
from openvbc.cli.context import console, emit_json, state_of
from openvbc.services.claims import ClaimsProfile, generate_tcm_claims
from openvbc.services.store_admin import open_store
from openvbc.services.tcm_cases import (
    read_tcm_status,
    record_medication_reconciliation,
    record_tcm_contact,
    record_tcm_visit,
)


def register(app: typer.Typer) -> None:
    tcm = typer.Typer(help="Transitional care management (99495 / 99496) cases.", no_args_is_help=True)

    @tcm.command("contact")
    def contact(
        ctx: typer.Context,
        case: int = typer.Option(..., "--case", help="TCM case id (from the worklist)."),
        at: str = typer.Option(..., "--at", help="When the interactive contact happened (YYYY-MM-DDTHH:MM)."),
        by: str = typer.Option(..., "--by", help="Who made it (staff id)."),
        method: str = typer.Option("phone", "--method", help="phone | video | in_person | portal."),
        minutes: int | None = typer.Option(None, "--minutes", help="Log its time as TCM time (never CCM)."),
    ) -> None:
        """Record the interactive contact (due within 2 business days of discharge)."""
        engine = open_store(state_of(ctx).settings())
        result = record_tcm_contact(
            engine,
            case,
            contact_at=parse_moment(at, "--at"),
            by=by,
            method=method,
            now=datetime.now(),
            minutes=minutes,
        )
        _show(ctx, result)

    @tcm.command("visit")
    def visit(
        ctx: typer.Context,
        case: int = typer.Option(..., "--case", help="TCM case id."),
        on: str = typer.Option(..., "--date", help="Face-to-face visit date (YYYY-MM-DD)."),
        mdm: str = typer.Option(
            ..., "--mdm", help="Medical decision making: straightforward | low | moderate | high."
        ),
        npi: str = typer.Option(..., "--npi", help="NPI of the practitioner who saw the patient."),
        medrec: str | None = typer.Option(
            None, "--med-reconciled-on", help="Medication reconciliation date."
        ),
    ) -> None:
        """Record the face-to-face visit; the case is then coded 99496 / 99495 or gets its reasons."""
        engine = open_store(state_of(ctx).settings())
        result = record_tcm_visit(
            engine,
            case,
            visit_date=parse_day(on, "--date"),
            mdm=mdm,
            practitioner_npi=npi,
            now=datetime.now(),
            medication_reconciled_on=parse_day(medrec, "--med-reconciled-on") if medrec else None,
        )
        _show(ctx, result)

    @tcm.command("medrec")
    def medrec(
        ctx: typer.Context,
        case: int = typer.Option(..., "--case", help="TCM case id."),
        on: str = typer.Option(..., "--date", help="Reconciliation date (YYYY-MM-DD)."),
    ) -> None:
        """Record the medication reconciliation (closes the pharmacy's task)."""
        engine = open_store(state_of(ctx).settings())
        _show(
            ctx,
            record_medication_reconciliation(engine, case, on=parse_day(on, "--date"), now=datetime.now()),
        )

    @tcm.command("status")
    def status(ctx: typer.Context, case: int = typer.Option(..., "--case", help="TCM case id.")) -> None:
        """Deadlines, what is overdue today, and the code or the reasons none applies."""
        engine = open_store(state_of(ctx).settings())
        _show(ctx, read_tcm_status(engine, case, today=date.today()))

    @tcm.command("bill")
    def bill(
        ctx: typer.Context,
        month: str = typer.Option(..., "--month", help="Visits in this month (YYYY-MM)."),
        out: Path = typer.Option(..., "--out", help="837P file to write (never overwritten)."),
    ) -> None:
        """Write the 837P for coded TCM cases not billed yet."""
        state = state_of(ctx)
        run = generate_tcm_claims(
            open_store(state.settings()), ClaimsProfile(), month=month, out=out, now=datetime.now()
        )
        if state.json_output:
            emit_json(run.as_dict())
        elif run.claims == 0:
            console.print("no coded TCM cases to bill; nothing written")
        else:
            console.print(f"{run.claims} TCM claim(s), total {run.total_charge} written to {run.out}")

    app.add_typer(tcm, name="tcm")


def _show(ctx: typer.Context, case: dict[str, Any]) -> None:
    if state_of(ctx).json_output:
        emit_json(case)
        return
    console.print(
        f"TCM case {case['tcm_case_id']}: discharge {case['discharge_date']} ({case['from_setting']} -> "
        f"{case['to_setting']}), contact due {case['contact_due']}, visit due {case['visit_due_by_code']}"
    )
    console.print(f"status {case['status']}" + (f", code {case['code']}" if case["code"] else ""))
    for reason in filter(None, (case.get("reasons") or "").split("; ")):
        console.print(f"  - {reason}")
    for late in case.get("overdue", []):
        console.print(f"  overdue: {late}")
