"""The profile is a valid rule file with sources; the CLI generates and rejects bad arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from openvbc.cli.main import app
from openvbc.domain.errors import InvalidInput
from openvbc.rules.resources import read_rule_text
from openvbc.synth.generator import generate_plan
from openvbc.synth.profile import PROFILE_PATH, load_profile


def test_profile_header_validates_with_the_rule_schema() -> None:
    from openvbc.rules.schema import SynthProfile

    data = yaml.safe_load(read_rule_text(PROFILE_PATH))
    SynthProfile.model_validate(data)


def test_every_profile_section_names_its_source() -> None:
    profile = load_profile()
    for name, section in profile.params.items():
        if isinstance(section, dict):
            has_source = "source" in section or all(
                isinstance(sub, dict) and "source" in sub for sub in section.values()
            )
            assert has_source, f"section {name} has no source"


def test_by_band_lists_have_one_value_per_band() -> None:
    profile = load_profile()
    assert profile.by_band("mortality", "annual_rate_by_band").shape == (profile.band_count,)
    for lob in ("commercial", "medicaid", "medicare", "exchange"):
        weights = profile.section("line_of_business", "age_band_weights", lob)
        assert len(weights) == profile.band_count and abs(sum(weights) - 1) < 0.01


def test_bad_arguments_are_listed_together(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as error:
        generate_plan(tmp_path, 10, seed=-1, year=2024, fmt="xlsx")
    assert len(error.value.issues) == 3


def test_cli_generates_json_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["synth", "--members", "150", "--seed", "4", "--year", "2025", "--out", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["members"] == 150 and summary["files"]["members.csv"] == 150
    assert (tmp_path / "manifest.json").exists() and list((tmp_path / "adt").glob("*.hl7"))


def test_cli_rejects_a_too_small_plan(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["synth", "--members", "5", "--seed", "1", "--year", "2025", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0
