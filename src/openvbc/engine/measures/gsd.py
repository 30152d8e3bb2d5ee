"""HEDIS GSD: Glycemic Status Assessment for Patients With Diabetes (MY2025), two indicators.

``<8.0 %`` (higher is better): the most recent HbA1c/GMI in the period is below 8 %; a
missing or unusable result does not meet it. ``>9.0 %`` (lower is better): the result is
above 9 %, has no value, or is missing -- the same rule as CMS122. The eligible population
and exclusions are those of CMS122 (diabetes, age 18-75, hospice, palliative care, 66+ with
frailty and advanced illness or in long-term nursing home care), computed by cms122.py so
the two measures cannot drift apart. Group ids come from the rule file (first group = <8 %).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.measures.cms122 import diabetes_population, glycemic_text
from openvbc.engine.measures.common import MeasureData, Table, resolve_value_sets, text
from openvbc.engine.measures.results import build_results, group_ids, union_groups


def evaluate(tables: Mapping[str, Table], rule: Mapping[str, Any], period: MeasurementPeriod) -> Table:
    """Member-level GSD results: one row per member for each of the two indicators."""
    params = rule.get("parameters") or {}
    data = MeasureData(tables, resolve_value_sets(rule), period)
    base, ip, excluded, reason = diabetes_population(data, params)
    controlled_below = float(params.get("controlled_below", 8))
    poor_above = float(params.get("poor_control_above", 9))
    controlled = base.a1c_value.notnull() & (base.a1c_value < controlled_below)
    poor = base.a1c_day.isnull() | (base.a1c_without_result == 1) | (base.a1c_value > poor_above)
    groups = group_ids(rule)
    common: dict[str, Any] = {
        "rule": rule,
        "initial_population": ip,
        "denominator": ibis.literal(True),
        "exclusion": excluded,
        "evidence_date": base.a1c_day,
        "evidence_value": ibis.ifelse(base.a1c_day.notnull(), glycemic_text(base), ibis.null("string")),
        "evidence_source": ibis.ifelse(
            base.a1c_obs.notnull(), "observation:" + text(base.a1c_obs), ibis.null("string")
        ),
        "reason_parts": reason,
    }
    return union_groups(
        [
            build_results(base, group_id=groups[0], numerator=controlled, **common),
            build_results(base, group_id=groups[1], numerator=poor, **common),
        ]
    )
