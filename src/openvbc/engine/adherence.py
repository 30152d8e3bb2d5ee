"""PQA Proportion of Days Covered (PDC-DR, PDC-RASA, PDC-STA) over the canonical tables.

One Ibis expression per measure; the rule file (``rules/measures/PDC-*/<year>.yaml``) supplies
every number and list. The steps, each with its source in docs/adherence.md:

1. class fills: fills in the measurement period whose (``|``-joined) drug class names a target
   class; rows with zero, negative or missing days supply, and fills with no known ingredient
   (unknown NDC), are counted per member as ``bad_fills`` and otherwise ignored;
2. index date (IPSD) = first usable fill on or before death; the member's period ends at the
   earliest of the period end, death and disenrolment (end of the coverage run holding the IPSD);
3. initial population = denominator: age, >= ``min_fills`` fills on different dates, covered on
   the IPSD, and a treatment period of at least ``ipsd_min_days_before_end`` days;
4. covered days: same-ingredient overlap shift, union across ingredients, truncation at the
   member's period end (and, when switched on, inpatient/SNF stay days taken out);
5. exclusions: hospice, ESRD, and any fill of the measure's exclusion drugs in the period;
6. numerator: PDC >= threshold, compared in integers (covered * q >= p * days for p/q).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import ibis

from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.adherence_coverage import compute_pdc, day_number, split_target_ingredients
from openvbc.engine.adherence_exclusions import (
    find_coded_members,
    find_drug_exclusions,
    find_enrollment_end,
)
from openvbc.engine.adherence_spec import (
    AdherenceSpec,
    ExclusionSpec,
    coverage_runs_key,
    exclusion_key,
    read_adherence_spec,
    staged_key,
)
from openvbc.engine.canonical import MEMBER_RESULT_COLUMNS, CanonicalTables

EXTRA_RESULT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("index_date", "date"),
    ("period_end", "date"),
    ("covered_days", "int64"),
    ("period_days", "int64"),
    ("pdc", "float64"),
    ("fills_used", "string"),
    ("last_fill_date", "date"),
    ("bad_fills", "int64"),
)
RESULT_COLUMNS = MEMBER_RESULT_COLUMNS + EXTRA_RESULT_COLUMNS


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap target year
        return day.replace(year=day.year - years, day=28)


def select_class_fills(fill: Any, spec: AdherenceSpec, drug_classes: Sequence[str] | None = None) -> Any:
    """Fills of the measure's target classes dated in the period, with a ``usable`` flag.

    ``drug_classes``, when given, lists the distinct ``drug_class`` values that name a target
    class (found once on the few distinct values, see :func:`stage_adherence_inputs`), so each
    row costs a lookup instead of building and searching a string.
    """
    if drug_classes is None:
        in_class = match_drug_classes(fill.drug_class, spec.target_classes)
    elif drug_classes:
        in_class = fill.drug_class.isin(list(drug_classes)).fill_null(False)
    else:
        in_class = ibis.literal(False)
    in_period = fill.fill_date.between(ibis.date(spec.period.start), ibis.date(spec.period.end))
    chosen = fill.filter(in_period & in_class)
    # Lower-case only: the importer writes ingredient names from the drug reference already trimmed,
    # and a TRIM over every fill costs more than the rest of this step (measured with bench/pdc_bench.py).
    ingredient = chosen.ingredient.lower()
    usable = (
        chosen.days_supply.notnull() & (chosen.days_supply > 0) & ingredient.notnull() & (ingredient != "")
    )
    return chosen.select(
        fill_id=chosen.fill_id.cast("int64"),
        member_id=chosen.member_id.cast("int64"),
        ingredient=ingredient,
        fill_date=chosen.fill_date,
        fill_day=chosen.fill_date.epoch_days().cast("int64"),
        days_supply=chosen.days_supply.cast("int64"),
        usable=usable,
    )


def count_bad_fills(fill: Any, class_fills: Any, period: MeasurementPeriod) -> Any:
    """``member_id, bad_fills``: unusable class fills plus fills of unknown NDC in the period."""
    unusable = class_fills.filter(~class_fills.usable).select("member_id", "fill_id")
    in_period = fill.fill_date.between(ibis.date(period.start), ibis.date(period.end))
    unknown = fill.filter(in_period & (fill.ingredient.isnull() | (fill.ingredient == "")))
    unknown = unknown.select(member_id=unknown.member_id.cast("int64"), fill_id=unknown.fill_id.cast("int64"))
    both = unusable.union(unknown, distinct=True)
    return both.group_by("member_id").agg(bad_fills=both.count().cast("int64"))


def compute_member_periods(tables: CanonicalTables, usable: Any, spec: AdherenceSpec) -> Any:
    """Per member: index day, death-capped end, enrolment end, own period end (day numbers)."""
    member = tables["member"]
    people = member.select(
        member_id=member.member_id.cast("int64"),
        birth_date=member.birth_date,
        death_date=member.death_date,
        death_day=member.death_date.epoch_days().cast("int64"),
    )
    end_day = day_number(spec.period.end)
    alive = usable.left_join(people, usable.member_id == people.member_id)
    alive = alive.filter(alive.death_day.isnull() | (alive.fill_day <= alive.death_day))
    index_days = alive.group_by("member_id").agg(index_day=alive.fill_day.min())
    runs = tables.get(coverage_runs_key(spec.enrollment_gap_days))
    enrolled = find_enrollment_end(tables["coverage"], index_days, spec.enrollment_gap_days, runs)
    joined = _attach(index_days, people)
    joined = _attach(joined, enrolled)
    capped = ibis.least(end_day, joined.death_day.fill_null(end_day))
    last = ibis.date(spec.period.end)
    capped_date = ibis.least(last, joined.death_date.fill_null(last))
    return joined.mutate(
        enrolled=joined.enrolled_through.notnull(),
        end_day=ibis.least(capped, joined.enrolled_through.fill_null(capped)).cast("int64"),
        period_end=ibis.least(capped_date, joined.enrolled_through_date.fill_null(capped_date)),
    )


def _stays(tables: CanonicalTables, spec: AdherenceSpec) -> Any:
    """Censored stay days ``member_id, stay_start, stay_end``: admission through the day before
    discharge (Medicare counts days of care that way; a same-day stay counts one day)."""
    enc = tables["encounter"]
    stays = enc.filter(
        enc.setting.isin(list(spec.inpatient_settings)) & ~enc.status.isin(["cancelled", "entered-in-error"])
    )
    admitted = stays.start_at.date().epoch_days().cast("int64")
    discharged = stays.end_at.fill_null(stays.start_at).date().epoch_days().cast("int64")
    return stays.select(
        member_id=stays.member_id.cast("int64"),
        stay_start=ibis.greatest(admitted, day_number(spec.period.start)),
        stay_end=ibis.least(ibis.greatest(admitted, discharged - 1), day_number(spec.period.end)),
    ).filter(lambda t: t.stay_start <= t.stay_end)


def _fill_evidence(used: Any) -> Any:
    """Per member: the fills behind the result, as ``date fill:id`` sorted by date."""
    item = used.fill_date.cast("string") + " fill:" + used.fill_id.cast("string")
    stats = used.group_by("member_id").agg(
        index_date=used.fill_date.min(),
        last_fill_date=used.fill_date.max(),
        fill_dates=used.fill_date.nunique().cast("int64"),
        fill_items=item.collect(),
    )
    stats = stats.mutate(fills_used=stats.fill_items.sort().join("|")).drop("fill_items")
    last = used.join(stats.select("member_id", "last_fill_date"), "member_id")
    last = last.filter(last.fill_date == last.last_fill_date)
    last_ids = last.group_by("member_id").agg(last_fill_id=last.fill_id.max())
    return stats.join(last_ids, "member_id")


def find_exclusion_members(
    tables: CanonicalTables, exclusion: ExclusionSpec, period: MeasurementPeriod
) -> Any | None:
    """``member_id`` of members with evidence of ``exclusion`` in the period (None: no table has any)."""
    return find_coded_members(
        tables,
        exclusion.codes,
        period.start,
        period.end,
        bill_type_prefixes=exclusion.bill_type_prefixes,
        discharge_status=exclusion.discharge_status,
        discharge_dispositions=exclusion.discharge_dispositions,
    )


def match_drug_classes(drug_class: Any, names: Iterable[str]) -> Any:
    """The ``|``-joined class list names one of ``names`` (case-insensitive)."""
    classes = "|" + drug_class.fill_null("").lower() + "|"
    matched = ibis.literal(False)
    for name in sorted({c.lower() for c in names}):
        matched = matched | classes.contains(f"|{name}|")
    return matched


def _coverage_inputs(tables: CanonicalTables, spec: AdherenceSpec) -> tuple[Any, Any, Any]:
    """(class fills with ``usable``, member periods, fills that count: usable and in the member's period)."""
    class_fills = tables.get(staged_key("class_fills", spec))
    if class_fills is None:
        class_fills = select_class_fills(_fills_of(tables, spec), spec)
    usable = class_fills.filter(class_fills.usable).drop("usable")
    periods = tables.get(staged_key("periods", spec))
    if periods is None:
        periods = compute_member_periods(tables, usable, spec)
    used = usable.join(periods.select("member_id", "index_day", "end_day"), "member_id")
    used = used.filter(used.fill_day <= used.end_day).select(usable.columns)
    return class_fills, periods, used


def _fills_of(tables: CanonicalTables, spec: AdherenceSpec) -> Any:
    """The fill table this measure reads: the staged subset when there is one, else all fills."""
    staged = tables.get(staged_key("fill", spec))
    return tables["fill"] if staged is None else staged


def kernel_rows(
    tables: CanonicalTables, rule: Mapping[str, Any], period: MeasurementPeriod | None = None
) -> Any:
    """``member_id, stream, fill_day, days_supply, end_day``: the rows coverage is measured on.

    The input of :func:`openvbc.engine.pdc_kernel.compute_member_coverage`, so the benchmark and
    tests can run the numpy reference kernel on exactly what the expression counts (no inpatient
    adjustment: the kernel does not censor stays).
    """
    spec = read_adherence_spec(rule, period)
    _class_fills, periods, used = _coverage_inputs(tables, spec)
    streams = split_target_ingredients(used, spec.target_ingredients)
    ends = periods.select("member_id", "end_day")
    rows = streams.join(ends, "member_id")
    return rows.select("member_id", "stream", "fill_day", "days_supply", "end_day")


def evaluate(
    tables: CanonicalTables, rule: Mapping[str, Any], period: MeasurementPeriod | None = None
) -> Any:
    """Member-level PDC results for one measure: ``RESULT_COLUMNS``, one row per member with a class fill."""
    spec = read_adherence_spec(rule, period)
    fill = _fills_of(tables, spec)
    class_fills, periods, used = _coverage_inputs(tables, spec)
    windows = periods.select("member_id", "index_day", "end_day")
    stays = _stays(tables, spec) if spec.inpatient_adjustment and "encounter" in tables else None
    coverage = compute_pdc(used, windows, spec.target_ingredients, stays)

    base = class_fills.select("member_id").distinct()
    out = _attach(base, periods)
    out = _attach(out, coverage)
    out = _attach(out, _fill_evidence(used))
    out = _attach(out, count_bad_fills(fill, class_fills, spec.period))
    flags: list[tuple[str, str]] = []  # (label, column): label "" means "name the drug"
    drug = find_drug_exclusions(
        fill, spec.period.start, spec.period.end, spec.exclude_drug_classes, spec.exclude_ingredients
    )
    if drug is not None:
        out = _attach(out, drug)
        flags.append(("", "excluded_by"))
    for exclusion in spec.exclusions:
        hits = tables.get(exclusion_key(exclusion, spec.period))
        if hits is None:
            hits = find_exclusion_members(tables, exclusion, spec.period)
        if hits is not None:
            column = f"excluded_{exclusion.name}"
            out = _attach(out, hits.distinct().mutate(**{column: ibis.literal(True)}))
            flags.append((exclusion.name, column))
    return _assemble(out, spec, flags)


def _attach(left: Any, right: Any) -> Any:
    """Left join on member_id, keeping one member_id column."""
    joined = left.left_join(right, left.member_id == right.member_id)
    return joined.drop("member_id_right") if "member_id_right" in joined.columns else joined


def _assemble(out: Any, spec: AdherenceSpec, flags: list[tuple[str, str]]) -> Any:
    """Population flags, the one-sentence reason, and the output columns in contract order."""
    age_cutoff = _years_before(spec.period.end, spec.min_age)
    has_fill = out.index_day.notnull()
    age_ok = out.birth_date.notnull() & (out.birth_date <= ibis.date(age_cutoff))
    enrolled = out.enrolled.fill_null(False)
    dates_ok = out.fill_dates.fill_null(0) >= spec.min_fills
    long_enough = (out.end_day - out.index_day + 1) >= spec.min_treatment_days
    in_population = (has_fill & age_ok & enrolled & dates_ok & long_enough).fill_null(False)
    any_excluded = ibis.literal(False)
    why_excluded = ibis.literal("")
    for label, column in flags:
        if label:
            flag, text = out[column].fill_null(False), ibis.literal(label)
        else:
            flag, text = out[column].notnull(), "a fill of " + out[column].fill_null("")
        any_excluded = any_excluded | flag
        why_excluded = why_excluded + ibis.ifelse(flag, "; " + text, ibis.literal(""))
    covered = out.covered_days.fill_null(0)
    days = out.period_days.fill_null(0)
    meets = covered * spec.threshold.denominator >= days * spec.threshold.numerator
    numerator = in_population & ~any_excluded & meets
    ratio = covered.cast("string") + "/" + days.cast("string") + " days covered"
    threshold_text = f"{float(spec.threshold):g}"
    reason = ibis.cases(
        (~has_fill, "no usable fill of the class in the period"),
        (~age_ok, f"younger than {spec.min_age} at the end of the measurement period, or birth date unknown"),
        (~enrolled, "no drug coverage on the index date"),
        (~dates_ok, f"fewer than {spec.min_fills} fills on different dates"),
        (~long_enough, f"treatment period shorter than {spec.min_treatment_days} days (index date too late)"),
        (any_excluded, "denominator exclusion: " + why_excluded.substr(2)),
        (numerator, "PDC " + ratio + f", at or above {threshold_text}"),
        else_="PDC " + ratio + f", below {threshold_text}",
    )
    pdc = ibis.ifelse(days > 0, covered.cast("float64") / days.cast("float64"), ibis.null("float64"))
    evidence_source = ibis.ifelse(
        out.last_fill_id.notnull(), "fill:" + out.last_fill_id.cast("string"), ibis.literal("none")
    )
    values = {
        "measure_id": ibis.literal(spec.measure_id),
        "group_id": ibis.literal(spec.measure_id),
        "member_id": out.member_id,
        "initial_population": in_population,
        "denominator": in_population,
        "denominator_exclusion": in_population & any_excluded,
        "denominator_exception": ibis.literal(False),
        "numerator": numerator,
        "numerator_exclusion": ibis.literal(False),
        "evidence_date": out.last_fill_date,
        "evidence_value": ibis.ifelse(
            has_fill, "PDC " + covered.cast("string") + "/" + days.cast("string"), "none"
        ),
        "evidence_source": evidence_source,
        "reason": reason,
        "rule_file": ibis.literal(spec.rule_file),
        "rule_version": ibis.literal(spec.rule_version),
        "index_date": out.index_date,
        "period_end": out.period_end,
        "covered_days": covered,
        "period_days": days,
        "pdc": pdc,
        "fills_used": out.fills_used.fill_null(""),
        "last_fill_date": out.last_fill_date,
        "bad_fills": out.bad_fills.fill_null(0),
    }
    return out.select(**{name: values[name].cast(dtype) for name, dtype in RESULT_COLUMNS})
