"""`openvbc serve`: the web application and API under uvicorn."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from openvbc.cli.context import console, state_of


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(8000, help="TCP port."),
        workers: int = typer.Option(1, min=1, help="Worker processes (each opens its own connections)."),
        export_dir: Path = typer.Option(Path("exports"), help="Where bulk export files are written."),
        insecure_cookies: bool = typer.Option(
            False, help="Send session cookies over plain HTTP (loopback development only)."
        ),
        program: str = typer.Option("pie", help="Program the pages show (rules/programs/<program>/)."),
        program_year: int | None = typer.Option(None, help="Its year (default: the current year)."),
    ) -> None:
        """Serve the pages, the REST API and the FHIR API (SQLite by default, PostgreSQL when configured)."""
        import uvicorn

        from openvbc.api.app import create_app
        from openvbc.api.settings import WebSettings
        from openvbc.services.store_admin import open_store

        settings = state_of(ctx).settings()
        engine = open_store(settings)
        loopback = host in ("127.0.0.1", "localhost", "::1")
        console.print(f"openvbc serving on http://{host}:{port} ({engine.dialect.name})")
        if workers > 1:
            # Worker processes rebuild the app; they learn the store from the environment.
            os.environ["OPENVBC_DATABASE_URL"] = settings.database_url
            uvicorn.run(
                "openvbc.api.asgi:build_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level="warning",
            )
            return
        web = WebSettings(
            database_url=settings.database_url,
            export_dir=export_dir.resolve(),
            secure_cookies=not (insecure_cookies and loopback),
            program_id=program,
            program_year=program_year,
        )
        uvicorn.run(create_app(web, engine), host=host, port=port, log_level="warning")
