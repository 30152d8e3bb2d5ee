"""The command-line shell: exit codes and messages for the mistakes users make."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from openvbc.cli.main import app

runner = CliRunner()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from openvbc.cli.main import run; run()", *args],
        capture_output=True, text=True, check=False,
    )


def test_help_lists_the_nouns() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for noun in ("db", "demo", "import", "rules", "synth", "measures"):
        assert noun in result.output


def test_unknown_command_and_option_exit_2_without_traceback() -> None:
    for args in (["nosuch"], ["db", "upgrade", "--bogus"]):
        proc = run_cli(*args)
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr


def test_unreachable_database_exits_1_with_one_clear_line() -> None:
    proc = run_cli("--database-url", "postgresql://nobody@127.0.0.1:1/none", "db", "upgrade")
    assert proc.returncode == 1
    assert "cannot use the database" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_db_upgrade_creates_and_reports_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    first = runner.invoke(app, ["--json", "--database-url", url, "db", "upgrade"])
    assert first.exit_code == 0, first.output
    payload = json.loads(first.output)
    assert payload["before"] is None and payload["after"] == payload["head"]
    again = runner.invoke(app, ["--json", "--database-url", url, "db", "current"])
    assert json.loads(again.output)["current"] == payload["head"]
