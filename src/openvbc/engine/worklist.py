"""Outreach worklists (Ibis): per pharmacy, attributed members ordered by what a call is worth.

Points (weights are contract data, ``worklist`` section):

* one entry per open gap, read from member-level measure results: BP not controlled / not
  measured (CMS165), HbA1c > 9 % / missing (CMS122, or GSD's >9 % group), tobacco user
  (TOBACCO-FREE), PDC below the threshold (PDC-*), and PDC "at risk": still reachable this year
  but only if the member refills within 30 days;
* ``benchmark_mover_points`` when the member has an open gap in a benchmark the pharmacy misses
  by no more members than it has open gaps (reaching them can tip the benchmark);
* ``points_per_30_days_since_contact`` per whole 30 days since the last MTM encounter or
  reached outreach attempt, up to ``max_contact_points`` (never contacted = the maximum).

Last refill date that can still reach the PDC threshold ``t`` (p/q) for a member with ``C`` covered
days in a treatment period of ``P`` days ending ``E``: the member needs ``N = ceil(t*P) - C`` more
covered days; refilling on day ``d`` and staying covered to ``E`` adds ``E - d + 1`` days, so the
latest such ``d`` is ``E - N + 1``. When that date is before today, 80 % is out of reach this year.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Any

import ibis

from openvbc.domain.contract import ProgramContract

WORKLIST_COLUMNS = (
    "pharmacy_id",
    "rank",
    "member_id",
    "points",
    "gaps",
    "benchmark_mover",
    "last_contact",
    "days_since_contact",
    "pdc_last_refill_date",
    "reason",
)
AT_RISK_DAYS = 30


def _gap_rows(results: Any) -> Any:
    """(member_id, gap, measure_key) for every open gap in the member-level results."""
    r = results
    counted = (
        r.denominator & ~r.denominator_exclusion.fill_null(False) & ~r.denominator_exception.fill_null(False)
    )
    hit = r.numerator.fill_null(False) & ~r.numerator_exclusion.fill_null(False)
    missing = r.evidence_source.isnull() | (r.evidence_source == "none")
    is_a1c_poor = (r.measure_id == "CMS122") | ((r.measure_id == "GSD") & (r.group_id == "GSD-GT9"))
    gap = ibis.cases(
        ((r.measure_id == "CMS165") & ~hit & missing, "bp_not_measured"),
        ((r.measure_id == "CMS165") & ~hit, "bp_not_controlled"),
        (is_a1c_poor & hit & missing, "a1c_missing"),
        (is_a1c_poor & hit, "a1c_over_9"),
        ((r.measure_id == "TOBACCO-FREE") & ~hit, "tobacco_user"),
        (r.measure_id.startswith("PDC-") & ~hit, "pdc_below_80"),
        else_=ibis.null("string"),
    )
    rows = r.filter(counted).mutate(gap=gap)
    rows = rows.filter(rows.gap.notnull())
    return rows.select(
        member_id=rows.member_id.cast("int64"),
        gap=rows.gap,
        measure_id=rows.measure_id,
        group_id=rows.group_id,
    )


def pdc_refill_deadlines(pdc_results: Any, threshold: Fraction, today: date) -> Any:
    """member_id, measure_id, last_refill_date, reachable, at_risk for PDC rows below the threshold."""
    r = pdc_results
    counted = r.denominator & ~r.denominator_exclusion.fill_null(False) & ~r.numerator.fill_null(False)
    r = r.filter(counted & r.period_days.notnull())
    p, q = threshold.numerator, threshold.denominator
    # ceil(p * P / q) in integers, then the days still to cover.
    needed = (r.period_days * p + (q - 1)) // q - r.covered_days
    last_refill = r.period_end - (needed - 1).cast("int32").as_interval("D")
    out = r.select(
        member_id=r.member_id.cast("int64"),
        measure_id=r.measure_id,
        last_refill_date=last_refill.cast("timestamp").date(),
    )
    days_left = out.last_refill_date.delta(ibis.date(today), unit="day")
    return out.mutate(reachable=days_left >= 0, at_risk=(days_left >= 0) & (days_left <= AT_RISK_DAYS))


def build_worklist(
    contract: ProgramContract,
    attribution: Any,
    results: Any,
    contacts: Any,
    today: date,
    pdc_deadlines: Any | None = None,
    performance: Any | None = None,
) -> Any:
    """One ranked row per attributed member with at least one open gap (or never contacted).

    ``results``: member-level measure results (any measures); ``contacts``: (member_id, contact_date)
    rows from MTM encounters and reached outreach; ``performance``: (pharmacy_id, key, denominator,
    numerator) from :func:`openvbc.engine.payments.count_performance`.
    """
    weights = contract.worklist
    gaps = _gap_rows(results)
    if pdc_deadlines is not None:
        risk = pdc_deadlines.filter(pdc_deadlines.at_risk).select(
            member_id=pdc_deadlines.member_id,
            gap=ibis.literal("pdc_at_risk"),
            measure_id=pdc_deadlines.measure_id,
            group_id=ibis.literal(""),
        )
        gaps = gaps.union(risk, distinct=False)
    points = ibis.cases(*[(gaps.gap == name, value) for name, value in weights.gap_points.items()], else_=0)
    gaps = gaps.mutate(points=points)
    gaps = gaps.filter(gaps.points > 0)
    attributed = attribution.filter(attribution.provider_id.notnull()).select(
        a_member=attribution.member_id, pharmacy_id=attribution.provider_id
    )
    member_gaps = gaps.join(attributed, gaps.member_id == attributed.a_member).select(
        "pharmacy_id", "member_id", "gap", "points", "measure_id", "group_id"
    )
    member_gaps = _mark_movers(member_gaps, contract, performance)
    # One row per distinct gap of a member (a gap can come from two measure groups), then one per
    # member: two aggregates, no self-join to bring the mover flag back.
    per_gap = member_gaps.group_by(["pharmacy_id", "member_id", "gap", "points"]).aggregate(
        mover=member_gaps.mover.any()
    )
    per_member = per_gap.group_by(["pharmacy_id", "member_id"]).aggregate(
        gap_points=per_gap.points.sum(),
        gaps=per_gap.gap.collect().sort().join("|"),
        mover=per_gap.mover.any(),
    )
    last = contacts.group_by(contacts.member_id.cast("int64").name("member_id")).aggregate(
        last_contact=contacts.contact_date.max()
    )
    j = per_member.left_join(last, "member_id").select(
        "pharmacy_id", "member_id", "gap_points", "gaps", "mover", "last_contact"
    )
    days = ibis.date(today).delta(j.last_contact, unit="day")
    contact_points = ibis.ifelse(
        j.last_contact.isnull(),
        weights.max_contact_points,
        ibis.least((days // 30) * weights.points_per_30_days_since_contact, weights.max_contact_points),
    )
    mover_points = ibis.ifelse(j.mover, weights.benchmark_mover_points, 0)
    scored = j.mutate(
        points=(j.gap_points + mover_points + contact_points).cast("int64"),
        days_since_contact=days.cast("int64"),
        benchmark_mover=j.mover,
    )
    if pdc_deadlines is not None:
        deadline = (
            pdc_deadlines.filter(pdc_deadlines.reachable)
            .group_by("member_id")
            .aggregate(pdc_last_refill_date=pdc_deadlines.last_refill_date.min())
        )
        scored = scored.left_join(deadline, "member_id").select(
            "pharmacy_id",
            "member_id",
            "points",
            "gaps",
            "benchmark_mover",
            "last_contact",
            "days_since_contact",
            "pdc_last_refill_date",
        )
    else:
        scored = scored.mutate(pdc_last_refill_date=ibis.null("date"))
    contact_text = ibis.ifelse(
        scored.last_contact.isnull(), "never contacted", "last contact " + scored.last_contact.cast("string")
    )
    refill_text = ibis.ifelse(
        scored.pdc_last_refill_date.isnull(),
        "",
        "; refill by " + scored.pdc_last_refill_date.cast("string") + " to still reach PDC 80 %",
    )
    mover_text = ibis.ifelse(scored.benchmark_mover, "; can move the pharmacy across a benchmark", "")
    reason = "open gaps: " + scored.gaps.replace("|", ", ") + mover_text + "; " + contact_text + refill_text
    ranked = scored.mutate(
        reason=reason,
        rank=ibis.row_number().over(
            group_by="pharmacy_id", order_by=[ibis.desc(scored.points), scored.member_id]
        )
        + 1,
    )
    return ranked.select(*WORKLIST_COLUMNS)


def _mark_movers(member_gaps: Any, contract: ProgramContract, performance: Any | None) -> Any:
    """Flag gaps in a missed benchmark the pharmacy can still reach with its open-gap members."""
    if performance is None or not contract.measures:
        return member_gaps.mutate(mover=ibis.literal(False))
    keyed_gap = ibis.cases(
        *[
            ((member_gaps.measure_id == m.measure_id) & (member_gaps.group_id == m.group_id), m.key)
            for m in contract.measures
            if m.direction == "higher"
        ],
        else_=ibis.null("string"),
    )
    g = member_gaps.mutate(key=keyed_gap)
    needed_branches = []
    for m in contract.measures:
        if m.direction != "higher":
            continue
        frac = Fraction(m.target).limit_denominator(10_000)
        need = (performance.denominator * frac.numerator + (frac.denominator - 1)) // frac.denominator
        needed_branches.append((performance.key == m.key, need - performance.numerator))
    perf = performance.mutate(needed=ibis.cases(*needed_branches, else_=0))
    open_gaps = (
        g.filter(g.key.notnull()).group_by(["pharmacy_id", "key"]).aggregate(open=g.member_id.nunique())
    )
    perf = perf.join(open_gaps, ["pharmacy_id", "key"]).select("pharmacy_id", "key", "needed", "open")
    reachable = perf.filter((perf.needed > 0) & (perf.needed <= perf.open)).select(
        r_pharmacy=perf.pharmacy_id, r_key=perf.key, reachable=ibis.literal(True)
    )
    j = g.left_join(reachable, [g.pharmacy_id == reachable.r_pharmacy, g.key == reachable.r_key])
    return j.select(
        "pharmacy_id",
        "member_id",
        "gap",
        "points",
        "measure_id",
        "group_id",
        mover=j.reachable.fill_null(False),
    )
