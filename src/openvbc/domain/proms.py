"""Patient-reported outcome measures: scoring one questionnaire and judging a change.

Pure values and arithmetic. What an instrument *is* (its items, score range, how missing answers are
handled, its minimal clinically important difference) comes from a rule file
(``rules/registry/proms/*.yaml``), so the Oswestry Disability Index, a numeric pain rating or a
future instrument are scored by the same two functions.

Two scoring methods cover the spine module's instruments:

- ``percent_of_answered`` (Oswestry Disability Index v2.1a): each section scores ``item_min`` to
  ``item_max``; the index is the sum of the answered sections divided by the most those sections
  could score, times 100. An unanswered section lowers the possible total rather than counting as
  zero (Fairbank & Pynsent, Spine 2000;25(22):2940-52). More than ``max_missing`` unanswered
  sections leaves the questionnaire unscored, because the percentage then rests on too little.
- ``single_item`` (numeric pain rating 0-10): the score is the one answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

ScoringMethod = Literal["percent_of_answered", "single_item"]
Direction = Literal["lower_is_better", "higher_is_better"]


@dataclass(frozen=True)
class Mcid:
    """Minimal clinically important improvement: ``points`` absolute, or ``percent`` of baseline.

    When both are given an improvement counts if it reaches either (the consensus of Ostelo et al.,
    Spine 2008;33(1):90-94, states both an absolute and a 30 % relative threshold); ``rule`` says which
    combination the registry applies.
    """

    points: float | None
    percent: float | None
    rule: Literal["either", "points", "percent", "both"] = "either"


@dataclass(frozen=True)
class PromInstrument:
    """One questionnaire as the rule file describes it."""

    id: str
    version: str
    items: tuple[str, ...]
    item_min: int
    item_max: int
    scoring: ScoringMethod
    max_missing: int
    direction: Direction
    mcid: Mcid
    decimals: int = 1


@dataclass(frozen=True)
class PromScore:
    """The score of one administration, or why there is none."""

    instrument_id: str
    score: float | None
    answered: int
    missing: tuple[str, ...]
    problem: str | None = None


@dataclass(frozen=True)
class PromChange:
    """Baseline to follow-up: the change (positive = better) and whether it reaches the MCID."""

    instrument_id: str
    baseline: float
    follow_up: float
    improvement: float
    improvement_percent: float | None
    meets_mcid: bool
    explanation: str


class PromAnswerError(ValueError):
    """An answer outside the instrument's range or an item the instrument does not have."""


def _round(value: float, decimals: int) -> float:
    # Half-up rounding as people do it by hand (Python's round() is half-to-even).
    quantum = Decimal(1).scaleb(-decimals)
    return float(Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def check_answers(instrument: PromInstrument, answers: Mapping[str, int | None]) -> None:
    """Raise :class:`PromAnswerError` naming the first unknown item or out-of-range answer."""
    for item, value in answers.items():
        if item not in instrument.items:
            raise PromAnswerError(f"{instrument.id} has no item {item!r}")
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise PromAnswerError(
                f"{instrument.id} item {item}: answer must be a whole number, got {value!r}"
            )
        if not instrument.item_min <= value <= instrument.item_max:
            span = f"{instrument.item_min}-{instrument.item_max}"
            raise PromAnswerError(f"{instrument.id} item {item}: answer {value} is outside {span}")


def score_prom(instrument: PromInstrument, answers: Mapping[str, int | None]) -> PromScore:
    """Score one administration (answers keyed by item id; missing or ``None`` = not answered)."""
    check_answers(instrument, answers)
    given = {item: answers.get(item) for item in instrument.items}
    answered = {item: value for item, value in given.items() if value is not None}
    missing = tuple(item for item, value in given.items() if value is None)
    if len(missing) > instrument.max_missing or not answered:
        problem = f"{len(missing)} item(s) unanswered; at most {instrument.max_missing} allowed"
        return PromScore(instrument.id, None, len(answered), missing, problem)
    if instrument.scoring == "single_item":
        value = float(next(iter(answered.values())))
        return PromScore(instrument.id, value, len(answered), missing)
    span = instrument.item_max - instrument.item_min
    raw = sum(value - instrument.item_min for value in answered.values())
    percent = 100.0 * raw / (span * len(answered))
    return PromScore(instrument.id, _round(percent, instrument.decimals), len(answered), missing)


def assess_change(instrument: PromInstrument, baseline: float, follow_up: float) -> PromChange:
    """Improvement from baseline to follow-up and whether it is clinically important."""
    sign = -1.0 if instrument.direction == "lower_is_better" else 1.0
    improvement = _round(sign * (follow_up - baseline), instrument.decimals)
    percent = None if baseline == 0 else _round(100.0 * improvement / abs(baseline), 1)
    mcid = instrument.mcid
    by_points = mcid.points is not None and improvement >= mcid.points
    by_percent = mcid.percent is not None and percent is not None and percent >= mcid.percent
    meets = {
        "either": by_points or by_percent,
        "points": by_points,
        "percent": by_percent,
        "both": by_points and by_percent,
    }[mcid.rule]
    thresholds = []
    if mcid.points is not None:
        thresholds.append(f"{mcid.points:g} points")
    if mcid.percent is not None:
        thresholds.append(f"{mcid.percent:g} %")
    verdict = "meets" if meets else "does not meet"
    shown_percent = "n/a" if percent is None else f"{percent:g} %"
    explanation = (
        f"{instrument.id} {baseline:g} -> {follow_up:g}: "
        f"improvement {improvement:g} points ({shown_percent}); "
        f"{verdict} the MCID ({' / '.join(thresholds)}, rule: {mcid.rule})"
    )
    return PromChange(instrument.id, baseline, follow_up, improvement, percent, meets, explanation)
