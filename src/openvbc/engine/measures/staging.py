"""Stage, once per run, the intermediates several measures share, as temporary backend tables.

Each measure is one Ibis expression over the canonical tables. Run one after another, they
repeat the same work: tagging condition, encounter, observation, procedure and
medication_order rows with their value sets (the costliest step of every eCQM here: it reads
every row of those tables, then joins the facts back to their tags), and, for the PDC
measures, picking the class fills out of every fill; measures built on the same per-member
facts (CMS122 and GSD, CMS138 and TOBACCO-FREE) also build them twice.
:func:`stage_shared_inputs` does that work once for all the rules of a run and returns a tables
mapping with the results added. The measure modules use those results when they are present
and were computed for their own codes and periods; without them they compute the same
expressions inline. Either way the result is the same (tests/adherence/test_staging.py checks
both ways).

Call it once per run, on the backend connection the tables come from, before evaluating the
measures: ``tables = stage_shared_inputs(con, tables, rules, period)``. The temporary tables
live as long as the connection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ibis

from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.adherence_staging import is_adherence_rule, materialise, stage_adherence_inputs
from openvbc.engine.measures import cms122, cms138
from openvbc.engine.measures.common import (
    STAGED_TAGS_KEY,
    TAGGED_TABLES,
    VALUE_SETS_COLUMN,
    MeasureData,
    StagedTags,
    Table,
    ValueSetCodes,
    resolve_value_sets,
    tag_rows,
)

# Columns the staged copies leave out: natural keys (long unique strings, never read by a measure)
# and the additional codings (already folded into the value-set marks).
NOT_STAGED = frozenset(
    {"additional_codes", "condition_key", "encounter_key", "observation_key", "procedure_key", "order_key"}
)


def merge_value_sets(rules: Sequence[Mapping[str, Any]]) -> ValueSetCodes:
    """The value sets of all rules, by name. A name two rules expand differently, or one holding
    the ``|`` delimiter, is left out: those measures tag their own rows inline."""
    merged: dict[str, frozenset[tuple[str, str]]] = {}
    left_out: set[str] = set()
    for rule in rules:
        for name, codes in resolve_value_sets(rule).by_name.items():
            if (name in merged and merged[name] != codes) or "|" in name:
                left_out.add(name)
            merged.setdefault(name, codes)
    return ValueSetCodes({name: codes for name, codes in merged.items() if name not in left_out})


def mark_codes(codes: ValueSetCodes) -> dict[str, list[str]]:
    """``system, code, marks``: per distinct code, the ``|name|name|`` of the value sets holding it."""
    names: dict[tuple[str, str], set[str]] = {}
    for name, members in codes.by_name.items():
        for coding in members:
            names.setdefault(coding, set()).add(name)
    keys = sorted(names)
    return {
        "system": [system for system, _ in keys],
        "code": [code for _, code in keys],
        "marks": ["|" + "|".join(sorted(names[key])) + "|" for key in keys],
    }


def select_value_set_rows(table: Table, id_column: str, codes: ValueSetCodes, code_table: Table) -> Table:
    """The rows of ``table`` in any of the value sets, with ``VALUE_SETS_COLUMN`` naming them.

    Rows with one coding join the per-code marks (a small table: one row per code) directly, so
    each fact row comes out at most once with no grouping over the facts; only rows with
    additional codings are tagged coding by coding and their value sets gathered per row.
    """
    marks = ibis.memtable(mark_codes(codes), schema={"system": "string", "code": "string", "marks": "string"})
    has_extra = table.additional_codes.notnull() & (table.additional_codes != "")
    plain = table.filter(~has_extra)
    plain = plain.inner_join(marks, [plain.code_system == marks.system, plain.code == marks.code])
    kept = [column for column in table.columns if column not in NOT_STAGED]
    plain = plain.select(*kept, **{VALUE_SETS_COLUMN: plain.marks})
    extra = table.filter(has_extra)
    tags = tag_rows(extra, id_column, code_table)
    gathered = tags.group_by("row_id").agg(marks=tags.value_set.group_concat("|"))
    extra = extra.inner_join(gathered, extra[id_column] == gathered.row_id)
    extra = extra.select(*kept, **{VALUE_SETS_COLUMN: "|" + extra.marks + "|"})
    return plain.union(extra)


def stage_value_set_rows(con: Any, tables: Mapping[str, Table], codes: ValueSetCodes) -> StagedTags:
    """Each tagged canonical table's rows in any of ``codes``' value sets, marked with the value
    sets they are in (``VALUE_SETS_COLUMN``), as temporary tables."""
    code_table = codes.code_table()
    staged: dict[str, Table] = {}
    for name, id_column in TAGGED_TABLES.items():
        if name in tables:
            rows = select_value_set_rows(tables[name], id_column, codes, code_table)
            staged[name] = materialise(con, f"openvbc_stage_rows_{name}", rows)
    return StagedTags(codes.by_name, staged)


def _population_facts(rule: Mapping[str, Any], data: MeasureData) -> tuple[str, Table] | None:
    """(staged name, expression) of the per-member facts a measure shares with another, if any."""
    measure = str(rule["id"]).upper()
    if measure in ("CMS122", "GSD"):
        return cms122.diabetes_facts_key(data), cms122.diabetes_facts(data)
    if measure in ("CMS138", "TOBACCO-FREE"):
        lookback = int((rule.get("parameters") or {}).get("intervention_lookback_months", 6))
        return cms138.tobacco_facts_key(data, lookback), cms138.tobacco_facts(data, lookback)
    return None


def stage_population_facts(
    con: Any, tables: Mapping[str, Any], rules: Sequence[Mapping[str, Any]], period: MeasurementPeriod | None
) -> dict[str, Table]:
    """Per-member facts two measures of the run share (CMS122 and GSD; CMS138 and TOBACCO-FREE),
    as temporary tables. Facts only one measure of the run needs are left to that measure."""
    found: dict[str, list[Table]] = {}
    for rule in rules:
        window = rule.get("measurement_period") or {}
        own = period or MeasurementPeriod(window["start"], window["end"])
        facts = _population_facts(rule, MeasureData(tables, resolve_value_sets(rule), own))
        if facts is not None:
            found.setdefault(facts[0], []).append(facts[1])
    staged: dict[str, Table] = {}
    for index, (key, expressions) in enumerate(sorted(found.items())):
        if len(expressions) > 1:
            staged[key] = materialise(con, f"openvbc_stage_population_{index}", expressions[0])
    return staged


def stage_shared_inputs(
    con: Any,
    tables: Mapping[str, Table],
    rules: Sequence[Mapping[str, Any]],
    period: MeasurementPeriod | None = None,
) -> dict[str, Any]:
    """``tables`` plus the staged intermediates for ``rules`` (see the module note)."""
    out: dict[str, Any] = dict(tables)
    quality = [rule for rule in rules if not is_adherence_rule(rule) and rule.get("value_sets")]
    if quality:
        out[STAGED_TAGS_KEY] = stage_value_set_rows(con, tables, merge_value_sets(quality))
    out.update(stage_population_facts(con, out, quality, period))
    out.update(stage_adherence_inputs(con, tables, rules, period))
    return out
