"""`openvbc payments run|simulate`: program payments with explainable lines, and what-if."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

import typer

from openvbc.cli.context import console, emit_json, state_of
from openvbc.domain.errors import InputIssue, InvalidInput


def _parse_targets(values: list[str]) -> dict[str, Decimal]:
    """``key=percent`` pairs (``bp_control=75``) as rates in 0-1."""
    out: dict[str, Decimal] = {}
    issues = []
    for value in values:
        key, _, number = value.partition("=")
        try:
            percent = Decimal(number)
        except InvalidOperation:
            percent = Decimal(-1)
        if not key or not 0 <= percent <= 100:
            issues.append(
                InputIssue("command line", None, "--target", f"expected key=percent in 0-100: {value!r}")
            )
            continue
        out[key] = percent / 100
    if issues:
        raise InvalidInput(issues)
    return out


def _parse_outcomes(values: list[str]) -> dict[tuple[int, str], bool]:
    """``member_id:key=met|unmet`` (``42:bp_control=met``)."""
    out: dict[tuple[int, str], bool] = {}
    issues = []
    for value in values:
        left, _, state = value.partition("=")
        member, _, key = left.partition(":")
        if not member.isdigit() or not key or state not in ("met", "unmet"):
            issues.append(
                InputIssue(
                    "command line", None, "--outcome", f"expected member_id:key=met|unmet, got {value!r}"
                )
            )
            continue
        out[(int(member), key)] = state == "met"
    if issues:
        raise InvalidInput(issues)
    return out


def register(app: typer.Typer) -> None:
    """Register the commands of this noun."""
    payments = typer.Typer(help="Program payments and what-if.", no_args_is_help=True)
    app.add_typer(payments, name="payments")

    @payments.command("run")
    def run(
        ctx: typer.Context,
        program: str = typer.Option(..., "--program"),
        year: int = typer.Option(..., "--year"),
        out: Path = typer.Option(..., "--out", help="Folder for statements (JSON, CSV, HTML, PDF)."),
        fmt: list[str] = typer.Option(["json", "csv", "html", "pdf"], "--format"),
        engine: str = typer.Option("duckdb", "--engine"),
    ) -> None:
        """Encounter fees, tier 1, tier 2 and PMPM per pharmacy, each line with its members and clause."""
        from openvbc.services.program_year import run_payments
        from openvbc.services.store_admin import open_store

        store = open_store(state_of(ctx).settings())
        result, files = run_payments(store, program, year, out, backend=engine, formats=fmt)
        if state_of(ctx).json_output:
            emit_json(
                {
                    "ok": True,
                    "total": f"{result.total:.2f}",
                    "pharmacies": len(result.statements),
                    "notes": result.notes,
                    "files": [str(f) for f in files],
                }
            )
            return
        for note in result.notes:
            console.print(f"note: {note}", highlight=False, markup=False)
        console.print(f"{len(result.statements)} statement(s), total ${result.total:.2f}; files in {out}")

    @payments.command("simulate")
    def simulate(
        ctx: typer.Context,
        program: str = typer.Option(..., "--program"),
        year: int = typer.Option(..., "--year"),
        target: list[str] = typer.Option(
            [], "--target", help="key=percent, e.g. bp_control=75 (repeatable)."
        ),
        outcome: list[str] = typer.Option([], "--outcome", help="member_id:key=met|unmet (repeatable)."),
        engine: str = typer.Option("duckdb", "--engine"),
    ) -> None:
        """Change benchmarks or member outcomes; see the change per pharmacy and what unlocks tier 2."""
        from openvbc.services.program_year import open_program
        from openvbc.services.program_year import simulate as simulate_payments
        from openvbc.services.store_admin import open_store

        targets, outcomes = _parse_targets(target), _parse_outcomes(outcome)
        store = open_store(state_of(ctx).settings())
        _con, contract, inputs = open_program(store, program, year, engine)
        try:
            changes = simulate_payments(inputs, contract, targets=targets, outcomes=outcomes)
        except KeyError as error:
            raise InvalidInput([InputIssue("command line", None, "--target", str(error))]) from None
        rows = [
            {
                "pharmacy_npi": x.pharmacy_npi,
                "before": f"{x.before:.2f}",
                "after": f"{x.after:.2f}",
                "change": f"{x.change:.2f}",
                "members_to_unlock_tier2": x.members_to_unlock_tier2,
                "worth_if_unlocked": f"{x.tier2_if_unlocked:.2f}",
            }
            for x in changes
        ]
        if state_of(ctx).json_output:
            emit_json({"ok": True, "pharmacies": rows})
            return
        for row in rows:
            console.print(
                f"{row['pharmacy_npi']}: {row['before']} -> {row['after']} ({row['change']}); "
                f"unlock tier 2 with {row['members_to_unlock_tier2']} more member(s), "
                f"worth {row['worth_if_unlocked']}"
            )
