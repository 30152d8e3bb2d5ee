"""Covered days for PDC as Ibis expressions: split, shift, optionally censor stays, union.

Building blocks of :func:`openvbc.engine.adherence.evaluate`, usable on their own (the benchmark
and the tests call :func:`compute_pdc` directly). Every function takes and returns Ibis tables
whose days are integer day numbers, so the same expression compiles for DuckDB, PostgreSQL and
PySpark without per-dialect date arithmetic.

Input fills for :func:`compute_pdc`: ``fill_id, member_id, ingredient, fill_day, days_supply``
(only fills that count: right class, inside the member's window, positive supply). Windows:
``member_id, index_day, end_day`` (both inclusive).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import ibis

_EPOCH = date(1970, 1, 1)


def day_number(day: date) -> int:
    """Days since 1970-01-01, the integer the expressions use for a date (same as ``epoch_days``)."""
    return (day - _EPOCH).days


def split_target_ingredients(fills: Any, target_ingredients: Sequence[str]) -> Any:
    """One row per (fill, target ingredient): adds ``stream``.

    A combination product counts once for each target ingredient it contains, so
    amlodipine|atorvastatin becomes an atorvastatin fill for PDC-STA and nothing else. Matching
    pads the ``|``-joined list with delimiters and tests containment, which every backend runs
    the same way (PySpark's ``split`` takes a regex, where ``|`` means "or"). A combination
    with no listed target keeps its whole ingredient string as one stream, so a gap in the list
    can never make a fill vanish.
    """
    single = fills.filter(~fills.ingredient.contains("|")).mutate(stream=fills.ingredient)
    combos = fills.filter(fills.ingredient.contains("|"))
    if not target_ingredients:
        return single.union(combos.mutate(stream=combos.ingredient))
    names = ibis.memtable({"target_ingredient": sorted({name.lower() for name in target_ingredients})})
    # The streams of a combination depend only on its ingredient string: work them out once per
    # distinct string (a few dozen), then attach them to the fills with an equi-join.
    kinds = combos.select("ingredient").distinct()
    padded = "|" + kinds.ingredient + "|"
    matched = (
        kinds.cross_join(names)
        .filter(padded.contains("|" + names.target_ingredient + "|"))
        .select(ingredient=kinds.ingredient, stream=names.target_ingredient)
    )
    unmatched = kinds.anti_join(matched, "ingredient").select("ingredient", stream=kinds.ingredient)
    streams = matched.union(unmatched)
    columns = [*fills.columns, "stream"]
    return single.select(columns).union(combos.join(streams, "ingredient").select(columns))


def shift_overlapping_fills(streams: Any) -> Any:
    """Add ``first_day`` / ``last_day``: each fill starts after the previous supply of its stream.

    The PQA cascade ``start_i = max(fill_i, end_{i-1} + 1)`` is a recursion; its closed form
    ``end_i = S_i + max_{j<=i}(fill_j - 1 - S_{j-1})`` (S = running days supply of the stream)
    needs one running sum and one running max over the same ordering, with no recursion.
    """
    window = ibis.window(
        group_by=[streams.member_id, streams.stream],
        order_by=[streams.fill_day, streams.fill_id],
        rows=(None, 0),
    )
    running = streams.mutate(supply_through=streams.days_supply.sum().over(window))
    slack = running.fill_day - 1 - (running.supply_through - running.days_supply)
    shifted = running.mutate(last_day=running.supply_through + slack.max().over(window))
    return shifted.mutate(first_day=shifted.last_day - shifted.days_supply + 1).drop("supply_through")


def sum_covered_days(intervals: Any, windows: Any) -> Any:
    """Days in the union of [first_day, last_day] per member, clipped to the member's window.

    Different ingredients of a class are not stacked: a day is covered once however many
    ingredients cover it. The union length is the sum over intervals (ordered by start) of the
    part that lies after every earlier interval's end: one running max, no islands.
    """
    joined = intervals.join(windows, "member_id")
    clipped = joined.mutate(
        lo=ibis.greatest(joined.first_day, joined.index_day),
        hi=ibis.least(joined.last_day, joined.end_day),
    )
    clipped = clipped.filter(clipped.lo <= clipped.hi)
    earlier = ibis.window(
        group_by=clipped.member_id,
        order_by=[clipped.lo, clipped.hi],
        rows=(None, -1),
    )
    previous_end = clipped.hi.max().over(earlier)
    with_previous = clipped.mutate(previous_end=previous_end)
    fresh_from = ibis.greatest(
        with_previous.lo, with_previous.previous_end.fill_null(with_previous.lo - 1) + 1
    )
    fresh = ibis.greatest(0, with_previous.hi - fresh_from + 1)
    return with_previous.group_by("member_id").agg(covered_days=fresh.sum().cast("int64"))


def merge_stays(stays: Any) -> Any:
    """Merge overlapping or touching stays per member: ``member_id, stay_start, stay_end`` (days)."""
    earlier = ibis.window(
        group_by=stays.member_id, order_by=[stays.stay_start, stays.stay_end], rows=(None, -1)
    )
    marked = stays.mutate(reach=stays.stay_end.max().over(earlier))
    opens = ibis.ifelse(marked.reach.isnull() | (marked.stay_start > marked.reach + 1), 1, 0)
    running = ibis.window(
        group_by=marked.member_id, order_by=[marked.stay_start, marked.stay_end], rows=(None, 0)
    )
    numbered = marked.mutate(island=opens.sum().over(running))
    return numbered.group_by(["member_id", "island"]).agg(
        stay_start=numbered.stay_start.min(), stay_end=numbered.stay_end.max()
    )


def remove_stay_days(table: Any, day_columns: Sequence[str], merged_stays: Any) -> Any:
    """Map day numbers onto a calendar with the member's stay days taken out.

    ``day - (stay days strictly before day)``: a stay day maps onto the first day after the
    stay, so supply that would have been used in hospital is carried past discharge (the CMS
    inpatient/SNF adjustment), and counting in the mapped calendar censors the stay days from
    both the numerator and the denominator.
    """
    keys = list(table.columns)
    stays = merged_stays.select(
        stay_member=merged_stays.member_id, stay_start=merged_stays.stay_start, stay_end=merged_stays.stay_end
    )
    joined = table.left_join(stays, table.member_id == stays.stay_member)
    sums = {}
    for column in day_columns:
        before = ibis.least(joined.stay_end, joined[column] - 1) - joined.stay_start + 1
        counted = ibis.ifelse(joined.stay_start.isnull() | (before < 0), 0, before)
        sums[f"_stay_{column}"] = counted.sum()
    totals = joined.group_by(keys).agg(**sums)
    return totals.mutate(
        **{column: (totals[column] - totals[f"_stay_{column}"]).cast("int64") for column in day_columns}
    ).drop(*sums)


def compute_pdc(fills: Any, windows: Any, target_ingredients: Sequence[str] = (), stays: Any = None) -> Any:
    """Covered and period days per member: ``member_id, covered_days, period_days``.

    ``stays`` (``member_id, stay_start, stay_end`` in day numbers, inclusive) switches on the
    inpatient/SNF adjustment: stay days leave both numerator and denominator.
    """
    streams = split_target_ingredients(fills, target_ingredients)
    if stays is not None:
        merged = merge_stays(stays)
        streams = remove_stay_days(streams, ["fill_day"], merged)
        mapped = remove_stay_days(
            windows.mutate(after_end=windows.end_day + 1), ["index_day", "after_end"], merged
        )
        windows = mapped.select("member_id", "index_day", end_day=mapped.after_end - 1)
    covered = sum_covered_days(shift_overlapping_fills(streams), windows)
    result = windows.left_join(covered, windows.member_id == covered.member_id)
    return result.select(
        member_id=result.member_id,
        covered_days=result.covered_days.fill_null(0).cast("int64"),
        period_days=ibis.greatest(0, result.end_day - result.index_day + 1).cast("int64"),
    )
