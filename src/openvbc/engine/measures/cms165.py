"""CMS165 Controlling High Blood Pressure (ControllingHighBloodPressureFHIR 0.1.000 / CMS165v13).

Initial population: age 18-85 at the end of the period, essential hypertension whose
prevalence period overlaps the first six months of the period, and a qualifying outpatient
visit. Numerator: on the most recent day in the period with a qualifying BP reading, the
lowest systolic is below 140 and the lowest diastolic below 90 mmHg. Readings taken in ED,
inpatient, pre-admission or short-stay encounters do not qualify.

A reading is a BP panel (rows sharing ``panel_key``) or, for readings that arrived as
separate observations, the rows of one member at one instant. A reading whose systolic or
diastolic is missing, or has no mmHg value, still marks its day as a BP day but makes that
day's lowest value unknown (CQL ``First(... sort asc)`` puts the null first), so it can
never pass into the numerator; such readings are counted in the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
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
    shift_months,
    text,
    union_hits,
)
from openvbc.engine.measures.results import build_results, group_ids, say

MMHG_UNITS = ("mm[Hg]", "mmHg")


def evaluate(tables: Mapping[str, Table], rule: Mapping[str, Any], period: MeasurementPeriod) -> Table:
    """Member-level CMS165 results (one row per member) on any Ibis backend."""
    params = rule.get("parameters") or {}
    data = MeasureData(tables, resolve_value_sets(rule), period)
    members = tables["member"]
    age = data.age_at(period.end)
    base = members.select("member_id", age=age)

    hypertension = data.conditions("Essential Hypertension")
    first_half_end = shift_months(period.start, 6) - timedelta(days=1)
    hypertension = hypertension.filter(
        data.overlaps(hypertension.prev_start, hypertension.prev_end, period.start, first_half_end)
    )
    base = attach(
        base,
        hits(hypertension, describe("hypertension", hypertension, "condition_id", hypertension.prev_start)),
        "htn",
    )
    base = attach(base, exclusions.qualifying_outpatient_encounters(data), "visit")
    base = attach(base, _exclusions(data), "excl")
    base = attach(base, exclusions.has_frailty(data), "frailty")
    base = attach(base, exclusions.has_advanced_illness_or_dementia_medication(data), "illness")
    base = attach(base, exclusions.lives_in_nursing_home(data), "nursing")
    base = base.left_join(_most_recent_bp_day(data, params), "member_id")
    if "member_id_right" in base.columns:
        base = base.drop("member_id_right")

    age_ok = base.age.between(int(params.get("age_min", 18)), int(params.get("age_max", 85)))
    ip = age_ok.fill_null(False) & flag(base.htn) & flag(base.visit)
    frail_66_80 = base.age.between(66, 80) & flag(base.frailty) & flag(base.illness)
    frail_81 = (base.age >= 81) & flag(base.frailty)
    nursing = (base.age >= 66) & flag(base.nursing)
    excluded = (
        flag(base.excl) | frail_66_80.fill_null(False) | frail_81.fill_null(False) | nursing.fill_null(False)
    )
    numerator = (
        base.low_sys.notnull()
        & base.low_dia.notnull()
        & (base.low_sys < float(params.get("systolic_below", 140)))
        & (base.low_dia < float(params.get("diastolic_below", 90)))
    )
    bp_text = decimal_text(base.low_sys) + "/" + decimal_text(base.low_dia) + " mmHg"
    evidence_value = ibis.ifelse(
        base.bp_day.isnull(),
        ibis.null("string"),
        ibis.ifelse(
            numerator.fill_null(False) | (base.low_sys.notnull() & base.low_dia.notnull()),
            bp_text,
            ibis.literal("incomplete reading (missing component or unit)"),
        ),
    )
    reason = [
        say(age_ok, "age " + text(base.age), None, "age outside 18-85 or unknown"),
        say(
            flag(base.htn),
            "essential hypertension",
            base.htn,
            "no essential hypertension in the first six months",
        ),
        say(flag(base.visit), "qualifying visit", base.visit, "no qualifying outpatient visit"),
        say(flag(base.excl), "excluded", base.excl),
        say(
            frail_66_80,
            "excluded: age 66-80 with frailty and advanced illness",
            base.frailty + "; " + base.illness,
        ),
        say(frail_81, "excluded: age 81+ with frailty", base.frailty),
        say(nursing, "excluded: age 66+", base.nursing),
        say(base.bp_day.isnull(), "no qualifying BP reading in the period"),
        say(base.bp_day.notnull(), "most recent BP day " + text(base.bp_day), evidence_value),
        say(
            base.bad_readings > 0,
            text(base.bad_readings) + " BP reading(s) missing a component or mmHg value",
        ),
    ]
    return build_results(
        base,
        rule=rule,
        group_id=group_ids(rule)[0],
        initial_population=ip,
        denominator=ibis.literal(True),
        exclusion=excluded,
        numerator=numerator,
        evidence_date=base.bp_day,
        evidence_value=evidence_value,
        evidence_source=ibis.ifelse(
            base.bp_obs.notnull(), "observation:" + text(base.bp_obs), ibis.null("string")
        ),
        reason_parts=reason,
    )


def _exclusions(data: MeasureData) -> Table:
    """Hospice, palliative care, pregnancy and the end-stage renal disease criteria."""
    period = data.period
    diagnoses = data.conditions(
        "Pregnancy",
        "End Stage Renal Disease",
        "Kidney Transplant Recipient",
        "Chronic Kidney Disease, Stage 5",
    )
    diagnoses = diagnoses.filter(data.overlaps(diagnoses.prev_start, diagnoses.prev_end))
    procedures = data.procedures(
        "Kidney Transplant", "Dialysis Services", kind="performed", statuses=("completed",)
    )
    procedures = procedures.filter(procedures.day_end <= period.end)
    encounters = data.encounters("ESRD Monthly Outpatient Services")
    encounters = encounters.filter(encounters.day_start <= period.end)
    return union_hits(
        exclusions.has_hospice_services(data),
        exclusions.has_palliative_care(data),
        hits(
            diagnoses,
            describe("pregnancy or renal diagnosis", diagnoses, "condition_id", diagnoses.prev_start),
        ),
        hits(
            procedures,
            describe("kidney transplant or dialysis", procedures, "procedure_id", procedures.day_start),
        ),
        hits(encounters, describe("ESRD monthly services", encounters, "encounter_id", encounters.day_start)),
    )


def _most_recent_bp_day(data: MeasureData, params: Mapping[str, Any]) -> Table:
    """Per member: most recent BP day, its lowest systolic/diastolic (null if unknown), bad readings."""
    excluded_settings = list(
        params.get("excluded_settings", ["ed", "inpatient", "preadmission", "observation"])
    )
    o = data.observations("Systolic blood pressure", "Diastolic blood pressure", "Blood pressure panel")
    # A reading's own setting wins; its encounter's is looked up only for readings without one
    # (joining every BP row to every encounter cost more than the rest of the measure).
    encounter = data.t["encounter"].select(enc_id="encounter_id", enc_setting="setting")
    unset = o.filter(o.setting.isnull())
    unset = unset.left_join(encounter, unset.encounter_id == encounter.enc_id)
    unset = unset.mutate(setting=unset.enc_setting).select(o.columns)
    o = o.filter(o.setting.notnull()).union(unset)
    o = o.filter(~o.setting.isin(excluded_settings).fill_null(False) & data.within(o.day_end))
    systolic_codes = [c for s, c in data.codes.by_name["Systolic blood pressure"]]
    diastolic_codes = [c for s, c in data.codes.by_name["Diastolic blood pressure"]]
    value = ibis.ifelse(o.unit.isin(MMHG_UNITS).fill_null(False), o.value_num, ibis.null("float64"))
    # A reading is its panel, or for rows outside a panel the instant it was taken: two key
    # columns (one of them null) instead of one string built from a timestamp on every row.
    o = o.mutate(
        reading_at=ibis.ifelse(o.panel_key.isnull(), o.effective_at, ibis.null("timestamp")),
        is_sys=as_int(o.code.isin(systolic_codes) & value.notnull()),
        is_dia=as_int(o.code.isin(diastolic_codes) & value.notnull()),
        value=value,
    )
    readings = o.group_by(["member_id", "panel_key", "reading_at", "day_end"]).aggregate(
        sys=o.value.min(where=o.is_sys == 1),
        dia=o.value.min(where=o.is_dia == 1),
        n_sys=o.is_sys.sum(),
        n_dia=o.is_dia.sum(),
        first_id=o.observation_id.min(),
    )
    readings = readings.mutate(
        incomplete=as_int((readings.n_sys == 0) | (readings.n_dia == 0)),
    )
    latest = readings.group_by("member_id").aggregate(
        bp_day=readings.day_end.max(), bad_readings=readings.incomplete.sum()
    )
    on_day = readings.inner_join(
        latest, [readings.member_id == latest.member_id, readings.day_end == latest.bp_day]
    )
    day = on_day.group_by(member_id=on_day.member_id).aggregate(
        low_sys_raw=on_day.sys.min(),
        low_dia_raw=on_day.dia.min(),
        missing_sys=as_int(on_day.n_sys == 0).max(),
        missing_dia=as_int(on_day.n_dia == 0).max(),
        bp_obs=on_day.first_id.min(),
    )
    day = day.select(
        "member_id",
        "bp_obs",
        low_sys=ibis.ifelse(day.missing_sys == 1, ibis.null("float64"), day.low_sys_raw),
        low_dia=ibis.ifelse(day.missing_dia == 1, ibis.null("float64"), day.low_dia_raw),
    )
    joined = latest.left_join(day, "member_id")
    joined = joined.drop("member_id_right") if "member_id_right" in joined.columns else joined
    return joined.mutate(bad_readings=joined.bad_readings.cast("int64"))
