"""Shared measure logic as Ibis expressions: value-set membership, age, intervals, exclusions.

The eCQM CQL (QI-Core 4.1.1 libraries Status 1.8.000, QICoreCommon 2.1.000, Hospice 6.12.000,
PalliativeCare 1.11.000, AdvancedIllnessandFrailty 1.16.000, AdultOutpatientEncounters
4.11.000, CumulativeMedicationDuration 4.1.000) is the specification; each function below
names the CQL definition it implements. Every criterion is returned as a per-member table
``(member_id, evidence)`` where ``evidence`` is a short sentence naming the row, its date and
why it counts -- the results carry these so every flag explains itself (DESIGN.md decision 5).

Interval conventions (why they look odd): CQL intervals are compared "day of", so all
comparisons use calendar dates. A condition's prevalence period is
``[onset, abatement]``; with no abatement it is open-ended (closed, to the end of time) when
the clinical status is active/recurrence/relapse and *unknown* otherwise, in which case any
"overlaps" test is null and the condition does not count. A missing onset is the beginning
of time (closed null low bound). Encounter periods with no end never fall "during" a window.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis

from openvbc.domain.periods import MeasurementPeriod

Table = Any  # an Ibis table expression
Column = Any  # an Ibis value expression

PERFORMED_ENCOUNTER = ("finished", "arrived", "triaged", "in-progress", "onleave")
DONE_OBSERVATION = ("final", "amended", "corrected")
SYMPTOM_OBSERVATION = ("preliminary", "final", "amended", "corrected")
ACTIVE_CONDITION = ("active", "recurrence", "relapse")
ORDER_STATUS = ("active", "completed")
BEGINNING = date(1, 1, 1)
END_OF_TIME = date(9999, 12, 31)


def shift_months(day: date, months: int) -> date:
    """Calendar month arithmetic as CQL does it (clamped to the last day of the month)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def _lit(day: date) -> Column:
    return ibis.literal(day, type="date")


def text(value: Column) -> Column:
    """A value as text with the same spelling on every backend (null stays null)."""
    return value.cast("string")


def as_int(condition: Column) -> Column:
    """1/0 for a boolean (PostgreSQL cannot cast boolean to bigint)."""
    return ibis.ifelse(condition.fill_null(False), 1, 0).cast("int64")


