"""Proportion of Days Covered over plain numpy arrays: the reference kernel and speed floor.

This is the same arithmetic as the Ibis expressions in :mod:`openvbc.engine.adherence_coverage`,
written over sorted integer arrays so it can serve two purposes: a cross-check in the tests (the
two must agree member by member) and the floor the benchmark compares the SQL engines with
(``docs/reference performance notes``: two packed-key sorts plus segmented scans).

Inputs are one row per (fill, target ingredient) pair that already passed the rules upstream
(class, measurement window, positive days supply); days are integer day numbers. Nothing here
decides who is in the denominator: the kernel only measures coverage.

The shift of early refills uses the recursion-free closed form: within one stream (member,
ingredient) ordered by fill day, with ``S_i`` the running sum of days supply,
``end_i = S_i + max_{j<=i}(fill_j - 1 - S_{j-1})``. It equals the PQA cascade
``start_i = max(fill_i, end_{i-1} + 1)`` exactly (proof in docs/adherence.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class MemberCoverage:
    """Coverage per member, ordered by member id (all arrays have one entry per member)."""

    member: IntArray
    index_day: IntArray  # first fill day (the IPSD)
    end_day: IntArray  # last day of the member's own period
    fill_dates: IntArray  # distinct fill days
    covered_days: IntArray
    period_days: IntArray


def _as_int64(values: npt.ArrayLike) -> IntArray:
    return np.ascontiguousarray(np.asarray(values, dtype=np.int64))


def _segment_starts(keys: IntArray) -> npt.NDArray[np.bool_]:
    """True where a sorted key array starts a new run."""
    starts = np.empty(keys.shape[0], dtype=bool)
    if keys.shape[0]:
        starts[0] = True
        np.not_equal(keys[1:], keys[:-1], out=starts[1:])
    return starts


def _sort_order(*keys: IntArray) -> npt.NDArray[np.intp]:
    """Indices sorting by ``keys`` (first key most significant).

    Packs the keys into one int64 when their ranges fit in 62 bits, because one ``argsort`` of
    packed integers is several times faster than ``lexsort`` over separate columns; falls back
    to ``lexsort`` otherwise. Rows with equal keys may come in any order (no caller depends on it).
    """
    packed = np.zeros(keys[0].shape[0], dtype=np.int64)
    bits = 0
    for key in keys:
        low = int(key.min()) if key.shape[0] else 0
        width = (int(key.max()) - low + 1).bit_length() if key.shape[0] else 1
        bits += width
        if bits > 62:
            return np.lexsort(tuple(reversed(keys)))
        packed = (packed << width) | (key - low)
    return np.argsort(packed)


def _segmented_running_max(values: IntArray, segment_id: IntArray) -> IntArray:
    """Running maximum restarting at each segment (segment ids ascending from 0).

    Lifting each segment by ``segment_id * span`` makes every value of a later segment larger
    than any earlier one, so one global ``maximum.accumulate`` restarts per segment.
    """
    if values.shape[0] == 0:
        return values.copy()
    low = int(values.min())
    span = int(values.max()) - low + 1
    if span * (int(segment_id[-1]) + 1) >= 2**62:
        raise OverflowError("day numbers span too wide for the packed running maximum")
    lifted = (values - low) + segment_id * span
    return np.maximum.accumulate(lifted) - segment_id * span + low


def shift_streams(
    member: npt.ArrayLike, ingredient: npt.ArrayLike, fill_day: npt.ArrayLike, days_supply: npt.ArrayLike
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Sort by stream and fill day; return (member, first_dose_day, last_dose_day, fill_day).

    Same-day fills of the same ingredient are stacked one after the other (their order does not
    change the result, because only the running sum of supply enters the end day).
    """
    m, ing, day, supply = (_as_int64(a) for a in (member, ingredient, fill_day, days_supply))
    order = _sort_order(m, ing, day)
    m, ing, day, supply = m[order], ing[order], day[order], supply[order]
    stream_start = _segment_starts(m) | _segment_starts(ing)
    stream_id = np.cumsum(stream_start) - 1
    running = np.cumsum(supply)
    # running sum of supply *before* the first fill of each stream, broadcast over the stream
    base = (running - supply)[stream_start][stream_id]
    supply_before = running - supply - base  # S_{i-1} within the stream
    last = running - base + _segmented_running_max(day - 1 - supply_before, stream_id)
    first = last - supply + 1
    return m, first, last, day


def union_covered_days(
    member: IntArray, first: IntArray, last: IntArray, window_start: IntArray, window_end: IntArray
) -> tuple[IntArray, IntArray]:
    """Days in the union of [first, last] per member, clipped to the member's window.

    ``window_start`` / ``window_end`` are given per interval (the member's window repeated).
    Returns (members ascending, covered days).
    """
    lo = np.maximum(first, window_start)
    hi = np.minimum(last, window_end)
    order = _sort_order(member, lo, hi)
    m, lo, hi = member[order], lo[order], hi[order]
    member_start = _segment_starts(m)
    member_id = np.cumsum(member_start) - 1
    running_hi = _segmented_running_max(hi, member_id)
    previous_hi = np.empty_like(running_hi)
    if m.shape[0]:
        previous_hi[1:] = running_hi[:-1]
    previous_hi[member_start] = (
        np.iinfo(np.int64).min // 4
    )  # nothing covered before a member's first interval
    fresh = np.maximum(0, hi - np.maximum(lo, previous_hi + 1) + 1)
    members = m[member_start]
    covered = np.add.reduceat(fresh, np.flatnonzero(member_start)) if m.shape[0] else fresh
    return members, covered.astype(np.int64)


def compute_member_coverage(
    member: npt.ArrayLike,
    ingredient: npt.ArrayLike,
    fill_day: npt.ArrayLike,
    days_supply: npt.ArrayLike,
    end_day: npt.ArrayLike,
) -> MemberCoverage:
    """PDC numerator and denominator per member from (fill, ingredient) rows.

    ``end_day`` is the member's last day (measurement period end, death or disenrolment),
    repeated on each of the member's rows. The index day is the member's first fill day.
    """
    m_in, day_in, end_in = _as_int64(member), _as_int64(fill_day), _as_int64(end_day)
    if m_in.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return MemberCoverage(empty, empty, empty, empty, empty, empty)
    order = _sort_order(m_in, day_in)
    m_sorted, day_sorted, end_sorted = m_in[order], day_in[order], end_in[order]
    member_start = _segment_starts(m_sorted)
    members = m_sorted[member_start]
    index_day = day_sorted[member_start]
    member_end = end_sorted[member_start]
    new_date = member_start | _segment_starts(day_sorted)
    fill_dates = np.add.reduceat(new_date.astype(np.int64), np.flatnonzero(member_start))

    m, first, last, _ = shift_streams(m_in, ingredient, day_in, days_supply)
    position = np.searchsorted(members, m)
    covered_members, covered = union_covered_days(m, first, last, index_day[position], member_end[position])
    assert np.array_equal(covered_members, members)
    period_days = np.maximum(0, member_end - index_day + 1)
    return MemberCoverage(members, index_day, member_end, fill_dates, covered, period_days)
