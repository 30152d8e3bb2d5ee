"""`openvbc claims 837p|validate`: bill MTM encounters as X12 837P and check X12 files."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer

from openvbc.cli.context import console, emit_json, state_of
from openvbc.domain.errors import InputIssue, InvalidInput, UserError
from openvbc.interop.x12.validate import validate_x12
from openvbc.services.claims import ClaimsProfile, generate_mtm_claims
from openvbc.services.store_admin import open_store


def register(app: typer.Typer) -> None:
    claims = typer.Typer(help="Professional claims (X12 837P) for pharmacist services.", no_args_is_help=True)

    @claims.command("837p")
    def write_837p(
        ctx: typer.Context,
        out: Path = typer.Option(..., "--out", help="837P file to write (never overwritten)."),
        since: str | None = typer.Option(
            None, "--since", help="Only encounters on or after this date (YYYY-MM-DD)."
        ),
        csv_out: Path | None = typer.Option(None, "--csv", help="Also write the claim lines as CSV."),
        sender_id: str = typer.Option("OPENVBC", help="ISA06/GS02 sender id."),
        receiver_id: str = typer.Option("PAYER", help="ISA08/GS03 receiver id."),
        payer_name: str = typer.Option("HEALTH PLAN", help="2010BB payer name."),
        payer_id: str = typer.Option("PAYER", help="2010BB payer id."),
        usage: str = typer.Option("T", help="ISA15: T (test) or P (production)."),
        unit_rule: str = typer.Option("billing/mtm_units/default.yaml", help="MTM unit rule file."),
        fee_schedule: str = typer.Option("billing/fee_schedule/default.yaml", help="Fee schedule rule file."),
    ) -> None:
        """Write the claims not yet billed; each encounter is billed once."""
        state = state_of(ctx)
        if usage not in ("T", "P"):
            raise InvalidInput([InputIssue("command line", None, "--usage", "must be T or P")])
        profile = ClaimsProfile(
            sender_id=sender_id,
            receiver_id=receiver_id,
            receiver_name=payer_name,
            payer_name=payer_name,
            payer_id=payer_id,
            usage="T" if usage == "T" else "P",
            unit_rule_path=unit_rule,
            fee_schedule_path=fee_schedule,
        )
        engine = open_store(state.settings())
        run = generate_mtm_claims(
            engine, profile, out=out, now=datetime.now(), since=_parse_day(since), csv_out=csv_out
        )
        if state.json_output:
            emit_json(run.as_dict())
            return
        if run.claims == 0:
            console.print("no unbilled MTM encounters; nothing written")
        else:
            console.print(
                f"{run.claims} claim(s), total {run.total_charge} written to {run.out} "
                f"(ISA13 {run.interchange_control_number})"
            )
        for skipped in run.skipped:
            console.print(f"not billed: {skipped['mtm_key']}: {skipped['reason']}")

    @claims.command("validate")
    def validate(ctx: typer.Context, file: Path = typer.Argument(..., help="X12 file to validate.")) -> None:
        """Validate an X12 file with pyx12; exit 2 when it has errors."""
        state = state_of(ctx)
        try:
            text = file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(f"cannot read {file}: {error}") from error
        problems = validate_x12(text)
        if state.json_output:
            emit_json({"file": str(file), "valid": not problems, "errors": problems})
        elif not problems:
            console.print(f"{file}: valid")
        if problems:
            raise InvalidInput([InputIssue(str(file), None, None, problem) for problem in problems])

    app.add_typer(claims, name="claims")


def _parse_day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            [InputIssue("command line", None, "--since", f"{text!r} is not YYYY-MM-DD")]
        ) from None
