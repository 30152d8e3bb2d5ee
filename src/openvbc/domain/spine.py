"""Low back pain episodes of care and the PROM time points inside them (pure).

An episode opens on a low-back-pain diagnosis that follows at least ``clean_period_days`` without
one (the negative diagnosis history idea of the NCQA low-back-pain imaging measure, whose look-back
is 180 days), and stays open while further low-back-pain diagnoses arrive within that many days of
the previous one. The codes, the clean period and the PROM windows are rule data
(``rules/registry/spine/low_back_pain.yaml``); this module only applies them.

PROM time points are day windows relative to the episode start: the baseline is the scored
administration closest to the start inside its window (the nearest to treatment start describes
the patient's state before it), and each follow-up is the one closest to its target day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Timepoint:
    """A PROM window: days from episode start, inclusive, with the day the window aims at."""

    name: str
    from_day: int
    to_day: int
    target_day: int


@dataclass(frozen=True)
class EpisodeRule:
    version: str
    icd10_prefixes: tuple[str, ...]
    clean_period_days: int
    baseline: Timepoint
    follow_ups: tuple[Timepoint, ...]
    outcome_follow_up: str  # the follow-up whose change decides the MCID outcome measure


@dataclass(frozen=True)
class DatedDiagnosis:
    day: date
    code: str  # ICD-10-CM, dots allowed
    source: str = ""  # e.g. "condition:12", "claim:5"


@dataclass(frozen=True)
class Episode:
    start: date
    end: date  # the last low-back-pain diagnosis of the episode
    index_code: str
    diagnoses: int
    evidence: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"lbp:{self.start.isoformat()}"


@dataclass(frozen=True)
class ScoredAdministration:
    administered_on: date
    instrument_id: str
    score: float
    source: str = ""


def normalise_icd10(code: str) -> str:
    return code.replace(".", "").strip().upper()


def is_low_back_pain(code: str, rule: EpisodeRule) -> bool:
    compact = normalise_icd10(code)
    return any(compact.startswith(prefix) for prefix in rule.icd10_prefixes)


def build_episodes(diagnoses: Iterable[DatedDiagnosis], rule: EpisodeRule) -> list[Episode]:
    """One member's episodes, oldest first, from any diagnoses (non-LBP codes are ignored)."""
    relevant = sorted((d for d in diagnoses if is_low_back_pain(d.code, rule)), key=lambda d: (d.day, d.code))
    episodes: list[Episode] = []
    current: list[DatedDiagnosis] = []
    for diagnosis in relevant:
        if current and (diagnosis.day - current[-1].day).days > rule.clean_period_days:
            episodes.append(_close(current))
            current = []
        current.append(diagnosis)
    if current:
        episodes.append(_close(current))
    return episodes


def _close(diagnoses: Sequence[DatedDiagnosis]) -> Episode:
    first = diagnoses[0]
    evidence = tuple(d.source for d in diagnoses if d.source)
    return Episode(
        start=first.day,
        end=diagnoses[-1].day,
        index_code=normalise_icd10(first.code),
        diagnoses=len(diagnoses),
        evidence=evidence,
    )


def classify_timepoint(episode: Episode, administered_on: date, rule: EpisodeRule) -> str | None:
    """The name of the window an administration falls in (baseline first), or None."""
    offset = (administered_on - episode.start).days
    for point in (rule.baseline, *rule.follow_ups):
        if point.from_day <= offset <= point.to_day:
            return point.name
    return None


def pick_administration(
    episode: Episode, administrations: Iterable[ScoredAdministration], point: Timepoint
) -> ScoredAdministration | None:
    """The administration in the window closest to its target day (ties: the earlier one)."""
    inside = [
        a
        for a in administrations
        if point.from_day <= (a.administered_on - episode.start).days <= point.to_day
    ]
    if not inside:
        return None
    return min(
        inside,
        key=lambda a: (abs((a.administered_on - episode.start).days - point.target_day), a.administered_on),
    )


def find_timepoint(rule: EpisodeRule, name: str) -> Timepoint:
    for point in (rule.baseline, *rule.follow_ups):
        if point.name == name:
            return point
    raise KeyError(f"no PROM time point {name!r} in spine rule {rule.version}")
