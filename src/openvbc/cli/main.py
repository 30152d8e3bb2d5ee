"""`openvbc <noun> <verb>`: the command-line shell.

Each noun lives in its own module and is registered here; commands parse arguments, call a
service and render the answer (Rich tables for people, ``--json`` for machines). User
mistakes exit 2 with every problem listed; internal failures exit 1.
"""

from __future__ import annotations

import sys

import typer

from openvbc.cli import commands_db, commands_demo, commands_import, commands_measures, commands_rules
from openvbc.cli import commands_synth
from openvbc.cli.context import CliState, fail_with
from openvbc.domain.errors import UserError

app = typer.Typer(
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
commands_demo.register(app)


def run() -> None:
    """Console-script entry point."""
    try:
        app(standalone_mode=False)
    except UserError as error:
        fail_with(error)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as error:  # click usage errors
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(2)
        raise