def decimal_text(value: Column) -> Column:
    """A number as text with one decimal, spelled identically on DuckDB, PostgreSQL and Spark."""
    tenths = (value * 10).round(0).cast("int64")
    whole = (tenths.abs() // 10).cast("string")
    sign = ibis.ifelse(tenths < 0, ibis.literal("-"), ibis.literal(""))
    return sign + whole + "." + (tenths.abs() % 10).cast("string")


@dataclass(frozen=True)
class ValueSetCodes:
    """Codes of the value sets (and direct codes) one measure reads, keyed by the CQL name."""

    by_name: Mapping[str, frozenset[tuple[str, str]]]

    def rows(self) -> dict[str, list[str]]:
        names: list[str] = []
        codings: list[str] = []
        for name, codes in sorted(self.by_name.items()):
            for system, code in sorted(codes):
                names.append(name)
                codings.append(f"{system}|{code}")
        return {"value_set": names, "coding": codings}

    def code_table(self) -> Table:
        """``value_set, system, code, coding``: one row per code, as a small in-memory table."""
        names: list[str] = []
        systems: list[str] = []
        codes: list[str] = []
        for name, members in sorted(self.by_name.items()):
            for system, code in sorted(members):
                names.append(name)
                systems.append(system)
                codes.append(code)
        return ibis.memtable(
            {
                "value_set": names,
                "system": systems,
                "code": codes,
                "coding": [f"{s}|{c}" for s, c in zip(systems, codes, strict=True)],
            },
            schema={"value_set": "string", "system": "string", "code": "string", "coding": "string"},
        )


# Key under which ``staging.stage_value_set_rows`` leaves its result in the tables mapping.
STAGED_TAGS_KEY = "__value_set_rows__"
VALUE_SETS_COLUMN = "openvbc_value_sets"  # "|name|name|": the value sets a staged row is in


@dataclass(frozen=True)
class StagedTags:
    """Rows of the tagged tables that are in any value set of the run, computed once per run.

    ``tables[name]`` has the canonical table's columns plus ``VALUE_SETS_COLUMN``, one row per
    fact row, so picking a value set's rows is a filter: no join, no de-duplication. ``codes``
    is what the rows were tagged with; a measure uses them only for value sets whose codes are
    exactly its own (a rule file with another expansion falls back to tagging inline).
    """

    codes: Mapping[str, frozenset[tuple[str, str]]]
    tables: Mapping[str, Table]


TAGGED_TABLES: dict[str, str] = {
    "condition": "condition_id",
    "encounter": "encounter_id",
    "observation": "observation_id",
    "procedure": "procedure_id",
    "medication_order": "medication_order_id",
}


def tag_rows(table: Table, id_column: str, code_table: Table) -> Table:
    """``(row_id, value_set)`` for every row whose code or any additional coding is in a value set.

    The primary coding joins on (system, code) columns, so no ``system|code`` string is built per
    row; only the few rows with additional codings are split. Duplicates are removed after the
    join, over the matches only (the fact tables themselves are never de-duplicated).
    """
    primary = table.select(row_id=table[id_column], system=table.code_system, code=table.code)
    first = primary.inner_join(
        code_table, [primary.system == code_table.system, primary.code == code_table.code]
    ).select("row_id", "value_set")
    extra = table.filter(table.additional_codes.notnull() & (table.additional_codes != ""))
    extra = extra.select(row_id=extra[id_column], coding=extra.additional_codes.split(";").unnest())
    more = extra.inner_join(code_table, extra.coding == code_table.coding).select("row_id", "value_set")
    return first.union(more, distinct=True)


def resolve_value_sets(rule: Mapping[str, Any]) -> ValueSetCodes:
    """Codes for every value set named in the rule (matched by OID) plus its direct codes (by name).

    ``rule["value_set_codes"]`` (name -> iterable of (system, code)) wins when present, so a
    caller can evaluate against another expansion; otherwise the packaged expansion is loaded
    by OID through ``openvbc.rules.loader``.
    """
    given = rule.get("value_set_codes")
    by_name: dict[str, frozenset[tuple[str, str]]] = {}
    if given:
        by_name = {name: frozenset((str(s), str(c)) for s, c in codes) for name, codes in given.items()}
    else:
        from openvbc.rules.loader import load_value_set  # packaged expansions

        for name, oid in (rule.get("value_sets") or {}).items():
            by_name[name] = frozenset(load_value_set(str(oid).rsplit("/", 1)[-1]).codes)
    names = [str(name) for name in rule.get("direct_codes") or []]
    if names and not all(name in by_name for name in names):
        from openvbc.rules.loader import load_direct_codes  # CQL ``code`` declarations

        direct = load_direct_codes()
        for name in names:
            if name not in by_name:
                by_name[name] = frozenset({direct[name]})
    return ValueSetCodes(by_name)


class MeasureData:
    """The canonical tables of one engine run, with value-set tagging and date windows."""

    def __init__(self, tables: Mapping[str, Table], codes: ValueSetCodes, period: MeasurementPeriod) -> None:
        self.t = tables
        self.period = period
        self.codes = codes
        self._code_table = codes.code_table()
        self._tags: dict[str, Table] = {}
        staged = tables.get(STAGED_TAGS_KEY)
        self._staged: StagedTags | None = staged if isinstance(staged, StagedTags) else None

    def staged_key(self, kind: str, *parameters: object) -> str:
        """Name of a staged per-member table built from this run's codes, period and ``parameters``
        (see ``staging.stage_population_facts``): equal names mean equal tables."""
        content = repr((sorted((n, sorted(c)) for n, c in self.codes.by_name.items()), parameters))
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]
        return f"__population:{kind}:{self.period.start}:{self.period.end}:{digest}__"

    # ---- value sets -----------------------------------------------------------------------
    def _staged_rows(self, table_name: str, names: list[str]) -> Table | None:
        """The run's staged rows of ``table_name`` in any of ``names``, when staged with our codes."""
        staged = self._staged
        if staged is None or table_name not in staged.tables:
            return None
        if not all(staged.codes.get(name) == self.codes.by_name[name] for name in names):
            return None
        rows = staged.tables[table_name]
        marker = rows[VALUE_SETS_COLUMN]
        wanted = ibis.literal(False)
        for name in names:
            wanted = wanted | marker.contains(f"|{name}|")
        return rows.filter(wanted).drop(VALUE_SETS_COLUMN)

    def _tagged(self, table_name: str, id_column: str) -> Table:
        """(id, value_set) for every row whose code or any additional coding is in a value set."""
        if table_name not in self._tags:
            self._tags[table_name] = tag_rows(self.t[table_name], id_column, self._code_table)
        return self._tags[table_name]

    def in_value_set(self, table_name: str, id_column: str, names: Iterable[str]) -> Table:
        """Rows of a canonical table coded with any of the named value sets (or direct codes)."""
        wanted = list(names)
        unknown = [n for n in wanted if n not in self.codes.by_name]
        if unknown:
            raise KeyError(f"value set(s) not in the rule file: {', '.join(unknown)}")
        staged = self._staged_rows(table_name, wanted)
        if staged is not None:
            return staged
        tags = self._tagged(table_name, id_column)
        hits = tags.filter(tags.value_set.isin(wanted)).select("row_id").distinct()
        t = self.t[table_name]
        return t.semi_join(hits, t[id_column] == hits.row_id)

    def value_in(self, column_system: Column, column_code: Column, name: str) -> Column:
        """A coded value (e.g. Observation.value) is in a value set (small sets: literal list)."""
        codings = [f"{s}|{c}" for s, c in sorted(self.codes.by_name[name])]
        return (column_system + "|" + column_code).isin(codings)

    # ---- facts by kind -----------------------------------------------------------------------
    def conditions(self, *names: str) -> Table:
        """[Condition: VS] with its prevalence period (QICoreCommon ``prevalenceInterval()``)."""
        c = self.in_value_set("condition", "condition_id", names)
        active = c.clinical_status.isin(ACTIVE_CONDITION)
        prev_end = ibis.ifelse(
            c.abatement_date.notnull(),
            c.abatement_date,
            ibis.ifelse(active, _lit(END_OF_TIME), ibis.null("date")),
        )
        return c.mutate(prev_start=c.onset_date.fill_null(_lit(BEGINNING)), prev_end=prev_end)

    def encounters(self, *names: str, performed: bool = True) -> Table:
        e = self.in_value_set("encounter", "encounter_id", names)
        if performed:  # Status."isEncounterPerformed"
            e = e.filter(e.status.isin(PERFORMED_ENCOUNTER))
        return e.mutate(day_start=e.start_at.date(), day_end=e.end_at.date())

    def observations(
        self, *names: str, statuses: Iterable[str] = DONE_OBSERVATION, category: str | None = None
    ) -> Table:
        o = self.in_value_set("observation", "observation_id", names)
        o = o.filter(o.status.isin(list(statuses)))
        if category is not None:  # Status."isAssessmentPerformed" / "isLaboratoryTestPerformed"
            o = o.filter(o.category == category)
        # toInterval(): [start, end]; latest(): end when there is one, else start
        return o.mutate(
            day_start=o.effective_at.date(), day_end=o.effective_end.fill_null(o.effective_at).date()
        )

    def procedures(self, *names: str, kind: str, statuses: Iterable[str]) -> Table:
        p = self.in_value_set("procedure", "procedure_id", names)
        p = p.filter((p.kind == kind) & p.status.isin(list(statuses)))
        return p.mutate(
            day_start=p.performed_start.date(), day_end=p.performed_end.fill_null(p.performed_start).date()
        )

    def medication_orders(self, *names: str, statuses: Iterable[str]) -> Table:
        m = self.in_value_set("medication_order", "medication_order_id", names)
        return m.filter(m.status.isin(list(statuses)) & (m.intent == "order"))

    # ---- windows -------------------------------------------------------------------------------
    def overlaps(
        self, start: Column, end: Column, low: date | None = None, high: date | None = None
    ) -> Column:
        """``overlaps day of Interval[low, high]`` (null end -> unknown -> false)."""
        low_ = low or self.period.start
        high_ = high or self.period.end
        return ((start <= _lit(high_)) & (end >= _lit(low_))).fill_null(False)

    def during(self, start: Column, end: Column, low: date | None = None, high: date | None = None) -> Column:
        """``during day of Interval[low, high]`` (both ends inside; an open end never is)."""
        low_ = low or self.period.start
        high_ = high or self.period.end
        return ((start >= _lit(low_)) & (end <= _lit(high_))).fill_null(False)

    def within(self, day: Column, low: date | None = None, high: date | None = None) -> Column:
        low_ = low or self.period.start
        high_ = high or self.period.end
        return day.between(_lit(low_), _lit(high_)).fill_null(False)

    # ---- members ---------------------------------------------------------------------------------
    def age_at(self, day: date) -> Column:
        """CQL ``AgeInYearsAt(day)``: whole years from birth date to ``day``."""
        b = self.t["member"].birth_date
        before_birthday = (b.month() > day.month) | ((b.month() == day.month) & (b.day() > day.day))
        return ibis.literal(day.year) - b.year() - ibis.ifelse(before_birthday, 1, 0)


