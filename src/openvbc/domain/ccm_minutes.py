"""A patient-month's countable care-management minutes by performer role (pure).

CMS counts CCM time per calendar month, never twice (domain-rules.md §A4; MLN909188): time the
same minutes were already counted for TCM or MTM is removed, and when a practitioner and clinical
staff work at the same instant the instant is counted once. So the month total is the length of
the union of the entries clipped to the month, less the union of the excluded spans;
practitioner minutes are the practitioner entries' own union, and clinical-staff minutes are the
remainder, so that families counting both roles see exactly the union.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from openvbc.domain.intervals import merge_intervals

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class RoleSpan:
    role: str  # clinical_staff | practitioner
    start: datetime
    end: datetime


@dataclass(frozen=True)
class MonthMinutes:
    clinical_staff: int
    practitioner: int
    excluded: int  # minutes of CCM entries already counted for TCM or MTM

    def by_role(self) -> dict[str, int]:
        return {"clinical_staff": self.clinical_staff, "practitioner": self.practitioner}


def month_bounds(year: int, month: int) -> Span:
    start = datetime(year, month, 1)
    end = datetime(year + 1, 1, 1) if month == 12 else datetime(year, month + 1, 1)
    return start, end


def count_month_minutes(entries: Sequence[RoleSpan], excluded: Iterable[Span], window: Span) -> MonthMinutes:
    """Minutes by role inside ``window`` (a month, or the part of it under consent and enrolment)."""
    all_spans = _clip((e.start, e.end) for e in entries)
    all_spans = _clip_to(all_spans, window)
    practitioner = _clip_to(_clip((e.start, e.end) for e in entries if e.role == "practitioner"), window)
    removed = _clip_to(_clip(excluded), window)
    before = _seconds(merge_intervals(all_spans))
    total = _seconds(subtract_spans(merge_intervals(all_spans), removed))
    own = _seconds(subtract_spans(merge_intervals(practitioner), removed))
    total_minutes, practitioner_minutes = int(total // 60), int(own // 60)
    return MonthMinutes(
        clinical_staff=total_minutes - practitioner_minutes,
        practitioner=practitioner_minutes,
        excluded=int(before // 60) - total_minutes,
    )


def subtract_spans(spans: Sequence[Span], removed: Sequence[Span]) -> list[Span]:
    """``spans`` (disjoint, sorted) less every instant covered by ``removed``."""
    cuts = merge_intervals(removed)
    out: list[Span] = []
    for start, end in spans:
        current = start
        for cut_start, cut_end in cuts:
            if cut_end <= current or cut_start >= end:
                continue
            if cut_start > current:
                out.append((current, cut_start))
            current = max(current, cut_end)
            if current >= end:
                break
        if current < end:
            out.append((current, end))
    return out


def _clip(spans: Iterable[Span]) -> list[Span]:
    return [(start, end) for start, end in spans if end > start]


def _clip_to(spans: Iterable[Span], window: Span) -> list[Span]:
    low, high = window
    return [(max(s, low), min(e, high)) for s, e in spans if e > low and s < high]


def _seconds(spans: Iterable[Span]) -> float:
    return sum(((end - start) for start, end in spans), timedelta()).total_seconds()
