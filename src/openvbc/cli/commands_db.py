"""`openvbc db upgrade|current`."""

from __future__ import annotations

import typer

from openvbc.cli.context import console, emit_json, state_of
from openvbc.services.store_admin import describe_store, upgrade_store


def register(app: typer.Typer) -> None:
    db = typer.Typer(help="Create and migrate the store.", no_args_is_help=True)

    @db.command("upgrade")
    def upgrade(ctx: typer.Context) -> None:
        """Migrate the store to the newest schema (creates it when empty)."""
        state = state_of(ctx)
        result = upgrade_store(state.settings())
        if state.json_output:
            emit_json(result)
        else:
            console.print(f"store at revision {result['after']} (was {result['before'] or 'empty'})")

    @db.command("current")
    def current(ctx: typer.Context) -> None:
        """Show the store's schema revision."""
        state = state_of(ctx)
        result = describe_store(state.settings())
        if state.json_output:
            emit_json(result)
        else:
            console.print(f"current {result['current']}, newest {result['head']}")

    app.add_typer(db, name="db")
