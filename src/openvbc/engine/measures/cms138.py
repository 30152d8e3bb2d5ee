"""CMS138 Preventive Care and Screening: Tobacco Use: Screening and Cessation Intervention
(PreventiveCareAndTobaccoUseScreeningAndCessationInterventionFHIR 0.0.001 / CMS138v13).

Initial population: age 12+ at the *start* of the period with two qualifying visits or one
preventive visit in the period. Three groups (ids from the rule file, in this order):
1. screened: the most recent tobacco-use screening in the period says user or non-user;
2. of members whose most recent screening says user: cessation counselling, or a
   pharmacotherapy order, or active pharmacotherapy, in the period or the six months before;
3. overall: most recent screening says non-user, or user with an intervention as in 2.
Exclusion (all groups): hospice services in the period.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import ibis

from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.measures import exclusions
from openvbc.engine.measures.common import (
    ORDER_STATUS,
    MeasureData,
    Table,
    attach,
    describe,
    flag,
    hits,
    resolve_value_sets,
    shift_months,
    text,
    union_hits,
)
from openvbc.engine.measures.results import build_results, group_ids, say, union_groups

QUALIFYING_VISITS = (
    "Health behavior intervention, individual, face-to-face; initial 30 minutes",
    "Health behavior assessment, or re-assessment (ie, health-focused clinical interview, behavioral "
    "observations, clinical decision making)",
    "Home Healthcare Services",
    "Occupational Therapy Evaluation",
    "Office Visit",
    "Ophthalmological Services",
    "Physical Therapy Evaluation",
    "Psych Visit Diagnostic Evaluation",
    "Psych Visit Psychotherapy",
    "Psychoanalysis",
    "Speech and Hearing Evaluation",
    "Telephone Visits",
    "Virtual Encounter",
)
PREVENTIVE_VISITS = (
    "Annual Wellness Visit",
    "Preventive Care Services Established Office Visit, 18 and Up",
    "Preventive Care Services Initial Office Visit, 18 and Up",
    "Preventive Care, Established Office Visit, 0 to 17",
    "Preventive Care Services, Initial Office Visit, 0 to 17",
    "Preventive Care Services Group Counseling",
    "Preventive Care Services Individual Counseling",
    "Unlisted preventive medicine service",
    "Postoperative follow-up visit, normally included in the surgical package, to indicate that an "
    "evaluation and management service was performed during a postoperative period for a reason(s) related "
    "to the original procedure",
    "Nutrition Services",
)


def tobacco_facts_key(data: MeasureData, lookback_months: int) -> str:
    """Name of the staged :func:`tobacco_facts` (CMS138 and TOBACCO-FREE share it)."""
    return data.staged_key("tobacco", lookback_months)


def tobacco_facts(data: MeasureData, lookback_months: int) -> Table:
    """Per member: age, visit counts, hospice, most recent screening status and interventions."""
    period = data.period
    base = data.t["member"].select("member_id", age=data.age_at(period.start))
    visits = data.encounters(*QUALIFYING_VISITS)
    visits = visits.filter(data.during(visits.day_start, visits.day_end))
    counts = visits.group_by("member_id").aggregate(
        n_visits=visits.encounter_id.nunique(), first_visit=visits.day_start.min()
    )
    base = base.left_join(counts, "member_id")
    base = base.drop("member_id_right") if "member_id_right" in base.columns else base
    preventive = data.encounters(*PREVENTIVE_VISITS)
    preventive = preventive.filter(data.during(preventive.day_start, preventive.day_end))
    base = attach(
        base,
        hits(preventive, describe("preventive visit", preventive, "encounter_id", preventive.day_start)),
        "preventive",
    )
    base = attach(base, exclusions.has_hospice_services(data), "hospice")
    base = base.left_join(most_recent_screening(data), "member_id")
    base = base.drop("member_id_right") if "member_id_right" in base.columns else base
    return attach(
        base, cessation_interventions(data, shift_months(period.start, -lookback_months)), "intervention"
    )


def tobacco_population(data: MeasureData, params: Mapping[str, Any]) -> Table:
    """Members with age, visit counts, hospice, most recent screening status and interventions."""
    lookback = int(params.get("intervention_lookback_months", 6))
    base = data.t.get(tobacco_facts_key(data, lookback))
    if base is None:
        base = tobacco_facts(data, lookback)
    age_ok = (base.age >= int(params.get("age_min", 12))).fill_null(False)
    visits_ok = (base.n_visits.fill_null(0) >= int(params.get("min_visits", 2))) | flag(base.preventive)
    return base.mutate(ip=age_ok & visits_ok, age_ok=age_ok)


def most_recent_screening(data: MeasureData) -> Table:
    """Last tobacco-use screening (by start of its effective time) during the period, and its answer."""
    o = data.observations("Tobacco Use Screening", category="survey")
    o = o.filter(data.during(o.day_start, o.day_end))
    ranked = o.mutate(
        position=ibis.row_number().over(
            group_by=o.member_id, order_by=[o.effective_at.desc(), o.observation_id.desc()]
        )
    )
    last = ranked.filter(ranked.position == 0)
    user = data.value_in(last.value_code_system, last.value_code, "Tobacco User").fill_null(False)
    non_user = data.value_in(last.value_code_system, last.value_code, "Tobacco Non User").fill_null(False)
    return last.select(
        "member_id",
        screen_day=last.day_start,
        screen_obs=last.observation_id,
        screen_value=last.value_code_system + "|" + last.value_code,
        is_user=user,
        is_non_user=non_user,
    )


def cessation_interventions(data: MeasureData, low: date) -> Table:
    """Counselling, pharmacotherapy ordered, or active pharmacotherapy from ``low`` to the period end."""
    high = data.period.end
    counseling = data.procedures(
        "Tobacco Use Cessation Counseling", kind="performed", statuses=("completed",)
    )
    counseling = counseling.filter(data.during(counseling.day_start, counseling.day_end, low, high))
    counseling_dx = data.conditions("Tobacco abuse counseling")
    counseling_dx = counseling_dx.filter(data.within(counseling_dx.prev_start, low, high))
    ordered = data.medication_orders("Tobacco Use Cessation Pharmacotherapy", statuses=ORDER_STATUS)
    ordered = ordered.filter(data.within(ordered.authored_at.date(), low, high))
    active = data.medication_orders("Tobacco Use Cessation Pharmacotherapy", statuses=("active",))
    active = active.filter(
        active.start_date.notnull()
        & active.end_date.notnull()
        & data.during(active.start_date, active.end_date, low, high)
    )
    return union_hits(
        hits(counseling, describe("cessation counselling", counseling, "procedure_id", counseling.day_start)),
        hits(
            counseling_dx,
            describe(
                "cessation counselling (diagnosis)", counseling_dx, "condition_id", counseling_dx.prev_start
            ),
        ),
        hits(
            ordered,
            describe(
                "cessation medication ordered", ordered, "medication_order_id", ordered.authored_at.date()
            ),
        ),
        hits(
            active, describe("cessation medication active", active, "medication_order_id", active.start_date)
        ),
    )


def screening_reason(base: Table) -> list[Any]:
    status = ibis.ifelse(
        base.is_user,
        ibis.literal("tobacco user"),
        ibis.ifelse(base.is_non_user, ibis.literal("non-user"), ibis.literal("no usable answer")),
    )
    return [
        say(base.age_ok, "age " + text(base.age), None, "under 12 at the start of the period or age unknown"),
        say(
            base.n_visits.fill_null(0) > 0,
            text(base.n_visits.fill_null(0)) + " qualifying visit(s)",
            None,
            "no qualifying visit",
        ),
        say(flag(base.preventive), "preventive visit", base.preventive),
        say(flag(base.hospice), "excluded", base.hospice),
        say(base.screen_day.isnull(), "no tobacco screening in the period"),
        say(base.screen_day.notnull(), "most recent screening " + text(base.screen_day) + " " + status),
        say(flag(base.intervention), "cessation intervention", base.intervention),
    ]


def evaluate(tables: Mapping[str, Table], rule: Mapping[str, Any], period: MeasurementPeriod) -> Table:
    """Member-level CMS138 results: one row per member for each of the three groups."""
    params = rule.get("parameters") or {}
    data = MeasureData(tables, resolve_value_sets(rule), period)
    base = tobacco_population(data, params)
    user = base.is_user.fill_null(False)
    non_user = base.is_non_user.fill_null(False)
    intervened = flag(base.intervention)
    groups = group_ids(rule)
    common: dict[str, Any] = {
        "rule": rule,
        "initial_population": base.ip,
        "exclusion": flag(base.hospice),
        "evidence_date": base.screen_day,
        "evidence_value": base.screen_value,
        "evidence_source": ibis.ifelse(
            base.screen_obs.notnull(), "observation:" + text(base.screen_obs), ibis.null("string")
        ),
        "reason_parts": screening_reason(base),
    }
    return union_groups(
        [
            build_results(
                base, group_id=groups[0], denominator=ibis.literal(True), numerator=user | non_user, **common
            ),
            build_results(base, group_id=groups[1], denominator=user, numerator=intervened, **common),
            build_results(
                base,
                group_id=groups[2],
                denominator=ibis.literal(True),
                numerator=non_user | (user & intervened),
                **common,
            ),
        ]
    )
