"""The three command modules, driven through Typer on a migrated SQLite store."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer
from carecoord_seed import PHYSICIAN, PRACTICE, add_encounter, seed_people
from sqlalchemy import Engine, insert
from typer.testing import CliRunner

from openvbc.cli import commands_ccm, commands_tcm, commands_worklist_transitions
from openvbc.cli.context import CliState
from openvbc.store.tables import condition


def _app(url: str, json_output: bool) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = CliState(database_url=url, json_output=json_output)

    for module in (commands_ccm, commands_tcm, commands_worklist_transitions):
        module.register(app)
    return app


def test_worklist_and_ccm_commands(sqlite_engine: Engine, tmp_path: Path) -> None:
    url = str(sqlite_engine.url)
    seed_people(sqlite_engine, 1)
    add_encounter(sqlite_engine, "S1", 1, "inpatient", datetime(2025, 5, 1), datetime(2025, 5, 5, 12))
    with sqlite_engine.begin() as conn:
        conn.execute(
            insert(condition),
            [
                {
                    "condition_key": f"C{c}",
                    "member_id": 1,
                    "code_system": "icd10cm",
                    "code": c,
                    "clinical_status": "active",
                    "source": "ehr",
                }
                for c in ("E11.9", "I10")
            ],
        )
    runner = CliRunner()
    app = _app(url, True)
    result = runner.invoke(app, ["transitions", "worklist", "--date", "2025-05-06", "--practice", PRACTICE])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert [(i["task"], str(i["due_date"])) for i in payload["items"]] == [("tcm_contact", "2025-05-07")]
    case_id = payload["items"][0]["tcm_case_id"]
    result = runner.invoke(app, ["tcm", "status", "--case", str(case_id)])
    assert result.exit_code == 0 and json.loads(result.output)["status"] == "open"
    steps = [
        [
            "ccm",
            "enroll",
            "--member",
            "M1",
            "--billing-npi",
            PHYSICIAN,
            "--practice-npi",
            PRACTICE,
            "--start",
            "2025-05-01",
        ],
        ["ccm", "consent", "--member", "M1", "--billing-npi", PHYSICIAN, "--date", "2025-05-01"],
        ["ccm", "care-plan", "--member", "M1", "--date", "2025-05-02"],
        ["ccm", "log", "--member", "M1", "--staff", "rn1", "--start", "2025-05-20T10:00", "--minutes", "21"],
    ]
    for args in steps:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
    out = tmp_path / "ccm.837"
    result = runner.invoke(app, ["ccm", "bill", "--month", "2025-05", "--out", str(out)])
    assert result.exit_code == 0, result.output
    bill = json.loads(result.output)
    assert bill["patients"][0]["lines"] == [{"code": "99490", "units": 1}]
    assert bill["claims"]["claims"] == 1 and out.exists()


def test_bad_date_is_a_named_error(sqlite_engine: Engine) -> None:
    result = CliRunner().invoke(
        _app(str(sqlite_engine.url), False), ["transitions", "worklist", "--date", "05/06/2025"]
    )
    assert result.exit_code != 0
    assert "--date" in str(result.exception) or "--date" in result.output
