"""`openvbc audit verify|report` and `openvbc users list` over a store."""

from __future__ import annotations

import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from api.world import World
from openvbc.cli import commands_audit, commands_users
from openvbc.domain.errors import InvalidInput


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """openvbc"""

    commands_audit.register(app)
    commands_users.register(app)
    return app


def test_verify_and_report(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENVBC_DATABASE_URL", str(world.engine.url))
    runner = CliRunner()
    ok = runner.invoke(_app(), ["audit", "verify"])
    assert ok.exit_code == 0 and "intact" in ok.output
    report = runner.invoke(
        _app(), ["audit", "report", "--from", "2026-03-10", "--to", "2026-03-11", "--sort", "actor_id"]
    )
    assert report.exit_code == 0 and report.output.startswith("audit_event_id,")
    # cli/main.py turns InvalidInput into exit code 2; this bare app lets it surface.
    bad = runner.invoke(_app(), ["audit", "report", "--from", "yesterday"])
    assert isinstance(bad.exception, InvalidInput) and bad.exception.issues[0].field == "--from"
    with world.engine.begin() as connection:
        connection.execute(text("DROP TRIGGER audit_event_no_update"))
        connection.execute(text("UPDATE audit_event SET outcome = 'failure' WHERE audit_event_id = 3"))
    broken = runner.invoke(_app(), ["audit", "verify"])
    assert broken.exit_code == 1 and "record 3" in broken.output
    listed = runner.invoke(_app(), ["users", "list"])
    assert listed.exit_code == 0 and "pharm_a" in listed.output
