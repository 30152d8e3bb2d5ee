"""PQA opioid safety measures as Ibis expressions: MME per day, OHD and COB.

Rules implemented (``rules/registry/opioids/pqa_<year>.yaml``, PQA measure descriptions; MME factors
from the CDC 2022 guideline table in ``rules/registry/opioids/mme_reference.yaml``):

- MME per day of a fill = strength x (quantity x unit_days / days_supply) x conversion factor.
- A fill supplies the days ``fill_date .. fill_date + days_supply - 1``; supply past the end of the
  measurement period is cut there. The MME of a calendar day is the sum over every opioid fill that
  supplies it (fills of different opioids, or early refills, are taken together, as PQA does).
- Denominator (both measures): age >= ``age_min`` at the start of the period, >= ``min_opioid_fills``
  opioid fills on different dates of service and >= ``min_opioid_days_supply`` cumulative days'
  supply, fills dated in the period. Exclusions: hospice encounter, or a cancer, sickle-cell or
  palliative-care diagnosis (condition or claim) during the period.
- OHD numerator: a run of >= ``min_consecutive_days`` consecutive days each with MME >= threshold.
- COB numerator: >= ``min_benzodiazepine_fills`` benzodiazepine fills on different dates and
  >= ``min_overlap_days`` days supplied with both an opioid and a benzodiazepine.

Both are inverse measures (a numerator member is the unsafe outcome). Days are handled as integer
offsets from the period start, so the same expressions run on DuckDB, PostgreSQL and PySpark.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.measures.common import (
    MeasureData,
    Table,
    ValueSetCodes,
    decimal_text,
    flag,
    text,
    union_hits,
)
from openvbc.engine.measures.results import build_results, say, union_groups
from openvbc.rules.registry.schema import DrugProducts, OpioidMeasuresFile

OPIOID_MEASURE_IDS = ("PQA-OHD", "PQA-COB")
HOSPICE = "Hospice Encounter"


def products_table(products: DrugProducts) -> Table:
    return ibis.memtable(
        products.columns(),
        schema={
            "ndc11": "string",
            "ingredient": "string",
            "kind": "string",
            "strength": "float64",
            "unit_days": "int64",
            "mme_factor": "float64",
        },
    )


def _period_days(period: MeasurementPeriod) -> int:
    return (period.end - period.start).days + 1


def classify_fills(tables: Mapping[str, Table], products: DrugProducts, period: MeasurementPeriod) -> Table:
    """Opioid and benzodiazepine fills dated in the period, with MME per day and day offsets."""
    fills = tables["fill"]
    p = products_table(products)
    joined = fills.inner_join(p, fills.ndc11 == p.ndc11)
    start = ibis.literal(period.start, type="date")
    first = joined.fill_date.delta(start, unit="day").cast("int64")
    units_per_day = (
        joined.quantity.cast("float64")
        * joined.unit_days.cast("float64")
        / joined.days_supply.cast("float64")
    )
    out = joined.select(
        fill_id=joined.fill_id.cast("int64"),
        member_id=joined.member_id.cast("int64"),
        fill_date=joined.fill_date,
        kind=joined.kind,
        ingredient=joined.ingredient,
        days_supply=joined.days_supply.cast("int64"),
        quantity=joined.quantity.cast("float64"),
        mme_per_day=joined.strength * units_per_day * joined.mme_factor,
        first_day=first,
        last_day=ibis.least(first + joined.days_supply.cast("int64") - 1, _period_days(period) - 1),
    )
    return out.filter((out.first_day >= 0) & (out.first_day < _period_days(period)))


def _offsets(period: MeasurementPeriod) -> Table:
    return ibis.memtable({"k": list(range(_period_days(period)))}, schema={"k": "int64"})


def supplied_days(fills: Table, period: MeasurementPeriod) -> Table:
    """One row per (fill, day supplied inside the period): fill_id, member_id, kind, day, mme."""
    k = _offsets(period)
    expanded = fills.inner_join(k, (k.k >= fills.first_day) & (k.k <= fills.last_day))
    return expanded.select(
        fill_id=expanded.fill_id,
        member_id=expanded.member_id,
        kind=expanded.kind,
        day=expanded.k,
        mme=expanded.mme_per_day,
    )


def daily_mme(tables: Mapping[str, Table], products: DrugProducts, period: MeasurementPeriod) -> Table:
    """Total opioid MME for every member-day supplied in the period (day = offset from the start)."""
    days = supplied_days(classify_fills(tables, products, period), period)
    opioid = days.filter(days.kind == "opioid")
    daily = opioid.group_by(["member_id", "day"]).aggregate(
        mme=opioid.mme.sum(), fills=opioid.fill_id.nunique()
    )
    start = ibis.literal(period.start, type="date")
    return daily.mutate(date=start + daily.day.as_interval("D"))


def _exclusions(tables: Mapping[str, Table], rule: OpioidMeasuresFile, period: MeasurementPeriod) -> Table:
    """Per member, the first exclusion found: hospice encounter or an excluding diagnosis."""
    from openvbc.rules.loader import load_value_set  # packaged CMS value-set expansion

    hospice_codes = load_value_set(rule.population.hospice_value_set).codes
    data = MeasureData(tables, ValueSetCodes({HOSPICE: frozenset(hospice_codes)}), period)
    hospice = data.encounters(HOSPICE)
    hospice = hospice.filter(data.overlaps(hospice.day_start, hospice.day_end.fill_null(hospice.day_start)))
    criteria = [
        hospice.select(
            member_id=hospice.member_id.cast("int64"),
            evidence="hospice encounter:" + text(hospice.encounter_id) + " " + text(hospice.day_start),
        )
    ]
    start = ibis.literal(period.start, type="date")
    end = ibis.literal(period.end, type="date")
    condition = tables["condition"]
    compact = condition.code.replace(".", "").upper()
    claims = tables["claim_diagnosis"]
    headers = tables["medical_claim"].select("claim_id", "from_date")
    claim_dx = claims.inner_join(headers, claims.claim_id == headers.claim_id)
    claim_code = claim_dx.code.replace(".", "").upper()
    for name, prefixes in rule.population.exclusion_icd10_prefixes.items():
        matches_condition = ibis.or_(*[compact.startswith(p) for p in prefixes])
        overlapping = (condition.onset_date.isnull() | (condition.onset_date <= end)) & (
            condition.abatement_date.isnull() | (condition.abatement_date >= start)
        )
        hit = condition.filter(
            (condition.code_system == "icd10cm") & matches_condition & overlapping.fill_null(False)
        )
        criteria.append(
            hit.select(
                member_id=hit.member_id.cast("int64"),
                evidence=f"{name} diagnosis condition:" + text(hit.condition_id) + " " + hit.code,
            )
        )
        matches_claim = ibis.or_(*[claim_code.startswith(p) for p in prefixes])
        claim_hit = claim_dx.filter(matches_claim & claim_dx.from_date.between(start, end))
        criteria.append(
            claim_hit.select(
                member_id=claim_hit.member_id.cast("int64"),
                evidence=f"{name} diagnosis claim:" + text(claim_hit.claim_id) + " " + claim_hit.code,
            )
        )
    # PostgreSQL types varchar columns with their length; the union needs one plain string type.
    return union_hits(*[c.mutate(evidence=c.evidence.cast("string")) for c in criteria])


def _denominator_facts(fills: Table) -> Table:
    opioid = fills.filter(fills.kind == "opioid")
    benzo = fills.filter(fills.kind == "benzodiazepine")
    o = opioid.group_by("member_id").aggregate(
        opioid_dates=opioid.fill_date.nunique(),
        opioid_days=opioid.days_supply.sum(),
        first_opioid=opioid.fill_date.min(),
    )
    b = benzo.group_by("member_id").aggregate(benzo_dates=benzo.fill_date.nunique())
    joined = o.left_join(b, "member_id")
    return joined.drop("member_id_right") if "member_id_right" in joined.columns else joined


def _longest_high_run(days: Table, threshold: float) -> Table:
    """Per member: longest run of consecutive days with MME >= threshold, its first day, peak MME."""
    opioid = days.filter(days.kind == "opioid")
    daily = opioid.group_by(["member_id", "day"]).aggregate(mme=opioid.mme.sum())
    peak = daily.group_by("member_id").aggregate(peak_mme=daily.mme.max())
    high = daily.filter(daily.mme >= threshold)
    window = ibis.window(group_by=high.member_id, order_by=high.day)
    # Consecutive days share day - row_number (gaps-and-islands).
    high = high.mutate(island=high.day - ibis.row_number().over(window))
    runs = high.group_by(["member_id", "island"]).aggregate(length=high.day.count(), run_start=high.day.min())
    ranked = runs.mutate(
        rank=ibis.row_number().over(
            ibis.window(group_by=runs.member_id, order_by=[ibis.desc(runs.length), runs.run_start])
        )
    )
    best = ranked.filter(ranked["rank"] == 0).select("member_id", run_length="length", run_start="run_start")
    joined = peak.left_join(best, "member_id")
    return joined.drop("member_id_right") if "member_id_right" in joined.columns else joined


def _overlap_days(days: Table) -> Table:
    opioid = days.filter(days.kind == "opioid").select("member_id", "day").distinct()
    benzo = days.filter(days.kind == "benzodiazepine").select(b_member="member_id", b_day="day").distinct()
    both = opioid.inner_join(benzo, [opioid.member_id == benzo.b_member, opioid.day == benzo.b_day])
    return both.group_by("member_id").aggregate(overlap_days=both.day.count(), first_overlap=both.day.min())


def _rule_stub(rule: OpioidMeasuresFile, measure_id: str, group_id: str, rule_file: str) -> dict[str, Any]:
    return {
        "id": measure_id,
        "version": rule.version,
        "rule_file": rule_file,
        "groups": [{"id": group_id}],
    }


def evaluate_opioid_measures(
    tables: Mapping[str, Table],
    rule: OpioidMeasuresFile,
    products: DrugProducts,
    period: MeasurementPeriod,
    *,
    rule_file: str = "registry/opioids/pqa_2025.yaml",
) -> Table:
    """Member-level OHD and COB results (``MEMBER_RESULT_COLUMNS``), one row per member and measure."""
    fills = classify_fills(tables, products, period)
    days = supplied_days(fills, period)
    pop = rule.population
    members = tables["member"]
    data = MeasureData(tables, ValueSetCodes({}), period)
    base = members.select(member_id=members.member_id.cast("int64"), age=data.age_at(period.start))
    for extra in (
        _denominator_facts(fills),
        _longest_high_run(days, rule.ohd.mme_threshold),
        _overlap_days(days),
    ):
        base = base.left_join(extra, "member_id")
        base = base.drop("member_id_right") if "member_id_right" in base.columns else base
    excl = _exclusions(tables, rule, period).rename(excl="evidence")
    base = base.left_join(excl, "member_id")
    base = base.drop("member_id_right") if "member_id_right" in base.columns else base

    age_ok = (base.age >= pop.age_min).fill_null(False)
    fills_ok = (base.opioid_dates.fill_null(0) >= pop.min_opioid_fills) & (
        base.opioid_days.fill_null(0) >= pop.min_opioid_days_supply
    )
    start = ibis.literal(period.start, type="date")
    common_reason = [
        say(age_ok, "age " + text(base.age), None, "under the minimum age or age unknown"),
        say(
            fills_ok,
            text(base.opioid_dates.fill_null(0))
            + " opioid fill date(s), "
            + text(base.opioid_days.fill_null(0))
            + " days' supply",
            None,
            "fewer than "
            + str(pop.min_opioid_fills)
            + " opioid fill dates or "
            + str(pop.min_opioid_days_supply)
            + " days' supply",
        ),
        say(flag(base.excl), "excluded", base.excl),
    ]
    run_length = base.run_length.fill_null(0)
    ohd_num = run_length >= rule.ohd.min_consecutive_days
    ohd_reason = [
        *common_reason,
        say(
            base.peak_mme.notnull(),
            "peak "
            + _mme_text(base.peak_mme)
            + " MME/day; longest run at or above "
            + f"{rule.ohd.mme_threshold:g}: "
            + text(run_length)
            + " day(s)",
        ),
    ]
    ohd = build_results(
        base,
        rule=_rule_stub(rule, "PQA-OHD", "OHD", rule_file),
        group_id="OHD",
        initial_population=age_ok & fills_ok,
        denominator=ibis.literal(True),
        exclusion=flag(base.excl),
        numerator=ohd_num,
        evidence_date=ibis.ifelse(
            base.run_start.notnull(), start + base.run_start.cast("int64").as_interval("D"), ibis.null("date")
        ),
        evidence_value=ibis.ifelse(
            base.peak_mme.notnull(),
            text(run_length)
            + " consecutive day(s) >= "
            + f"{rule.ohd.mme_threshold:g}"
            + " MME; peak "
            + _mme_text(base.peak_mme),
            ibis.null("string"),
        ),
        evidence_source=ibis.ifelse(
            base.first_opioid.notnull(), "fills from " + text(base.first_opioid), ibis.null("string")
        ),
        reason_parts=ohd_reason,
    )
    overlap = base.overlap_days.fill_null(0)
    benzo_ok = base.benzo_dates.fill_null(0) >= rule.cob.min_benzodiazepine_fills
    cob_num = benzo_ok & (overlap >= rule.cob.min_overlap_days)
    cob_reason = [
        *common_reason,
        say(
            base.benzo_dates.notnull(),
            text(base.benzo_dates.fill_null(0))
            + " benzodiazepine fill date(s); "
            + text(overlap)
            + " day(s) with both",
        ),
    ]
    cob = build_results(
        base,
        rule=_rule_stub(rule, "PQA-COB", "COB", rule_file),
        group_id="COB",
        initial_population=age_ok & fills_ok,
        denominator=ibis.literal(True),
        exclusion=flag(base.excl),
        numerator=cob_num,
        evidence_date=ibis.ifelse(
            base.first_overlap.notnull(),
            start + base.first_overlap.cast("int64").as_interval("D"),
            ibis.null("date"),
        ),
        evidence_value=ibis.ifelse(
            base.benzo_dates.notnull(), text(overlap) + " overlap day(s)", ibis.null("string")
        ),
        evidence_source=ibis.ifelse(
            base.first_opioid.notnull(), "fills from " + text(base.first_opioid), ibis.null("string")
        ),
        reason_parts=cob_reason,
    )
    return union_groups([ohd, cob])


def _mme_text(value: Any) -> Any:
    """MME with one decimal, spelled the same on every backend."""
    return decimal_text(value)
