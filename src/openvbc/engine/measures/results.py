"""Turn per-member criteria into the member-level result rows every measure returns.

Proportion-measure population semantics (as a CQF measure evaluator applies them): the
denominator is evaluated only inside the initial population, exclusions only inside the
denominator, the numerator only for denominator members who are not excluded, and
exceptions only for denominator members who are neither excluded nor in the numerator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ibis

from openvbc.engine.canonical import MEMBER_RESULT_COLUMNS
from openvbc.engine.measures.common import Column, Table


def rule_file_of(rule: Mapping[str, Any]) -> str:
    """The rule file a result cites (``measures/<ID>/<year>.yaml`` unless the loader says otherwise)."""
    return str(rule.get("rule_file") or f"measures/{rule['id']}/{rule['year']}.yaml")


def group_ids(rule: Mapping[str, Any]) -> list[str]:
    return [str(group["id"]) for group in rule.get("groups", [])]


def build_results(
    base: Table,
    *,
    rule: Mapping[str, Any],
    group_id: str,
    initial_population: Column,
    denominator: Column,
    exclusion: Column,
    numerator: Column,
    evidence_date: Column,
    evidence_value: Column,
    evidence_source: Column,
    reason_parts: Sequence[Column],
    exception: Column | None = None,
) -> Table:
    """Rows with exactly ``MEMBER_RESULT_COLUMNS`` (in order) for one population group."""
    ip = initial_population.fill_null(False)
    den = ip & denominator.fill_null(False)
    denex = den & exclusion.fill_null(False)
    num = den & ~denex & numerator.fill_null(False)
    exc = den & ~denex & ~num & (exception.fill_null(False) if exception is not None else ibis.literal(False))
    reason = ibis.literal("; ").join(list(reason_parts))
    types = dict(MEMBER_RESULT_COLUMNS)
    values: dict[str, Column] = {
        "measure_id": ibis.literal(str(rule["id"])),
        "group_id": ibis.literal(group_id),
        "member_id": base.member_id.cast("int64"),
        "initial_population": ip,
        "denominator": den,
        "denominator_exclusion": denex,
        "denominator_exception": exc,
        "numerator": num,
        "numerator_exclusion": ibis.literal(False),
        "evidence_date": evidence_date,
        "evidence_value": evidence_value,
        "evidence_source": evidence_source.fill_null("none"),
        "reason": reason,
        "rule_file": ibis.literal(rule_file_of(rule)),
        "rule_version": ibis.literal(str(rule.get("version", ""))),
    }
    return base.select(**{name: values[name].cast(types[name]) for name, _ in MEMBER_RESULT_COLUMNS})


def say(condition: Column, yes: str | Column, detail: Column | None = None, no: str | None = None) -> Column:
    """One clause of the reason sentence: ``yes`` (plus the evidence) when true, ``no`` otherwise."""
    text_yes = ibis.literal(yes) if isinstance(yes, str) else yes
    if detail is not None:
        text_yes = text_yes + ibis.literal(" (") + detail.fill_null("") + ibis.literal(")")
    text_no = ibis.literal(no) if no is not None else ibis.null("string")
    return ibis.ifelse(condition.fill_null(False), text_yes, text_no)


def union_groups(tables: Sequence[Table]) -> Table:
    out = tables[0]
    for table in tables[1:]:
        out = out.union(table)
    return out
