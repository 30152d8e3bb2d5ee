"""`openvbc spine prom|episodes|opioids|view`: the spine-care module."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import typer

from openvbc.cli.context import console, emit_json, state_of
from openvbc.domain.errors import InputIssue, InvalidInput


def _parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            [InputIssue("command line", None, name, f"not a YYYY-MM-DD date: {value!r}")]
        ) from None


def register(app: typer.Typer) -> None:
    """Register the commands of this noun."""
    spine = typer.Typer(
        help="Spine care: PROMs, low back pain episodes, opioid safety.", no_args_is_help=True
    )
    app.add_typer(spine, name="spine")

    def _store(ctx: typer.Context) -> Any:
        from openvbc.store.database import open_engine

        return open_engine(state_of(ctx).settings().database_url)

    @spine.command("prom")
    def prom(
        ctx: typer.Context,
        member_key: str = typer.Option(..., "--member"),
        instrument: str = typer.Option(..., "--instrument", help="ODI or NPRS."),
        day: str = typer.Option(..., "--date", help="Administration date YYYY-MM-DD."),
        answers: str = typer.Option(..., "--answers", help='JSON object, e.g. {"pain_now": 6}.'),
    ) -> None:
        """Score and record one PROM administration."""
        from openvbc.services.spine import record_prom

        try:
            parsed = json.loads(answers)
        except json.JSONDecodeError as error:
            raise InvalidInput(
                [InputIssue("command line", None, "--answers", f"not JSON: {error}")]
            ) from None
        if not isinstance(parsed, dict):
            raise InvalidInput([InputIssue("command line", None, "--answers", "must be a JSON object")])
        recorded = record_prom(_store(ctx), member_key, instrument, _parse_day(day, "--date"), parsed)
        if state_of(ctx).json_output:
            emit_json({"ok": True, "score": recorded.score, "problem": recorded.problem})
            return
        shown = recorded.problem if recorded.score is None else f"{recorded.score:g}"
        console.print(f"{recorded.instrument} for {member_key} on {recorded.administered_on}: {shown}")

    @spine.command("episodes")
    def episodes(ctx: typer.Context) -> None:
        """Recompute low back pain episodes and their MCID outcome."""
        from openvbc.services.spine import refresh_episodes

        count = refresh_episodes(_store(ctx))
        if state_of(ctx).json_output:
            emit_json({"ok": True, "episodes": count})
            return
        console.print(f"{count} episode(s) stored")

    @spine.command("opioids")
    def opioids(
        ctx: typer.Context,
        year: int = typer.Option(..., "--year"),
        out: Path = typer.Option(..., "--out", help="CSV of member-level PQA OHD / COB results."),
        engine: str = typer.Option("duckdb", "--engine"),
    ) -> None:
        """PQA opioid safety measures (OHD, COB) from fills."""
        import pyarrow.csv as pa_csv

        from openvbc.services.spine import run_opioid_measures

        result = run_opioid_measures(_store(ctx), year, backend=engine)
        out.parent.mkdir(parents=True, exist_ok=True)
        pa_csv.write_csv(result, out)
        rows = result.to_pylist()
        counts = {
            m: {
                "denominator": sum(
                    1
                    for r in rows
                    if r["measure_id"] == m and r["denominator"] and not r["denominator_exclusion"]
                ),
                "numerator": sum(1 for r in rows if r["measure_id"] == m and r["numerator"]),
            }
            for m in ("PQA-OHD", "PQA-COB")
        }
        if state_of(ctx).json_output:
            emit_json({"ok": True, "output": str(out), "counts": counts})
            return
        for measure_id, c in counts.items():
            console.print(f"{measure_id}: {c['numerator']} of {c['denominator']} (lower is better)")

    @spine.command("view")
    def view(
        ctx: typer.Context,
        member_key: str = typer.Option(..., "--member"),
        year: int = typer.Option(..., "--year"),
    ) -> None:
        """The shared view of one patient for the practice, the pharmacy and the specialist."""
        from openvbc.services.spine import build_patient_view

        emit_json(build_patient_view(_store(ctx), member_key, year))
