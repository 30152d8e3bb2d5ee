"""Every shipped billing rule file validates; a broken one is reported with file, line and field."""

from __future__ import annotations

from importlib import resources

import pytest

from openvbc.domain.errors import InvalidInput
from openvbc.rules.billing_schema import BILLING_YAML_KINDS, MtmUnitsFile, parse_billing_rule

BILLING = resources.files("openvbc.rules").joinpath("billing")
FILES = sorted(
    f"{folder.name}/{item.name}"
    for folder in BILLING.iterdir()
    if folder.is_dir()
    for item in folder.iterdir()
    if item.name.endswith(".yaml")
)


def test_the_four_kinds_are_shipped() -> None:
    assert {name.split("/")[0] for name in FILES} == {"mtm_units", "fee_schedule", "ccm_codes", "tcm"}


@pytest.mark.parametrize("name", FILES)
def test_rule_file_validates_with_its_kind(name: str) -> None:
    text = BILLING.joinpath(name).read_text(encoding="utf-8")
    kind = name.split("/")[0]
    rule = parse_billing_rule(text, name, BILLING_YAML_KINDS[kind])
    assert rule.source.url.startswith("http") and rule.effective.start <= rule.effective.end


def test_bad_rounding_names_the_line_and_field() -> None:
    text = BILLING.joinpath("mtm_units/default.yaml").read_text(encoding="utf-8")
    broken = text.replace("rounding: any_partial", "rounding: nearest")
    with pytest.raises(InvalidInput) as caught:
        parse_billing_rule(broken, "mtm_units/custom.yaml", MtmUnitsFile)
    (issue,) = caught.value.issues
    expected_line = broken.splitlines().index("rounding: nearest") + 1
    assert (issue.file, issue.line, issue.field) == ("mtm_units/custom.yaml", expected_line, "rounding")
