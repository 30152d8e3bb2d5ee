"""A per-day loop for PDC, written as plainly as possible: the oracle for the property tests."""

from __future__ import annotations

from collections.abc import Iterable


def naive_covered_days(fills: Iterable[tuple[str, int, int]], index_day: int, end_day: int) -> int:
    """Covered days in [index_day, end_day] for one member: (ingredient, fill day, supply) rows.

    Each ingredient's fills in date order; a fill starts the day after the previous supply of the
    same ingredient ends, if that is later than its fill day; a day counts once.
    """
    covered: set[int] = set()
    by_ingredient: dict[str, list[tuple[int, int]]] = {}
    for ingredient, day, supply in fills:
        by_ingredient.setdefault(ingredient, []).append((day, supply))
    for rows in by_ingredient.values():
        previous_end = None
        for day, supply in sorted(rows):
            start = day if previous_end is None else max(day, previous_end + 1)
            end = start + supply - 1
            previous_end = end
            covered.update(d for d in range(start, end + 1) if index_day <= d <= end_day)
    return len(covered)
