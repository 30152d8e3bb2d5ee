"""Over a real store (SQLite and PostgreSQL): attribution run with snapshots and ATR export, payments
with the real measure engine, outreach recording, and the CLI commands."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from openvbc.services.attribution import run_attribution
from openvbc.services.worklists import record_outreach
from openvbc.store.tables import attribution_snapshot
from program.dataset import load_into_store


def test_attribution_run_saves_snapshots_and_exports(store_engine: Engine, tmp_path: Path) -> None:
    load_into_store(store_engine)
    run = run_attribution(store_engine, "pie", 2025, tmp_path)
    assert run.counts["plurality_fills"] == {"attributed": 3, "not_attributed": 4}
    assert run.counts["practice"] == {"attributed": 2, "not_attributed": 5}
    # 12 month ends x 7 members, plus year-end rows for the other pharmacy method and the practice method.
    assert run.snapshot_rows == 12 * 7 + 7 + 7
    again = run_attribution(store_engine, "pie", 2025, tmp_path)  # re-running replaces, never doubles
    with store_engine.connect() as connection:
        assert (
            connection.execute(select(func.count()).select_from(attribution_snapshot)).scalar_one()
            == again.snapshot_rows
        )
    group = json.loads((tmp_path / "attribution-pie-2025-atr-group.json").read_text())
    assert group["resourceType"] == "Group" and group["type"] == "person" and group["actual"] is True
    pharmacy_members = [
        m for m in group["member"] if m["extension"][1]["valueReference"]["display"].startswith("pharmacy")
    ]
    assert sorted(m["entity"]["identifier"]["value"] for m in pharmacy_members) == ["M1", "M2", "M3"]


def test_outreach_is_recorded_once(store_engine: Engine) -> None:
    load_into_store(store_engine)
    row = {
        "attempt_key": "A1",
        "member_id": 1,
        "pharmacy_npi": "1000000001",
        "program_id": "pie",
        "attempted_at": datetime(2025, 10, 1, 9),
        "channel": "phone",
        "outcome": "reached",
        "gap": "bp_not_controlled",
        "note": None,
        "recorded_by": "rph1",
    }
    assert record_outreach(store_engine, [row]) == 1
    assert record_outreach(store_engine, [row]) == 0


@pytest.mark.slow
def test_payments_cli_with_the_measure_engine(sqlite_engine: Engine, tmp_path: Path) -> None:
    """The hand-built plan has no vitals or labs: every PIE measure reports 'no data' and pays nothing."""
    from typer.testing import CliRunner

    from openvbc.cli import commands_attribution, commands_payments, commands_worklist
    from openvbc.cli.main import app

    for module in (commands_attribution, commands_payments, commands_worklist):
        if not any(
            getattr(g, "name", None) == module.__name__.rsplit("_", 1)[1] for g in app.registered_groups
        ):
            module.register(app)
    load_into_store(sqlite_engine)
    url = str(sqlite_engine.url)
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "--database-url",
            url,
            "--json",
            "payments",
            "run",
            "--program",
            "pie",
            "--year",
            "2025",
            "--out",
            str(tmp_path / "pay"),
            "--format",
            "json",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert any("no member of the program year is in its denominator" in note for note in payload["notes"])
    statement = json.loads((tmp_path / "pay" / "payments-pie-2025.json").read_text())
    assert statement["measure_status"]["bp_control"] == "no data"
    bad = runner.invoke(
        app,
        [
            "--database-url",
            url,
            "payments",
            "simulate",
            "--program",
            "pie",
            "--year",
            "2025",
            "--target",
            "bp_control=150",
        ],
    )
    assert bad.exit_code == 2
