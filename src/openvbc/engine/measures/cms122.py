"""CMS122 Diabetes: Glycemic Status Assessment Greater Than 9% (DiabetesGlycemicStatusAssessment
GreaterThan9PercentFHIR 0.1.002 / CMS122v13). Inverse measure: lower is better.

Initial population: age 18-75 at the end of the period, a qualifying outpatient visit and
diabetes whose prevalence period overlaps the period. Numerator ("poor control"): the
lowest HbA1c/GMI result on the most recent assessment day is > 9 %, or that result has no
value, or there is no assessment in the period. A result with a coded value (not a
quantity) or with a unit other than % is neither elevated nor "without result".
The denominator and its evidence are shared with HEDIS GSD (gsd.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.measures import exclusions
from openvbc.engine.measures.common import (
    MeasureData,
    Table,
    as_int,
    attach,
    decimal_text,
    describe,
    flag,
    hits,
    resolve_value_sets,
    text,
    union_hits,
)
from openvbc.engine.measures.results import build_results, group_ids, say

PERCENT_UNITS = ("%",)


def diabetes_facts_key(data: MeasureData) -> str:
    """Name of the staged :func:`diabetes_facts` (CMS122 and GSD share it)."""
    return data.staged_key("diabetes")


def diabetes_facts(data: MeasureData) -> Table:
    """Per member: age, the evidence of each criterion, and the most recent glycemic result."""
    period = data.period
    base = data.t["member"].select("member_id", age=data.age_at(period.end))
    diabetes = data.conditions("Diabetes")
    diabetes = diabetes.filter(data.overlaps(diabetes.prev_start, diabetes.prev_end))
    base = attach(
        base, hits(diabetes, describe("diabetes", diabetes, "condition_id", diabetes.prev_start)), "dm"
    )
    base = attach(base, exclusions.qualifying_outpatient_encounters(data), "visit")
    base = attach(
        base, union_hits(exclusions.has_hospice_services(data), exclusions.has_palliative_care(data)), "excl"
    )
    base = attach(base, exclusions.has_frailty(data), "frailty")
    base = attach(base, exclusions.has_advanced_illness_or_dementia_medication(data), "illness")
    base = attach(base, exclusions.lives_in_nursing_home(data), "nursing")
    base = base.left_join(most_recent_glycemic_status(data), "member_id")
    return base.drop("member_id_right") if "member_id_right" in base.columns else base


def diabetes_population(data: MeasureData, params: Mapping[str, Any]) -> tuple[Table, Any, Any, list[Any]]:
    """Members with their IP and exclusion flags, the glycemic result, and the reason clauses."""
    base = data.t.get(diabetes_facts_key(data))
    if base is None:
        base = diabetes_facts(data)
    age_ok = base.age.between(int(params.get("age_min", 18)), int(params.get("age_max", 75))).fill_null(False)
    ip = age_ok & flag(base.dm) & flag(base.visit)
    frail = ((base.age >= 66) & flag(base.frailty) & flag(base.illness)).fill_null(False)
    nursing = ((base.age >= 66) & flag(base.nursing)).fill_null(False)
    excluded = flag(base.excl) | frail | nursing
    reason = [
        say(age_ok, "age " + text(base.age), None, "age outside the measure's range or unknown"),
        say(flag(base.dm), "diabetes", base.dm, "no diabetes overlapping the period"),
        say(flag(base.visit), "qualifying visit", base.visit, "no qualifying outpatient visit"),
        say(flag(base.excl), "excluded", base.excl),
        say(frail, "excluded: age 66+ with frailty and advanced illness", base.frailty + "; " + base.illness),
        say(nursing, "excluded: age 66+", base.nursing),
        say(base.a1c_day.isnull(), "no glycemic status assessment in the period"),
        say(base.a1c_day.notnull(), "most recent glycemic status " + text(base.a1c_day), glycemic_text(base)),
    ]
    return base, ip, excluded, reason


def glycemic_text(base: Table) -> Any:
    return ibis.ifelse(
        base.a1c_value.notnull(),
        decimal_text(base.a1c_value) + " %",
        ibis.ifelse(
            base.a1c_coded == 1, ibis.literal("coded value, not a % result"), ibis.literal("no result value")
        ),
    )


def most_recent_glycemic_status(data: MeasureData) -> Table:
    """Per member: most recent assessment day and its lowest result (nulls sort first, as CQL)."""
    o = data.observations("HbA1c Laboratory Test", "Glucose management indicator", category="laboratory")
    o = o.filter(data.within(o.day_end))
    value = ibis.ifelse(o.unit.isin(PERCENT_UNITS).fill_null(False), o.value_num, ibis.null("float64"))
    o = o.mutate(
        value=value,
        coded=as_int(o.value_code.notnull() & o.value_num.isnull()),
        no_value=as_int(o.value_code.isnull() & o.value_num.isnull()),
    )
    latest = o.group_by("member_id").aggregate(a1c_day=o.day_end.max())
    day = o.inner_join(latest, [o.member_id == latest.member_id, o.day_end == latest.a1c_day])
    # First(... sort by value): a reading without a quantity sorts before any number; ties by id
    ranked = day.mutate(
        position=ibis.row_number().over(
            group_by=day.member_id,
            order_by=[as_int(day.value.isnull()).desc(), day.value.asc(), day.observation_id.asc()],
        )
    )
    first = ranked.filter(ranked.position == 0)
    return first.select(
        "member_id",
        "a1c_day",
        a1c_value=first.value,
        a1c_coded=first.coded,
        a1c_without_result=first.no_value,
        a1c_obs=first.observation_id,
    )


def evaluate(tables: Mapping[str, Table], rule: Mapping[str, Any], period: MeasurementPeriod) -> Table:
    """Member-level CMS122 results (one row per member)."""
    params = rule.get("parameters") or {}
    data = MeasureData(tables, resolve_value_sets(rule), period)
    base, ip, excluded, reason = diabetes_population(data, params)
    above = float(params.get("poor_control_above", 9))
    numerator = (base.a1c_day.isnull()) | (base.a1c_without_result == 1) | (base.a1c_value > above)
    return build_results(
        base,
        rule=rule,
        group_id=group_ids(rule)[0],
        initial_population=ip,
        denominator=ibis.literal(True),
        exclusion=excluded,
        numerator=numerator,
        evidence_date=base.a1c_day,
        evidence_value=ibis.ifelse(base.a1c_day.notnull(), glycemic_text(base), ibis.null("string")),
        evidence_source=ibis.ifelse(
            base.a1c_obs.notnull(), "observation:" + text(base.a1c_obs), ibis.null("string")
        ),
        reason_parts=reason,
    )
