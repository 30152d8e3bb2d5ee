"""Once-per-run staging of what the PDC measures of a run share (see engine/measures/staging.py).

:func:`stage_adherence_inputs` makes temporary backend tables of the fills the run's PDC
measures read, the merged coverage runs, the members of each coded exclusion (hospice, ESRD:
the same for every PDC measure), and per measure its class fills and member periods;
:func:`openvbc.engine.adherence.evaluate` finds them by ``staged_key`` and computes the same
expressions inline when they are absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ibis

from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.adherence import (
    AdherenceSpec,
    compute_member_periods,
    coverage_runs_key,
    exclusion_key,
    find_exclusion_members,
    match_drug_classes,
    read_adherence_spec,
    select_class_fills,
    staged_key,
)
from openvbc.engine.adherence_exclusions import merge_coverage_runs
from openvbc.engine.canonical import CanonicalTables


def materialise(con: Any, name: str, expr: Any) -> Any:
    """A temporary table ``name`` holding ``expr`` on backend ``con``.

    Ibis 12 has no temporary tables on PySpark; there the expression is cached (persisted by
    Spark for the session) instead, which serves the same purpose.
    """
    try:
        return con.create_table(name, expr, temp=True, overwrite=True)
    except NotImplementedError:
        return expr.cache()


def is_adherence_rule(rule: Mapping[str, Any]) -> bool:
    """True for the rule files this module evaluates (PDC measures)."""
    return str(rule.get("id", "")).upper().startswith("PDC-")


def _classes_read(specs: Sequence[AdherenceSpec]) -> set[str]:
    return {c for s in specs for c in (*s.target_classes, *s.exclude_drug_classes)}


def _ingredient_matches(ingredient: Any, specs: Sequence[AdherenceSpec]) -> Any:
    """The ingredient is unknown (empty) or one of its parts starts with an exclusion prefix."""
    parts = "|" + ingredient.fill_null("").lower()
    matched = ingredient == ""
    for prefix in sorted({i.lower() for s in specs for i in s.exclude_ingredients}):
        matched = matched | parts.contains(f"|{prefix}")
    return matched


def select_relevant_fills(
    fill: Any,
    specs: Sequence[AdherenceSpec],
    drug_classes: Sequence[str] | None = None,
    ingredients: Sequence[str] | None = None,
) -> Any:
    """The fills any of ``specs`` reads: in a measurement period and of a target or exclusion
    class or ingredient, or of unknown ingredient (counted as bad fills).

    Evaluating a measure over this subset instead of all fills gives the same result: every read
    of ``fill`` in this module filters on one of these conditions first. ``drug_classes`` /
    ``ingredients``, when given, are the distinct values that match (see
    :func:`stage_adherence_inputs`): a lookup per row instead of string building per row.
    """
    if drug_classes is None or ingredients is None:
        wanted = match_drug_classes(fill.drug_class, _classes_read(specs)) | _ingredient_matches(
            fill.ingredient, specs
        )
    else:
        wanted = ibis.literal(False)
        if drug_classes:
            wanted = wanted | fill.drug_class.isin(list(drug_classes)).fill_null(False)
        if ingredients:
            wanted = wanted | fill.ingredient.isin(list(ingredients)).fill_null(False)
    wanted = wanted | fill.ingredient.isnull()
    start = min(s.period.start for s in specs)
    end = max(s.period.end for s in specs)
    chosen = fill.filter(fill.fill_date.between(ibis.date(start), ibis.date(end)) & wanted)
    return chosen.select("fill_id", "member_id", "ingredient", "drug_class", "fill_date", "days_supply")


def _matching_values(fill: Any, column: str, matches: Any) -> list[str]:
    """Distinct non-null values of a fill column for which ``matches(column)`` holds (a small query)."""
    values = fill.select(column).distinct()
    values = values.filter(values[column].notnull() & matches(values[column]))
    return [str(v) for v in values.to_pyarrow()[column].to_pylist()]


def stage_adherence_inputs(
    con: Any, tables: CanonicalTables, rules: Sequence[Mapping[str, Any]], period: MeasurementPeriod | None
) -> dict[str, Any]:
    """Materialise, once per run, what the PDC measures of a run share; return new mapping entries.

    One pass over ``fill`` keeps the fills any of the measures reads (:func:`select_relevant_fills`);
    then, per measure, its class fills (with integer day numbers) and member periods become
    temporary tables, so the measure's query reads them instead of recomputing them in every
    place they are used. :func:`evaluate` picks them up by :func:`staged_key`; without them it
    computes the same expressions inline (PostgreSQL, PySpark, a single measure).
    """
    specs = [read_adherence_spec(rule, period) for rule in rules if is_adherence_rule(rule)]
    if not specs or "fill" not in tables:
        return {}
    fill = tables["fill"]
    drug_classes = _matching_values(fill, "drug_class", lambda c: match_drug_classes(c, _classes_read(specs)))
    ingredients = _matching_values(fill, "ingredient", lambda c: _ingredient_matches(c, specs))
    fills = materialise(
        con, "openvbc_stage_pdc_fill", select_relevant_fills(fill, specs, drug_classes, ingredients)
    )
    staged: dict[str, Any] = {}
    for gap in sorted({spec.enrollment_gap_days for spec in specs}):
        if "coverage" in tables:
            staged[coverage_runs_key(gap)] = materialise(
                con, f"openvbc_stage_coverage_runs_{gap}", merge_coverage_runs(tables["coverage"], gap)
            )
    for spec in specs:
        name = spec.measure_id.lower().replace("-", "_")
        targets = _matching_values(
            fills, "drug_class", lambda c, s=spec: match_drug_classes(c, s.target_classes)
        )
        class_fills = select_class_fills(fills, spec, targets)
        class_fills = materialise(
            con, f"openvbc_stage_{name}_class_fill", class_fills.order_by("member_id", "fill_day")
        )
        usable = class_fills.filter(class_fills.usable).drop("usable")
        periods = materialise(
            con, f"openvbc_stage_{name}_period", compute_member_periods({**tables, **staged}, usable, spec)
        )
        for exclusion in spec.exclusions:
            key = exclusion_key(exclusion, spec.period)
            hits = None if key in staged else find_exclusion_members(tables, exclusion, spec.period)
            if hits is not None:
                staged[key] = materialise(con, f"openvbc_stage_exclusion_{len(staged)}", hits.distinct())
        staged[staged_key("fill", spec)] = fills
        staged[staged_key("class_fills", spec)] = class_fills
        staged[staged_key("periods", spec)] = periods
    return staged
