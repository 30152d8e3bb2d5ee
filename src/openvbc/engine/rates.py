"""Measure rates by stratum (PCP of record, line of business, age band, sex) as Ibis expressions.

Input: member-level results (``MEMBER_RESULT_COLUMNS``) and the canonical member table.
Output: one row per (measure, group, dimension, stratum) with the eligible population
(denominator minus exclusions and exceptions), numerator and rate, plus an ``all`` row.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis

AGE_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 17, "0-17"),
    (18, 44, "18-44"),
    (45, 64, "45-64"),
    (65, 74, "65-74"),
    (75, 200, "75+"),
)
RATE_COLUMNS = ("measure_id", "group_id", "dimension", "stratum", "eligible", "numerator", "rate")


def age_band(age: Any) -> Any:
    """The age band label of an age expression (``unknown`` when the age is null)."""
    branches = [(age.between(low, high), ibis.literal(label)) for low, high, label in AGE_BANDS]
    return ibis.cases(*branches, else_=ibis.literal("unknown"))


def compute_rates(results: Any, members: Any, as_of: date) -> Any:
    """Rates per stratum; ``as_of`` (normally the period end) fixes the age used for bands."""
    b = members.birth_date
    before_birthday = (b.month() > as_of.month) | ((b.month() == as_of.month) & (b.day() > as_of.day))
    age = ibis.literal(as_of.year) - b.year() - ibis.ifelse(before_birthday, 1, 0)
    strata = members.select(
        m_id=members.member_id.cast("int64"),
        provider=members.pcp_npi.fill_null("unassigned"),
        line_of_business=members.line_of_business.fill_null("unknown"),
        age_band=age_band(age),
        sex=members.sex.fill_null("U"),
    )
    joined = results.inner_join(strata, results.member_id == strata.m_id)
    eligible = ibis.ifelse(
        joined.denominator & ~joined.denominator_exclusion & ~joined.denominator_exception, 1, 0
    )
    joined = joined.mutate(
        eligible_flag=eligible,
        numerator_flag=ibis.ifelse(joined.numerator, 1, 0) * eligible,
        all_members=ibis.literal("all"),
    )
    parts = []
    for dimension, column in (
        ("all", "all_members"),
        ("provider", "provider"),
        ("line_of_business", "line_of_business"),
        ("age_band", "age_band"),
        ("sex", "sex"),
    ):
        grouped = joined.group_by(["measure_id", "group_id", joined[column].name("stratum")]).aggregate(
            eligible=joined.eligible_flag.sum(), numerator=joined.numerator_flag.sum()
        )
        parts.append(grouped.mutate(dimension=ibis.literal(dimension)))
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part)
    rate = ibis.ifelse(
        out.eligible > 0, out.numerator.cast("float64") / out.eligible.cast("float64"), ibis.null("float64")
    )
    return out.select(
        "measure_id",
        "group_id",
        "dimension",
        "stratum",
        eligible=out.eligible.cast("int64"),
        numerator=out.numerator.cast("int64"),
        rate=rate,
    ).order_by(["measure_id", "group_id", "dimension", "stratum"])
