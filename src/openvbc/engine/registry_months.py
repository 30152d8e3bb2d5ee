"""Month-by-month measure results for the longitudinal registry, and who a result belongs to.

**How a monthly status is computed: by re-running the measure over a shifted measurement period.**
For month M, the ``rolling12`` window is the 12 months ending on the last day of M and the
``calendar`` window is January 1 of the year to the last day of M; the measure's own Ibis
expression (``engine.registry.find_evaluator``) is evaluated with that period. The alternative --
deriving a monthly status from the evidence rows (most recent reading up to M ...) -- would be a
second implementation of every measure, and would drift from the annual result the plan pays on
(DESIGN.md decision 2). Re-running costs 12 evaluations a year; they are built as one ``UNION ALL``
expression, so the backend plans and runs them together (measured in docs/registry-and-mips.md).
"Controlled in month M" therefore means exactly "would be in the numerator (or, for an inverse
measure, out of it) if the measurement period ended in M".

**Attribution to a clinician (TIN/NPI).** A member's result belongs to every clinician who rendered
one of the member's qualifying visits in the period (the measure's own visit value sets; any
performed encounter for registry measures without them), through ``encounter.provider_npi`` and the
clinician's ``provider.tin``. This is the MIPS convention of reporting the patients a clinician saw;
a member seen by two clinicians counts for both.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any, Literal

import ibis

from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.measures import cms138, exclusions
from openvbc.engine.measures.common import MeasureData, Table, resolve_value_sets, shift_months
from openvbc.engine.measures.results import union_groups
from openvbc.engine.registry import find_evaluator

Window = Literal["rolling12", "calendar"]
WINDOWS: tuple[Window, ...] = ("rolling12", "calendar")

# The visit value sets each eCQM counts as a qualifying encounter (names as in the rule files).
VISIT_VALUE_SETS: dict[str, tuple[str, ...]] = {
    "CMS165": exclusions.QUALIFYING_OUTPATIENT,
    "CMS122": exclusions.QUALIFYING_OUTPATIENT,
    "GSD": exclusions.QUALIFYING_OUTPATIENT,
    "CMS138": (*cms138.QUALIFYING_VISITS, *cms138.PREVENTIVE_VISITS),
}
PERFORMED = ("finished", "arrived", "triaged", "in-progress", "onleave")


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def month_period(year: int, month: int, window: Window) -> MeasurementPeriod:
    """The measurement period whose status is reported for ``year-month`` in a window."""
    end = month_end(year, month)
    if window == "calendar":
        return MeasurementPeriod(date(year, 1, 1), end)
    start = shift_months(end + timedelta(days=1), -12)
    return MeasurementPeriod(start, end)


def evaluate_months(
    tables: Mapping[str, Table],
    rule: Mapping[str, Any],
    year: int,
    window: Window,
    months: Sequence[int] = tuple(range(1, 13)),
) -> Table:
    """Member-level results of one measure for each month of ``year`` (one UNION ALL expression).

    Columns: ``month`` (YYYY-MM), ``window``, ``period_start``, ``period_end``, the measure's
    ``MEMBER_RESULT_COLUMNS`` and ``good_outcome`` (numerator, or not numerator for a
    ``decrease``-improvement measure, among members in the scored denominator; null outside it).
    """
    evaluate = find_evaluator(str(rule["id"]))
    inverse = str(rule.get("improvement", "increase")) == "decrease"
    parts = []
    for month in months:
        period = month_period(year, month, window)
        result = evaluate(tables, rule, period)
        scored = result.denominator & ~result.denominator_exclusion & ~result.denominator_exception
        good = ~result.numerator if inverse else result.numerator
        parts.append(
            result.mutate(
                month=ibis.literal(f"{year}-{month:02d}"),
                window=ibis.literal(window),
                period_start=ibis.literal(period.start, type="date"),
                period_end=ibis.literal(period.end, type="date"),
                good_outcome=ibis.ifelse(scored, good, ibis.null("boolean")),
            )
        )
    return union_groups(parts)


def visit_clinicians(
    tables: Mapping[str, Table],
    rule: Mapping[str, Any] | None,
    period: MeasurementPeriod,
) -> Table:
    """(member_id, npi, tin) for every clinician rendering a qualifying visit during the period.

    ``rule`` names the measure (its visit value sets); ``None`` counts any performed encounter.
    """
    names = VISIT_VALUE_SETS.get(str(rule["id"]).upper(), ()) if rule is not None else ()
    if names:
        data = MeasureData(tables, resolve_value_sets(rule or {}), period)
        visits = data.encounters(*names)
        visits = visits.filter(data.during(visits.day_start, visits.day_end))
    else:
        e = tables["encounter"]
        day = e.start_at.date()
        visits = e.filter(
            e.status.isin(PERFORMED)
            & day.between(ibis.literal(period.start, type="date"), ibis.literal(period.end, type="date"))
        )
    providers = tables["provider"]
    clinicians = providers.filter(providers.kind == "clinician").select(p_npi="npi", tin="tin")
    joined = visits.inner_join(clinicians, visits.provider_npi == clinicians.p_npi)
    return joined.select(
        member_id=joined.member_id.cast("int64"), npi=joined.p_npi, tin=joined.tin
    ).distinct()


def attributed_members(
    tables: Mapping[str, Table],
    rule: Mapping[str, Any] | None,
    period: MeasurementPeriod,
    tin: str,
    npi: str | None = None,
) -> Table:
    """Members whose result belongs to a TIN (group) or a TIN/NPI (individual clinician)."""
    visits = visit_clinicians(tables, rule, period)
    wanted = visits.tin == tin
    if npi is not None:
        wanted = wanted & (visits.npi == npi)
    return visits.filter(wanted).select("member_id").distinct()