# ------------------------------------------------------------------------------- evidence helpers


def hits(table: Table, evidence: Column) -> Table:
    """Per-member evidence for one criterion: the smallest evidence sentence per member."""
    rows = table.select(member_id=table.member_id, evidence=evidence)
    return rows.group_by("member_id").aggregate(evidence=rows.evidence.min())


def attach(base: Table, criterion: Table, name: str) -> Table:
    """Left-join a criterion's evidence onto the member table as column ``name``."""
    renamed = criterion.rename({name: "evidence"})
    joined = base.left_join(renamed, "member_id")
    return joined.drop("member_id_right") if "member_id_right" in joined.columns else joined


def describe(kind: str, table: Table, id_column: str, day: Column) -> Column:
    """``"<kind> <table>:<id> <date>"`` -- the evidence sentence for one row."""
    return (
        ibis.literal(f"{kind} ")
        + ibis.literal(f"{id_column.removesuffix('_id')}:")
        + text(table[id_column])
        + " "
        + text(day)
    )


def union_hits(*criteria: Table) -> Table:
    """Members meeting any of several criteria, keeping the first evidence sentence."""
    rows = criteria[0]
    for other in criteria[1:]:
        rows = rows.union(other)
    return rows.group_by("member_id").aggregate(evidence=rows.evidence.min())


def flag(column: Column) -> Column:
    return column.notnull()
