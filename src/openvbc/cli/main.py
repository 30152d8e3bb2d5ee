"""`openvbc <noun> <verb>`: the command-line shell.

Each noun lives in its own module and is registered here; commands parse arguments, call a
service and render the answer (Rich tables for people, ``--json`` for machines). User
mistakes exit 2 with every problem listed; internal failures exit 1.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from sqlalchemy.exc import OperationalError
from typer import _click as click
from typer.core import TyperGroup

from openvbc.cli import (
    commands_adt,
    commands_attribution,
    commands_audit,
    commands_careplan,
    commands_ccm,
    commands_claims,
    commands_db,
    commands_demo,
    commands_import,
    commands_measures,
    commands_medsync,
    commands_mips,
    commands_mllp,
    commands_mtm,
    commands_payments,
    commands_registry,
    commands_rules,
    commands_serve,
    commands_spine,
    commands_submission,
    commands_synth,
    commands_tcm,
    commands_users,
    commands_worklist,
    commands_worklist_transitions,
)
from openvbc.cli.context import CliState, err_console, fail_with
from openvbc.domain.errors import UserError


class _OpenvbcGroup(TyperGroup):
    """Turn user errors into exit code 2 inside Click, so the console script and
    ``CliRunner`` in tests behave the same."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as error:
            state = ctx.find_root().obj
            fail_with(error, json_output=getattr(state, "json_output", None))
        except OperationalError as error:
            err_console.print(f"[bold red]error:[/] cannot use the database: {error.orig}", highlight=False)
            sys.exit(1)


app = typer.Typer(
    cls=_OpenvbcGroup,
    name="openvbc",
    help="Run value-based care programs end to end.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    database_url: str | None = typer.Option(
        None, "--database-url", help="SQLAlchemy URL of the store (default: OPENVBC_DATABASE_URL or sqlite)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable JSON output."),
) -> None:
    ctx.obj = CliState(database_url=database_url, json_output=json_output)


commands_db.register(app)
commands_rules.register(app)
commands_synth.register(app)
commands_import.register(app)
commands_measures.register(app)
commands_adt.register(app)
commands_registry.register(app)
commands_spine.register(app)
commands_mips.register(app)
commands_audit.register(app)
commands_serve.register(app)
commands_users.register(app)
commands_attribution.register(app)
commands_worklist.register(app)
commands_payments.register(app)
commands_careplan.register(app)
commands_medsync.register(app)
commands_mtm.register(app)
commands_submission.register(app)
commands_ccm.register(app)
commands_tcm.register(app)
commands_worklist_transitions.register(app)
commands_claims.register(app)
commands_mllp.register(app)
commands_demo.register(app)


def run() -> None:
    """Console-script entry point (usage errors exit 2, user errors exit 2 listing every
    problem, an unusable database exits 1 with one line; anything else is a bug)."""
    app()
