"""The pharmacist CLI nouns (mtm, careplan, medsync, submission) end to end on a SQLite file.

cli/main.py registers nouns centrally; this test builds the same root app with these four modules.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from openvbc.cli import commands_careplan, commands_medsync, commands_mtm, commands_submission
from openvbc.cli.main import _OpenvbcGroup, main
from openvbc.config import load_settings
from openvbc.services.store_admin import open_store
from pharmacist.seed import encounter_document, seed_store


@pytest.fixture
def cli(tmp_path: Path) -> tuple[typer.Typer, list[str]]:
    app = typer.Typer(cls=_OpenvbcGroup, no_args_is_help=True, pretty_exceptions_enable=False)
    app.callback()(main)
    for module in (commands_mtm, commands_careplan, commands_medsync, commands_submission):
        module.register(app)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    seed_store(open_store(load_settings(url)))
    return app, ["--database-url", url]


def test_document_export_validate_import_sync_and_submit(
    cli: tuple[typer.Typer, list[str]], tmp_path: Path
) -> None:
    app, base = cli
    runner = CliRunner()
    encounter = tmp_path / "enc.json"
    encounter.write_text(json.dumps(encounter_document()))
    result = runner.invoke(app, [*base, "--json", "mtm", "record", str(encounter)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["uncoded_problems"] == ["dtp-2"]
    for fmt, name in (("cda", "plan.xml"), ("fhir", "plan.json")):
        out = tmp_path / name
        result = runner.invoke(
            app, [*base, "careplan", "export", "--member", "M0001", "--format", fmt, "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert runner.invoke(app, [*base, "careplan", "validate", str(out)]).exit_code == 0
        assert runner.invoke(app, [*base, "careplan", "import", str(out)]).exit_code == 0
    result = runner.invoke(
        app, [*base, "--json", "medsync", "plan", "--member", "M0001", "--today", "2025-03-10"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["anchor_date"] == "2025-03-27"
    result = runner.invoke(
        app, [*base, "submission", "export", "--format", "csv", "--out", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 0 and "4 observation(s)" in result.output


def test_bad_input_exits_2_listing_file_and_field(cli: tuple[typer.Typer, list[str]], tmp_path: Path) -> None:
    app, base = cli
    runner = CliRunner()
    encounter = tmp_path / "late.json"
    encounter.write_text(json.dumps(encounter_document(end_at="2025-03-14T08:00:00-06:00", minutes=2000)))
    result = runner.invoke(app, [*base, "--json", "mtm", "record", str(encounter)])
    assert result.exit_code == 2
    fields = {issue["field"] for issue in json.loads(result.output)["issues"]}
    assert {"end_at", "minutes"} <= fields
    broken = tmp_path / "broken.xml"
    broken.write_text("<ClinicalDocument")
    result = runner.invoke(app, [*base, "careplan", "validate", str(broken)])
    assert result.exit_code == 2 and "broken.xml:1" in result.output
