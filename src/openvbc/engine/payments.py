"""Population side of payments (Ibis): per-pharmacy measure counts, priced encounters, PMPM months.

The money itself is computed in :mod:`openvbc.domain.contract` (Decimal, caps, gates, rounding);
this module reduces millions of member rows to the few numbers per pharmacy that the contract
needs, keeping the member ids so each payment line can name its members.

Measure results are the member-level rows of ``openvbc.engine.canonical.MEMBER_RESULT_COLUMNS``.
A member counts in a benchmark's denominator when ``denominator`` is true and neither an exclusion
nor an exception applies; in its numerator when ``numerator`` is also true and not excluded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import ibis

from openvbc.domain.contract import ProgramContract
from openvbc.engine.attribution import months_back
from openvbc.engine.canonical import CanonicalTables
from openvbc.engine.engagement import select_encounters


def _benchmark_key(results: Any, contract: ProgramContract) -> Any:
    branches = [
        ((results.measure_id == m.measure_id) & (results.group_id == m.group_id), ibis.literal(m.key))
        for m in contract.measures
    ]
    return ibis.cases(*branches, else_=ibis.null("string"))


def list_measure_members(results: Any, attribution: Any, contract: ProgramContract) -> Any:
    """Attributed members in each benchmark's denominator, with numerator flag and evidence."""
    keyed = results.mutate(key=_benchmark_key(results, contract))
    keyed = keyed.filter(keyed.key.notnull())
    in_denominator = (
        keyed.denominator
        & ~keyed.denominator_exclusion.fill_null(False)
        & ~keyed.denominator_exception.fill_null(False)
    )
    keyed = keyed.filter(in_denominator)
    keyed = keyed.select(
        member_id=keyed.member_id.cast("int64"),
        key=keyed.key,
        in_numerator=keyed.numerator.fill_null(False) & ~keyed.numerator_exclusion.fill_null(False),
        evidence_date=keyed.evidence_date,
        evidence_value=keyed.evidence_value,
        evidence_source=keyed.evidence_source,
        measure_reason=keyed.reason,
        rule_file=keyed.rule_file,
    )
    attributed = attribution.filter(attribution.provider_id.notnull()).select(
        attributed_member=attribution.member_id, pharmacy_id=attribution.provider_id
    )
    joined = keyed.join(attributed, keyed.member_id == attributed.attributed_member)
    return joined.select(
        "pharmacy_id",
        "member_id",
        "key",
        "in_numerator",
        "evidence_date",
        "evidence_value",
        "evidence_source",
        "measure_reason",
        "rule_file",
    )


def count_performance(measure_members: Any) -> Any:
    """pharmacy_id, key, denominator, numerator (from :func:`list_measure_members`)."""
    # Distinct members by a group-by on (pharmacy, key, member) rather than COUNT(DISTINCT): a
    # hash aggregate on integer keys is the engines' fast path; the counts are the same.
    m = measure_members
    per_member = m.group_by(["pharmacy_id", "key", "member_id"]).aggregate(hit=m.in_numerator.any())
    return per_member.group_by(["pharmacy_id", "key"]).aggregate(
        denominator=per_member.member_id.count(),
        numerator=per_member.member_id.count(where=per_member.hit),
    )


def count_program_denominators(results: Any, contract: ProgramContract) -> Any:
    """key, denominator over the whole plan: a zero means the year has no data for that measure."""
    keyed = results.mutate(key=_benchmark_key(results, contract))
    keyed = keyed.filter(keyed.key.notnull() & keyed.denominator)
    return keyed.group_by("key").aggregate(denominator=keyed.member_id.nunique())


def select_billable_encounters(tables: CanonicalTables, contract: ProgramContract) -> Any:
    """Encounters the fee schedule pays in the period, with new/established re-derived by the contract.

    ``new`` = no earlier MTM service for the member at the same pharmacy within the contract's
    look-back (CPT convention; domain-rules.md §A1). The nearest earlier service decides, so one
    ``lag`` over the member's history at that pharmacy is enough; history before the period counts.
    """
    fees = contract.encounter_fees
    if fees is None:
        raise ValueError(f"{contract.rule_file} has no encounter_fees section")
    history = select_encounters(tables, ("CMR", "TMR", "FOLLOWUP"), date(1900, 1, 1), contract.period_end)
    ordered = ibis.window(
        group_by=[history.member_id, history.pharmacy_npi], order_by=[history.service_date, history.mtm_key]
    )
    previous = history.service_date.lag().over(ordered)
    with_previous = history.mutate(previous_date=previous)
    gap = with_previous.service_date.delta(with_previous.previous_date, unit="day")
    status = ibis.ifelse(
        with_previous.previous_date.notnull() & (gap <= fees.unit_rule.new_patient_lookback_days),
        "established",
        "new",
    )
    rows = with_previous.mutate(payer_status=status)
    rows = rows.filter(
        rows.kind.isin(list(fees.kinds)) & (rows.service_date >= ibis.date(contract.period_start))
    )
    return rows.select(
        "mtm_key",
        "member_id",
        "pharmacy_npi",
        "encounter_pharmacy_id",
        "service_date",
        "kind",
        "minutes",
        "patient_status",
        "payer_status",
        "previous_date",
    )


def count_pmpm_months(
    tables: CanonicalTables, contract: ProgramContract, snapshots: Any, month_end_dates: Sequence[date]
) -> Any:
    """Engaged attributed member-months: (pharmacy_id, member_id, as_of) rows, one per paid month.

    A month counts when the member is attributed to the pharmacy at the month end and had an
    encounter of a PMPM kind at that pharmacy in the window of ``engagement_window_months``
    months ending with that month.
    """
    pmpm = contract.pmpm
    if pmpm is None:
        raise ValueError(f"{contract.rule_file} has no pmpm section")
    earliest = months_back(min(month_end_dates), pmpm.engagement_window_months)
    encounters = select_encounters(tables, pmpm.kinds, earliest, contract.period_end)
    windows = ibis.cases(
        *[
            (snapshots.as_of == ibis.date(day), ibis.date(months_back(day, pmpm.engagement_window_months)))
            for day in month_end_dates
        ],
        else_=ibis.null("date"),
    )
    months = snapshots.filter(snapshots.provider_id.notnull()).mutate(window_start=windows)
    joined = months.join(
        encounters,
        [
            months.member_id == encounters.member_id,
            months.provider_id == encounters.encounter_pharmacy_id,
            encounters.service_date >= months.window_start,
            encounters.service_date <= months.as_of,
        ],
    )
    return joined.select(
        pharmacy_id=months.provider_id, member_id=months.member_id, as_of=months.as_of
    ).distinct()
