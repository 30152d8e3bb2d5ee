"""Time intervals for care-management timers: overlap checks, unions and month splits (pure).

CMS counts care-management time per calendar month and forbids counting the same minutes twice
(domain-rules.md §A4; reliability-plan.md §5 "CCM time"), so entries are half-open intervals
``[start, end)`` compared at minute precision, and a month total is the length of their union.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class TimeEntry:
    """One timed piece of work by one person: ``[start, end)``."""

    person: str
    start: datetime
    end: datetime
    label: str = ""

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(
                f"time entry {self.label or self.person!r} ends ({self.end}) at or before it starts"
            )

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True)
class Overlap:
    """Two entries of the same person that share time."""

    first: TimeEntry
    second: TimeEntry

    def describe(self) -> str:
        shared = min(self.first.end, self.second.end) - max(self.first.start, self.second.start)
        return (
            f"{self.first.person}: entry {self.first.label or self.first.start.isoformat()} overlaps "
            f"{self.second.label or self.second.start.isoformat()} by {int(shared.total_seconds() // 60)} min"
        )


def find_overlaps(entries: Iterable[TimeEntry]) -> list[Overlap]:
    """Every pair of entries of the same person that share at least one instant.

    Touching entries (one ends when the next starts) do not overlap. Sorting per person keeps
    this O(n log n) plus the number of overlaps found.
    """
    by_person: dict[str, list[TimeEntry]] = {}
    for entry in entries:
        by_person.setdefault(entry.person, []).append(entry)
    found: list[Overlap] = []
    for person_entries in by_person.values():
        ordered = sorted(person_entries, key=lambda e: (e.start, e.end))
        active: list[TimeEntry] = []
        for entry in ordered:
            active = [other for other in active if other.end > entry.start]
            found.extend(Overlap(other, entry) for other in active)
            active.append(entry)
    return found


def merge_intervals(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The union of ``[start, end)`` spans as sorted, disjoint, non-touching spans."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def measure_union_minutes(spans: Iterable[tuple[datetime, datetime]]) -> int:
    """Whole minutes covered by the union of the spans (seconds are summed before flooring)."""
    total = sum(((end - start) for start, end in merge_intervals(spans)), timedelta())
    return int(total.total_seconds() // 60)


def split_at_month_ends(entry: TimeEntry) -> list[TimeEntry]:
    """Cut an entry that crosses midnight at a month end into one piece per calendar month."""
    pieces: list[TimeEntry] = []
    start = entry.start
    while True:
        boundary = _first_instant_of_next_month(start)
        if entry.end <= boundary:
            pieces.append(TimeEntry(entry.person, start, entry.end, entry.label))
            return pieces
        pieces.append(TimeEntry(entry.person, start, boundary, entry.label))
        start = boundary


def total_month_minutes(entries: Sequence[TimeEntry], year: int, month: int) -> int:
    """Union minutes of ``entries`` that fall inside the calendar month ``year-month``."""
    month_start = datetime(year, month, 1)
    month_end = _first_instant_of_next_month(month_start)
    spans = [
        (max(e.start, month_start), min(e.end, month_end))
        for e in entries
        if e.end > month_start and e.start < month_end
    ]
    return measure_union_minutes(spans)


def _first_instant_of_next_month(moment: datetime) -> datetime:
    if moment.month == 12:
        return datetime(moment.year + 1, 1, 1, tzinfo=moment.tzinfo)
    return datetime(moment.year, moment.month + 1, 1, tzinfo=moment.tzinfo)
