"""Measurement periods and other date windows (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class MeasurementPeriod:
    """A closed date interval [start, end]."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"measurement period ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def calendar_year(cls, year: int) -> MeasurementPeriod:
        return cls(date(year, 1, 1), date(year, 12, 31))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def shifted(self, days: int) -> MeasurementPeriod:
        return MeasurementPeriod(self.start + timedelta(days=days), self.end + timedelta(days=days))
