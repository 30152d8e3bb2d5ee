"""`openvbc users add|role|list|api-key|smart-client`: people and machine clients."""

from __future__ import annotations

from pathlib import Path

import typer

from openvbc.api.settings import utc_now
from openvbc.cli.context import console, emit_json, state_of
from openvbc.services import identity
from openvbc.services.store_admin import open_store


def register(app: typer.Typer) -> None:
    users = typer.Typer(help="People, roles and machine clients.", no_args_is_help=True)

    @users.command("add")
    def add(
        ctx: typer.Context,
        username: str = typer.Argument(...),
        role: str = typer.Option(..., help="plan_admin, plan_analyst, pharmacy_staff, care_manager, ..."),
        org_npi: str | None = typer.Option(None, help="Pharmacy or practice NPI for scoped roles."),
        display_name: str | None = typer.Option(None),
        iterations: int = typer.Option(identity.PRODUCTION_PBKDF2_ITERATIONS, hidden=True),
    ) -> None:
        """Add a person; the password is read from the prompt; administrators get a TOTP secret."""
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        secret = identity.generate_totp_secret() if role == "plan_admin" else None
        engine = open_store(state_of(ctx).settings())
        with engine.begin() as connection:
            identity.create_user(
                connection,
                username=username,
                display_name=display_name or username,
                role=role,
                password=password,
                org_npi=org_npi,
                totp_secret=secret,
                iterations=iterations,
                now=utc_now(),
            )
        console.print(f"user {username} added as {role}")
        if secret:
            console.print(
                f"TOTP secret (enter it in an authenticator app now; it is not shown again): {secret}"
            )

    @users.command("role")
    def role(
        ctx: typer.Context,
        username: str,
        role: str = typer.Option(...),
        org_npi: str | None = typer.Option(None),
    ) -> None:
        """Change a person's role or organisation (audited; their sessions end)."""
        engine = open_store(state_of(ctx).settings())
        with engine.begin() as connection:
            identity.change_role(
                connection, username=username, role=role, org_npi=org_npi, by=None, now=utc_now()
            )
        console.print(f"{username} is now {role}")

    @users.command("list")
    def list_(ctx: typer.Context) -> None:
        state = state_of(ctx)
        with open_store(state.settings()).connect() as connection:
            rows = identity.list_users(connection)
        if state.json_output:
            emit_json(rows)
            return
        for row in rows:
            console.print(
                f"{row['username']}\t{row['role']}\t{row['org_npi'] or 'plan'}\t"
                f"{'active' if row['active'] else 'inactive'}"
            )

    @users.command("api-key")
    def api_key(
        ctx: typer.Context,
        client_id: str,
        role: str = typer.Option(...),
        org_npi: str | None = typer.Option(None),
    ) -> None:
        """Issue an API key for a machine client; the secret is printed once."""
        with open_store(state_of(ctx).settings()).begin() as connection:
            secret = identity.create_api_key(
                connection,
                client_id=client_id,
                name=client_id,
                role=role,
                org_npi=org_npi,
                by=None,
                now=utc_now(),
            )
        console.print(secret)

    @users.command("smart-client")
    def smart_client(
        ctx: typer.Context,
        client_id: str,
        public_key: Path = typer.Option(..., exists=True),
        role: str = typer.Option(...),
        org_npi: str | None = typer.Option(None),
        scopes: str = typer.Option("system/*.rs"),
    ) -> None:
        """Register a SMART backend-services client by its public key (PEM)."""
        with open_store(state_of(ctx).settings()).begin() as connection:
            identity.register_smart_client(
                connection,
                client_id=client_id,
                name=client_id,
                role=role,
                org_npi=org_npi,
                public_key_pem=public_key.read_text(),
                scopes=scopes,
                by=None,
                now=utc_now(),
            )
        console.print(f"SMART client {client_id} registered with {scopes}")

    app.add_typer(users, name="users")
