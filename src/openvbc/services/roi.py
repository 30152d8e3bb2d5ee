"""Return on investment: total cost of care PMPM of engaged vs comparable non-engaged members.

Method (stated in every report): difference in differences over calendar years.
Population: targeted members (contract ``targeting``) in the top ``roi.high_risk_top_percent`` of
the risk ranking who are attributed to a pharmacy. Engaged = completed an engagement encounter
(contract ``engagement``) in the program year; comparison = the same high-risk group not engaged.
Cost = allowed amounts of medical claims (by ``from_date``) plus pharmacy fills (by ``fill_date``);
member-months = months with coverage on the month end. Before = the year before the program
year; after = the program year. DiD = (after - before)[engaged] - (after - before)[comparison];
negative means engaged members' cost grew less. Not a causal estimate: no matching beyond the
shared high-risk selection; the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import ibis
import pyarrow as pa

from openvbc.domain.contract import ProgramContract
from openvbc.engine.attribution import month_ends
from openvbc.engine.engagement import find_engaged_members
from openvbc.services.attribution import upload_arrow
from openvbc.services.payments import ProgramInputs

METHOD = (
    "Difference in differences of total cost of care per member per month "
    "(medical allowed + pharmacy allowed), "
    "year before vs program year, engaged vs non-engaged high-risk targeted members; descriptive, not causal."
)


@dataclass(frozen=True)
class GroupCost:
    members: int
    before_pmpm: Decimal | None
    after_pmpm: Decimal | None

    @property
    def change(self) -> Decimal | None:
        if self.before_pmpm is None or self.after_pmpm is None:
            return None
        return self.after_pmpm - self.before_pmpm


@dataclass(frozen=True)
class RoiResult:
    method: str
    engaged: GroupCost
    comparison: GroupCost

    @property
    def difference_in_differences(self) -> Decimal | None:
        a, b = self.engaged.change, self.comparison.change
        return None if a is None or b is None else a - b


def compute_roi(con: Any, inputs: ProgramInputs, contract: ProgramContract) -> RoiResult:
    """Engaged vs comparison cost PMPM, before and after (see the module docstring for the method)."""
    if inputs.targeting is None:
        return RoiResult(
            METHOD + " Not computed: the contract has no targeting section.",
            GroupCost(0, None, None),
            GroupCost(0, None, None),
        )
    t = inputs.targeting.filter(inputs.targeting.targeted)
    n_targeted = int(t.count().to_pyarrow().as_py())
    top = max(1, int((Decimal(n_targeted) * contract.roi.high_risk_top_share).to_integral_value()))
    ranked = t.mutate(r=ibis.row_number().over(order_by=t.risk_rank))
    high = ranked.filter(ranked.r < top).select(h_member=ranked.member_id)
    engaged = find_engaged_members(inputs.tables, contract, inputs.attribution)
    cohort = engaged.join(high, engaged.member_id == high.h_member).select("member_id", "engaged")
    before = date(contract.year - 1, 1, 1), date(contract.year - 1, 12, 31)
    after = contract.period_start, contract.period_end
    rows = {}
    for label, (start, end) in (("before", before), ("after", after)):
        rows[label] = _cost_by_group(con, inputs, cohort, start, end)
    groups = {}
    for flag in (True, False):
        b, a = rows["before"].get(flag), rows["after"].get(flag)
        members = (a or b or (0, 0, 0))[0]
        groups[flag] = GroupCost(members, _pmpm(b), _pmpm(a))
    return RoiResult(METHOD, groups[True], groups[False])


def _pmpm(row: tuple[int, int, int] | None) -> Decimal | None:
    if row is None or row[2] == 0:
        return None
    return (Decimal(row[1]) / 100 / Decimal(row[2])).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _cost_by_group(
    con: Any, inputs: ProgramInputs, cohort: Any, start: date, end: date
) -> dict[bool, tuple[int, int, int]]:
    """engaged flag -> (members, cost in cents, member-months) for one year."""
    tables = inputs.tables
    claim, fill, coverage = tables["medical_claim"], tables["fill"], tables["coverage"]
    medical = claim.filter(
        (claim.from_date >= ibis.date(start)) & (claim.from_date <= ibis.date(end))
    ).select(
        member_id=claim.member_id.cast("int64"),
        cents=(claim.allowed_amount.fill_null(0) * 100).round().cast("int64"),
    )
    pharmacy = fill.filter((fill.fill_date >= ibis.date(start)) & (fill.fill_date <= ibis.date(end))).select(
        member_id=fill.member_id.cast("int64"),
        cents=(fill.allowed_amount.fill_null(0) * 100).round().cast("int64"),
    )
    costs = medical.union(pharmacy, distinct=False)
    cost = costs.group_by("member_id").aggregate(cents=costs.cents.sum())
    ends = upload_arrow(
        con, "openvbc_roi_month_ends", pa.table({"month_end": pa.array(month_ends(start, end), pa.date32())})
    )
    covered = coverage.cross_join(ends)
    covered = covered.filter(
        (covered.start_date <= covered.month_end)
        & (covered.end_date.isnull() | (covered.end_date >= covered.month_end))
    )
    months = covered.select(member_id=covered.member_id.cast("int64"), month_end=covered.month_end).distinct()
    months = months.group_by("member_id").aggregate(months=months.month_end.count())
    j = cohort.left_join(cost, "member_id").select("member_id", "engaged", "cents")
    j = j.left_join(months, "member_id").select("member_id", "engaged", "cents", "months")
    summary = j.group_by("engaged").aggregate(
        members=j.member_id.nunique(), cents=j.cents.fill_null(0).sum(), months=j.months.fill_null(0).sum()
    )
    return {
        bool(r["engaged"]): (int(r["members"]), int(r["cents"] or 0), int(r["months"] or 0))
        for r in summary.to_pyarrow().to_pylist()
    }
