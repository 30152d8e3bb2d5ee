"""The registry, spine and mips commands: exit 0 with output, exit 2 naming the bad field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from openvbc.cli import commands_mips, commands_registry, commands_spine
from openvbc.cli.main import _OpenvbcGroup, main
from openvbc.config import load_settings
from openvbc.services.store_admin import open_store
from registry.mips_cases import TIN, build_mips_world
from registry.opioid_cases import build_opioid_world


@pytest.fixture
def cli(tmp_path: Path) -> tuple[typer.Typer, list[str], str]:
    app = typer.Typer(cls=_OpenvbcGroup, no_args_is_help=True, pretty_exceptions_enable=False)
    app.callback()(main)
    for module in (commands_mips, commands_registry, commands_spine):
        module.register(app)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    return app, ["--database-url", url], url


def test_mips_export_and_bad_input(cli: tuple[typer.Typer, list[str], str], tmp_path: Path) -> None:
    app, base, url = cli
    build_mips_world().insert_into(open_store(load_settings(url)))
    runner = CliRunner()
    out = tmp_path / "sub.json"
    args = ["mips", "export", "--tin", TIN, "--year", "2025", "--format", "qpp-json", "--out", str(out)]
    result = runner.invoke(app, [*base, "--json", *args, "--no-registry-measures"])
    assert result.exit_code == 0, result.output
    assert {m["measure"] for m in json.loads(result.output)["measures"]} == {"236", "001", "226"}
    assert json.loads(out.read_text())["entityId"] == TIN
    bad = runner.invoke(
        app,
        [
            *base,
            "mips",
            "export",
            "--tin",
            "12AB",
            "--year",
            "2025",
            "--format",
            "pdf",
            "--out",
            str(tmp_path / "x"),
        ],
    )
    assert bad.exit_code == 2
    assert "--format" in bad.output or "--tin" in bad.output


def test_spine_commands(cli: tuple[typer.Typer, list[str], str], tmp_path: Path) -> None:
    app, base, url = cli
    build_opioid_world().insert_into(open_store(load_settings(url)))
    runner = CliRunner()
    result = runner.invoke(
        app, [*base, "--json", "spine", "opioids", "--year", "2025", "--out", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 0, result.output
    # from tests/registry/opioid_cases.py: 13 in the denominator, 3 excluded -> 10 scored; OHD 2, COB 2
    assert json.loads(result.output)["counts"] == {
        "PQA-OHD": {"denominator": 10, "numerator": 2},
        "PQA-COB": {"denominator": 10, "numerator": 2},
    }
    prom = ["spine", "prom", "--member", "M0001", "--instrument", "NPRS", "--date", "2025-03-01"]
    assert runner.invoke(app, [*base, *prom, "--answers", '{"pain_now": 6}']).exit_code == 0
    bad = runner.invoke(app, [*base, *prom[:-1], "2025-03-02", "--answers", '{"pain_now": 12}'])
    assert bad.exit_code == 2 and "outside 0-10" in bad.output
    bad_date = runner.invoke(app, [*base, *prom[:-1], "03/02/2025", "--answers", "{}"])
    assert bad_date.exit_code == 2 and "--date" in bad_date.output
