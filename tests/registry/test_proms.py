"""PROM scoring and MCID, golden cases worked out by hand (rules/registry/proms/*.yaml)."""

from __future__ import annotations

import pytest

from openvbc.domain.proms import PromAnswerError, assess_change, score_prom
from openvbc.rules.registry.schema import load_prom_instrument

ODI_ITEMS = (
    "pain_intensity",
    "personal_care",
    "lifting",
    "walking",
    "sitting",
    "standing",
    "sleeping",
    "sex_life",
    "social_life",
    "travelling",
)


def odi_answers(*values: int | None) -> dict[str, int | None]:
    return dict(zip(ODI_ITEMS, values, strict=True))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # 2+1+3+2+2+1+1+0+2+2 = 16 of 50 possible -> 16 / 50 x 100 = 32.0 (Fairbank's worked example)
        ((2, 1, 3, 2, 2, 1, 1, 0, 2, 2), 32.0),
        # sex life not answered: 16 of 45 possible -> 16 / 45 x 100 = 35.555... -> 35.6
        ((2, 1, 3, 2, 2, 1, 1, None, 2, 2), 35.6),
        # every section at its worst: 50 / 50 -> 100.0 ; at its best: 0 / 50 -> 0.0
        ((5,) * 10, 100.0),
        ((0,) * 10, 0.0),
        # 1+1+1+1+1+1+1+1+1+2 = 11 of 50 -> 22.0
        ((1, 1, 1, 1, 1, 1, 1, 1, 1, 2), 22.0),
    ],
)
def test_odi_scores(values: tuple[int | None, ...], expected: float) -> None:
    odi = load_prom_instrument("ODI")
    assert score_prom(odi, odi_answers(*values)).score == expected


def test_odi_with_two_sections_missing_is_not_scored() -> None:
    odi = load_prom_instrument("ODI")
    result = score_prom(odi, odi_answers(2, 1, 3, 2, 2, 1, 1, None, None, 2))
    assert result.score is None
    assert result.answered == 8
    assert result.missing == ("sex_life", "social_life")
    assert result.problem is not None and "at most 1" in result.problem


def test_odi_missing_keys_count_as_unanswered() -> None:
    odi = load_prom_instrument("ODI")
    answers = {item: 2 for item in ODI_ITEMS if item != "sex_life"}  # 9 x 2 = 18 of 45 -> 40.0
    assert score_prom(odi, answers).score == 40.0


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"pain_intensity": 6}, "outside 0-5"),
        ({"pain_intensity": -1}, "outside 0-5"),
        ({"back_itch": 1}, "no item 'back_itch'"),
        ({"pain_intensity": 2.5}, "whole number"),
    ],
)
def test_bad_answers_are_named(answers: dict[str, int], message: str) -> None:
    with pytest.raises(PromAnswerError, match=message):
        score_prom(load_prom_instrument("ODI"), answers)


def test_nprs_is_the_single_answer() -> None:
    nprs = load_prom_instrument("NPRS")
    assert score_prom(nprs, {"pain_now": 7}).score == 7.0
    assert score_prom(nprs, {"pain_now": 0}).score == 0.0
    assert score_prom(nprs, {"pain_now": None}).score is None
    with pytest.raises(PromAnswerError, match="outside 0-10"):
        score_prom(nprs, {"pain_now": 11})


@pytest.mark.parametrize(
    ("instrument", "baseline", "follow_up", "improvement", "percent", "meets"),
    [
        # ODI MCID: 10 points or 30 % of baseline (Ostelo 2008), either suffices
        ("ODI", 40.0, 28.0, 12.0, 30.0, True),  # 40-28 = 12 >= 10 ; 12/40 = 30 %
        ("ODI", 40.0, 31.0, 9.0, 22.5, False),  # 9 < 10 ; 9/40 = 22.5 % < 30 %
        ("ODI", 20.0, 13.0, 7.0, 35.0, True),  # 7 < 10 but 7/20 = 35 % >= 30 %
        ("ODI", 30.0, 38.0, -8.0, -26.7, False),  # worse: -8 ; -8/30 = -26.666 -> -26.7 %
        ("ODI", 50.0, 40.0, 10.0, 20.0, True),  # exactly 10 points
        # NPRS MCID: 2 points or 30 %
        ("NPRS", 7.0, 5.0, 2.0, 28.6, True),  # 2 >= 2 ; 2/7 = 28.57 %
        ("NPRS", 3.0, 2.0, 1.0, 33.3, True),  # 1 < 2 but 1/3 = 33.3 % >= 30 %
        ("NPRS", 8.0, 7.0, 1.0, 12.5, False),  # 1 < 2 ; 1/8 = 12.5 %
    ],
)
def test_mcid(
    instrument: str, baseline: float, follow_up: float, improvement: float, percent: float, meets: bool
) -> None:
    change = assess_change(load_prom_instrument(instrument), baseline, follow_up)
    assert change.improvement == improvement
    assert change.improvement_percent == percent
    assert change.meets_mcid is meets
    assert ("meets the MCID" in change.explanation) is meets


def test_zero_baseline_has_no_percent() -> None:
    change = assess_change(load_prom_instrument("NPRS"), 0.0, 0.0)
    assert change.improvement_percent is None
    assert change.meets_mcid is False
