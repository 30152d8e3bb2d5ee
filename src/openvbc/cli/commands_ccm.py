"""`openvbc ccm enroll|consent|care-plan|timer-start|timer-stop|log|bill`: chronic care management."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer
from rich.table import Table

from openvbc.cli.cli_dates import parse_day, parse_moment
from openvbc.cli.context import console, emit_json, state_of
from openvbc.services.ccm import (
    enroll_member,
    log_time,
    record_care_plan,
    record_consent,
    start_timer,
    stop_timer,
)
from openvbc.services.ccm_billing import code_ccm_month
from openvbc.services.claims import ClaimsProfile, generate_ccm_claims
from openvbc.services.store_admin import open_store

ROLE_HELP = "clinical_staff | practitioner"


def register(app: typer.Typer) -> None:
    ccm = typer.Typer(
        help="Chronic / principal care management: enrolment, time, month-end codes.", no_args_is_help=True
    )

    @ccm.command("enroll")
    def enroll(
        ctx: typer.Context,
        member: str = typer.Option(..., "--member", help="Member key."),
        billing_npi: str = typer.Option(..., "--billing-npi", help="The practitioner who bills the months."),
        practice_npi: str = typer.Option(..., "--practice-npi", help="The practice (837P billing provider)."),
        start: str = typer.Option(..., "--start", help="Enrolment start date (YYYY-MM-DD)."),
        program: str = typer.Option("ccm", "--program", help="ccm (two or more conditions) | pcm (one)."),
        by: str | None = typer.Option(None, "--by", help="Who enrolled the patient."),
    ) -> None:
        """Enrol a patient after the chronic-condition eligibility check."""
        state = state_of(ctx)
        result = enroll_member(
            open_store(state.settings()),
            member_key=member,
            program=program,
            billing_npi=billing_npi,
            practice_npi=practice_npi,
            start_date=parse_day(start, "--start"),
            now=datetime.now(),
            enrolled_by=by,
        )
        if state.json_output:
            emit_json(result.as_dict())
        else:
            console.print(
                f"enrolment {result.enrollment_id}: {member} in {program} ({', '.join(result.conditions)})"
            )

    @ccm.command("consent")
    def consent(
        ctx: typer.Context,
        member: str = typer.Option(..., "--member", help="Member key."),
        billing_npi: str = typer.Option(..., "--billing-npi", help="Practitioner the consent names."),
        on: str = typer.Option(..., "--date", help="Consent date (YYYY-MM-DD)."),
        method: str = typer.Option("verbal", "--method", help="verbal | written."),
        revoked_on: str | None = typer.Option(None, "--revoked-on", help="Revocation date, if revoked."),
        by: str | None = typer.Option(None, "--by", help="Who recorded it."),
    ) -> None:
        """Record the patient's consent (cost sharing, one practitioner per month, may stop any time)."""
        state = state_of(ctx)
        consent_id = record_consent(
            open_store(state.settings()),
            member_key=member,
            billing_npi=billing_npi,
            consented_on=parse_day(on, "--date"),
            method=method,
            now=datetime.now(),
            recorded_by=by,
            revoked_on=parse_day(revoked_on, "--revoked-on") if revoked_on else None,
        )
        _done(state.json_output, {"ccm_consent_id": consent_id}, f"consent {consent_id} recorded")

    @ccm.command("care-plan")
    def care_plan(
        ctx: typer.Context,
        member: str = typer.Option(..., "--member", help="Member key."),
        on: str = typer.Option(..., "--date", help="Date (YYYY-MM-DD)."),
        action: str = typer.Option("established", "--action", help="established | revised | reviewed."),
        complex_mdm: bool = typer.Option(False, "--complex-mdm", help="Moderate/high MDM (complex CCM)."),
        ref: str | None = typer.Option(None, "--ref", help="Where the plan document lives."),
    ) -> None:
        """Record that the comprehensive care plan is on file."""
        state = state_of(ctx)
        plan_id = record_care_plan(
            open_store(state.settings()),
            member_key=member,
            recorded_on=parse_day(on, "--date"),
            action=action,
            now=datetime.now(),
            complex_mdm=complex_mdm,
            document_ref=ref,
        )
        _done(state.json_output, {"ccm_care_plan_id": plan_id}, f"care plan {plan_id} recorded")

    @ccm.command("timer-start")
    def timer_start(
        ctx: typer.Context,
        member: str = typer.Option(..., "--member", help="Member key."),
        staff: str = typer.Option(..., "--staff", help="Staff id of the person timing."),
        role: str = typer.Option("clinical_staff", "--role", help=ROLE_HELP),
        activity: str | None = typer.Option(None, "--activity", help="What the time is for."),
    ) -> None:
        """Start a timer now (refused while the same person has another one running)."""
        state = state_of(ctx)
        entry_id = start_timer(
            open_store(state.settings()),
            member_key=member,
            staff_id=staff,
            role=role,
            now=datetime.now(),
            activity=activity,
        )
        _done(state.json_output, {"ccm_time_entry_id": entry_id}, f"timer {entry_id} started")

    @ccm.command("timer-stop")
    def timer_stop(
        ctx: typer.Context,
        staff: str = typer.Option(..., "--staff", help="Staff id of the person timing."),
        at: str | None = typer.Option(None, "--at", help="Real end time if not now (YYYY-MM-DDTHH:MM)."),
    ) -> None:
        """Stop the person's running timer."""
        state = state_of(ctx)
        entry = stop_timer(
            open_store(state.settings()),
            staff_id=staff,
            now=datetime.now(),
            at=parse_moment(at, "--at") if at else None,
        )
        _done(state.json_output, entry, f"timer {entry['ccm_time_entry_id']} stopped: {entry['minutes']} min")

    @ccm.command("log")
    def log(
        ctx: typer.Context,
        member: str = typer.Option(..., "--member", help="Member key."),
        staff: str = typer.Option(..., "--staff", help="Staff id."),
        start: str = typer.Option(..., "--start", help="Start (YYYY-MM-DDTHH:MM)."),
        minutes: int = typer.Option(..., "--minutes", help="Length in minutes."),
        role: str = typer.Option("clinical_staff", "--role", help=ROLE_HELP),
        activity: str | None = typer.Option(None, "--activity", help="What the time was for."),
    ) -> None:
        """Add a manual time entry (refused if it overlaps the person's other entries)."""
        state = state_of(ctx)
        entry_id = log_time(
            open_store(state.settings()),
            member_key=member,
            staff_id=staff,
            role=role,
            start_at=parse_moment(start, "--start"),
            minutes=minutes,
            now=datetime.now(),
            activity=activity,
        )
        _done(state.json_output, {"ccm_time_entry_id": entry_id}, f"time entry {entry_id} recorded")

    @ccm.command("bill")
    def bill(
        ctx: typer.Context,
        month: str = typer.Option(..., "--month", help="Month to close (YYYY-MM)."),
        out: Path | None = typer.Option(None, "--out", help="Also write the 837P for the billable months."),
    ) -> None:
        """Code every enrolled patient-month: the best legal code set, or why the month does not bill."""
        state = state_of(ctx)
        engine = open_store(state.settings())
        run = code_ccm_month(engine, month, today=date.today(), now=datetime.now())
        claims = None
        if out is not None:
            claims = generate_ccm_claims(engine, ClaimsProfile(), month=month, out=out, now=datetime.now())
        if state.json_output:
            emit_json({**run.as_dict(), "claims": claims.as_dict() if claims else None})
            return
        table = Table(title=f"CCM {month} ({run.rule_version}): {run.billable} billable")
        for column in (
            "member",
            "practitioner",
            "staff min",
            "practitioner min",
            "excluded",
            "codes",
            "reasons",
        ):
            table.add_column(column)
        for p in run.patients:
            codes = ", ".join(f"{code} x{units}" for code, units in p.lines)
            table.add_row(
                p.member_key,
                p.billing_npi,
                str(p.minutes.clinical_staff),
                str(p.minutes.practitioner),
                str(p.minutes.excluded),
                codes,
                "; ".join(p.reasons),
            )
        console.print(table)
        for warning in run.warnings:
            console.print(f"warning: {warning}")
        if claims is not None:
            console.print(f"{claims.claims} claim(s), total {claims.total_charge} written to {claims.out}")

    app.add_typer(ccm, name="ccm")


def _done(json_output: bool, payload: dict[str, object], message: str) -> None:
    if json_output:
        emit_json(payload)
    else:
        console.print(message)
