"""Program contracts as data: shipped files load, bad files are rejected with the field named,
and the payment arithmetic keeps its promises (property tests)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openvbc.domain import contract as c
from openvbc.domain.errors import InvalidInput
from openvbc.rules.loader import load_program_contract, parse_program_contract
from openvbc.services.rules_catalog import check_rules

CONTRACT_FILE = Path(__file__).resolve().parents[1] / "data" / "program" / "test-contract.yaml"


@pytest.mark.parametrize(("program", "year"), [("pie", 2025), ("pie", 2026), ("cpesn-care-planning", 2025)])
def test_shipped_contracts_load(program: str, year: int) -> None:
    contract = load_program_contract(program, year)
    assert contract.example is True and contract.year == year
    assert contract.tier1 is not None or contract.pmpm is not None


def _bad(old: str, new: str) -> InvalidInput:
    text = CONTRACT_FILE.read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(InvalidInput) as caught:
        parse_program_contract(text.replace(old, new), "bad.yaml")
    return caught.value


def test_tier2_without_gate_names_the_field() -> None:
    error = _bad("gate: tier1_met, ", "")
    assert [(i.field, i.message) for i in error.issues] == [("tier2.gate", "required field is missing")]
    assert error.issues[0].line == 42  # the tier2 line of test-contract.yaml


def test_benchmark_outside_0_100_names_the_field() -> None:
    error = _bad("target_percent: 50,", "target_percent: 150,")
    assert error.issues[0].field == "measures.0.target_percent"
    assert "less than or equal to 100" in error.issues[0].message


def test_overlapping_fee_bands_are_rejected() -> None:
    text = CONTRACT_FILE.read_text(encoding="utf-8")
    start = text.index('  fees: {"99605"')
    end = text.index("\n", start)
    bands = (
        '  time_bands:\n    - {from_minutes: 1, to_minutes: 20, fee: "20.00"}\n'
        '    - {from_minutes: 15, to_minutes: 40, fee: "45.00"}'
    )
    with pytest.raises(InvalidInput) as caught:
        parse_program_contract(text[:start] + bands + text[end:], "bad.yaml")
    issue = caught.value.issues[0]
    assert issue.field == "encounter_fees.time_bands"
    assert "overlap: 1-20 and 15-40" in issue.message


def test_tier2_without_tier1_and_float_money() -> None:
    text = CONTRACT_FILE.read_text(encoding="utf-8")
    start = text.index("tier1: {")
    no_tier1 = text[:start] + text[text.index("\n", start) + 1 :]
    with pytest.raises(InvalidInput) as caught:
        parse_program_contract(no_tier1, "bad.yaml")
    assert "tier2 is gated on tier 1" in caught.value.issues[0].message
    error = _bad('amount: "10.00"', "amount: 10.5")
    assert error.issues[0].field == "tier1.amount" and "quoted strings" in error.issues[0].message


def test_rules_check_rejects_a_bad_program_folder(tmp_path: Path) -> None:
    """`openvbc rules check --path`: the shipped programs pass, a user's bad contract names its field."""
    folder = tmp_path / "rules" / "programs" / "test-program"
    folder.mkdir(parents=True)
    text = CONTRACT_FILE.read_text(encoding="utf-8").replace("gate: tier1_met, ", "")
    (folder / "2025.yaml").write_text(text, encoding="utf-8")
    report = check_rules(tmp_path / "rules")
    assert [(i.file.endswith("2025.yaml"), i.field) for i in report.issues] == [(True, "tier2.gate")]
    assert {r.id for r in report.loaded if r.kind == "program"} == {"pie", "cpesn-care-planning"}


# --- properties ------------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=1000, places=2)
rates = st.integers(min_value=0, max_value=100).map(lambda p: Decimal(p) / 100)


def _target(rate: Decimal, direction: str = "higher") -> c.MeasureTarget:
    return c.MeasureTarget("k", "M", "G", "label", rate, direction, 1)  # type: ignore[arg-type]


@given(
    den=st.integers(1, 200),
    data=st.data(),
    target=rates,
    amount=money,
    cap=st.none() | money,
    members=st.integers(0, 50),
)
def test_tier1_never_negative_and_raising_target_never_raises_it(
    den: int, data: st.DataObject, target: Decimal, amount: Decimal, cap: Decimal | None, members: int
) -> None:
    num = data.draw(st.integers(0, den))
    higher = data.draw(rates.filter(lambda r: r >= target))
    scoring = c.ClinicalScoring("all_scored", 1, 1)
    tier1 = c.Tier1("T1", "per_attributed_member", amount, cap)
    ids = list(range(members))
    low = c.pay_tier1(
        1, tier1, c.score_clinical([c.score_measure(_target(target), den, num)], scoring), ids, ""
    )
    high = c.pay_tier1(
        1, tier1, c.score_clinical([c.score_measure(_target(higher), den, num)], scoring), ids, ""
    )
    assert low.amount >= 0 and high.amount >= 0
    assert high.amount <= low.amount


@given(met=st.booleans(), engaged=st.integers(0, 30), extra=st.integers(0, 30), amount=money, share=rates)
def test_tier2_is_zero_whenever_tier1_is_not_met(
    met: bool, engaged: int, extra: int, amount: Decimal, share: Decimal
) -> None:
    clinical = c.ClinicalResult(met, int(met), 1, "x")
    tier1 = c.pay_tier1(1, c.Tier1("T1", "per_measure_met", Decimal("1.00"), None), clinical, [1], "")
    tier2 = c.Tier2("T2", "tier1_met", "attributed", share, "per_engaged_member", amount, None)
    line = c.pay_tier2(
        1, tier2, tier1, clinical, c.EngagementCount(engaged + extra, tuple(range(engaged))), ""
    )
    assert line.amount >= 0
    if not met:
        assert line.amount == 0


@given(amount=money, members=st.lists(st.integers(1, 10_000), max_size=40))
def test_member_shares_sum_to_the_line(amount: Decimal, members: list[int]) -> None:
    shares = c.allocate_to_members(amount, members)
    if members:
        assert sum(shares.values()) == amount
        assert all(v >= 0 for v in shares.values())
    assert (
        c.Statement(
            1,
            (
                c.PaymentLine(1, "tier1", "d", 1, amount, amount, "c", "e"),
                c.PaymentLine(1, "tier2", "d", 1, amount, amount, "c", "e"),
            ),
        ).total
        == amount * 2
    )


@pytest.mark.parametrize(
    ("target", "den", "num", "needed"),
    [
        (Decimal("0.7"), 10, 6, 1),  # ceil(7.0) - 6: exact decimal, no 7.000000001 surprise
        (Decimal("0.7"), 10, 7, 0),
        (Decimal("0.6"), 2, 1, 1),  # ceil(1.2) - 1
        (Decimal("0.51"), 100, 50, 1),
    ],
)
def test_members_needed(target: Decimal, den: int, num: int, needed: int) -> None:
    assert c.members_needed(_target(target), den, num) == needed
