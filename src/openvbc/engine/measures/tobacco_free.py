"""Tobacco-free status: a pay-for-performance *outcome* rate built on CMS138's data elements.

Programs such as HealthPartners' PIE pay on the status, not on the screening process
(domain-rules.md A5). Initial population: CMS138's (age 12+, two qualifying visits or a
preventive visit). Denominator: members whose most recent tobacco-use screening in the
period gives a usable answer (user or non-user). Numerator: that answer is non-user.
Exclusion: hospice. The screening, answer value sets and hospice logic are CMS138v13's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.measures.cms138 import screening_reason, tobacco_population
from openvbc.engine.measures.common import MeasureData, Table, flag, resolve_value_sets, text
from openvbc.engine.measures.results import build_results, group_ids


def evaluate(tables: Mapping[str, Table], rule: Mapping[str, Any], period: MeasurementPeriod) -> Table:
    """Member-level tobacco-free results (one row per member)."""
    params = rule.get("parameters") or {}
    data = MeasureData(tables, resolve_value_sets(rule), period)
    base = tobacco_population(data, params)
    user = base.is_user.fill_null(False)
    non_user = base.is_non_user.fill_null(False)
    return build_results(
        base,
        rule=rule,
        group_id=group_ids(rule)[0],
        initial_population=base.ip,
        denominator=user | non_user,
        exclusion=flag(base.hospice),
        numerator=non_user,
        evidence_date=base.screen_day,
        evidence_value=base.screen_value,
        evidence_source=ibis.ifelse(
            base.screen_obs.notnull(), "observation:" + text(base.screen_obs), ibis.null("string")
        ),
        reason_parts=screening_reason(base),
    )
