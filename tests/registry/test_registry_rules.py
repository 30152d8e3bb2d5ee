"""The registry rule files validate with the rest of the rule tree, and a bad one is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from openvbc.domain.errors import InvalidInput
from openvbc.rules.registry.schema import PromInstrumentFile, parse_registry_file
from openvbc.rules.tree import RuleText, validate_rule_texts

RULES = Path(__file__).parents[2] / "src" / "openvbc" / "rules"


def test_every_registry_file_validates() -> None:
    items = [
        RuleText(path.relative_to(RULES).as_posix(), str(path), path.read_text(encoding="utf-8"))
        for path in sorted((RULES / "registry").rglob("*.yaml"))
    ]
    report = validate_rule_texts(items)
    assert report.issues == []
    assert {rule.kind for rule in report.loaded} == {
        "prom_instrument",
        "opioid_reference",
        "opioid_measures",
        "spine_episodes",
        "mips_measure_map",
    }
    assert all(rule.source for rule in report.loaded)


def test_bad_instrument_file_names_line_and_field() -> None:
    text = (RULES / "registry" / "proms" / "nprs.yaml").read_text(encoding="utf-8")
    broken = text.replace("item_max: 10", "item_max: -1")
    with pytest.raises(InvalidInput) as caught:
        parse_registry_file(broken, "proms/nprs.yaml", PromInstrumentFile)
    issue = caught.value.issues[0]
    assert issue.file == "proms/nprs.yaml" and "item_max" in issue.message
