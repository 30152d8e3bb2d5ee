"""Longitudinal registry use cases: month-by-month results per member and measure, when a member
became controlled, trends per provider and cohort views by condition.

Monthly results come from ``engine.registry_months.evaluate_months`` (the measure re-run over each
month's rolling-12 or calendar-year period); this module executes them, attaches the provider of
record and the condition cohorts, and summarises.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import Engine, select

from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.engine.canonical import MEMBER_RESULT_COLUMN_NAMES
from openvbc.engine.registry_months import WINDOWS, Window, evaluate_months
from openvbc.rules.care_schema import load_chronic_condition_rule
from openvbc.rules.loader import load_measure_rule
from openvbc.services.measure_inputs import MEASURE_INPUT_TABLES
from openvbc.store import tables as t

REGISTRY_MEASURES = ("CMS165", "CMS122", "CMS138")
MONTH_COLUMNS = ("month", "window", "period_start", "period_end", *MEMBER_RESULT_COLUMN_NAMES, "good_outcome")


def check_window(window: str) -> Window:
    if window not in WINDOWS:
        raise InvalidInput([InputIssue("command line", None, "--window", f"one of {', '.join(WINDOWS)}")])
    return window  # type: ignore[return-value]


def build_member_months(
    store: Engine,
    year: int,
    *,
    measure_ids: Sequence[str] = REGISTRY_MEASURES,
    window: str = "rolling12",
    months: Sequence[int] = tuple(range(1, 13)),
    backend: str = "duckdb",
    member_ids: Sequence[int] | None = None,
) -> pa.Table:
    """One row per (measure, group, member, month) with the populations and ``good_outcome``.

    ``member_ids`` narrows every input table first, so one member's timeline runs the same
    expressions on that member's rows only (DESIGN.md decision 2).
    """
    from openvbc.services.engine_inputs import open_engine_tables

    chosen = check_window(window)
    _con, tables = open_engine_tables(store, MEASURE_INPUT_TABLES, backend)
    if member_ids is not None:
        wanted = [int(m) for m in member_ids]
        tables = {name: table.filter(table.member_id.isin(wanted)) for name, table in tables.items()}
    parts = []
    for measure_id in measure_ids:
        rule = load_measure_rule(measure_id.upper(), year)
        expr = evaluate_months(tables, rule, year, chosen, months)
        result = expr.filter(expr.initial_population).select(list(MONTH_COLUMNS)).to_pyarrow()
        parts.append(result)
    combined = pa.concat_tables(parts) if parts else pa.table({})
    return combined.sort_by(
        [
            ("measure_id", "ascending"),
            ("group_id", "ascending"),
            ("member_id", "ascending"),
            ("month", "ascending"),
        ]
    )


@dataclass(frozen=True)
class StatusChange:
    measure_id: str
    group_id: str
    member_id: int
    month: str
    became: str  # controlled | uncontrolled


def find_status_changes(rows: Sequence[dict[str, Any]]) -> list[StatusChange]:
    """Months in which a member's outcome flipped (first scored month counts as a change from unknown)."""
    by_key: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_key[(row["measure_id"], row["group_id"], int(row["member_id"]))].append(row)
    changes: list[StatusChange] = []
    for (measure_id, group_id, member_id), series in sorted(by_key.items()):
        previous: bool | None = None
        for row in sorted(series, key=lambda r: r["month"]):
            status = row["good_outcome"]
            if status is None:
                continue
            if status != previous:
                changes.append(
                    StatusChange(
                        measure_id,
                        group_id,
                        member_id,
                        row["month"],
                        "controlled" if status else "uncontrolled",
                    )
                )
            previous = bool(status)
    return changes


def _pcp_of_members(store: Engine) -> dict[int, str | None]:
    with store.connect() as connection:
        return {int(m): p for m, p in connection.execute(select(t.member.c.member_id, t.member.c.pcp_npi))}


def summarise_trends(store: Engine, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per provider of record (PCP NPI, ``all`` for everyone), measure, group and month: the rate."""
    pcp = _pcp_of_members(store)
    totals: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        if row["good_outcome"] is None:
            continue
        for provider in ("all", pcp.get(int(row["member_id"])) or "unassigned"):
            cell = totals[(provider, row["measure_id"], row["group_id"], row["month"])]
            cell[0] += 1
            cell[1] += int(bool(row["good_outcome"]))
    return [
        {
            "provider_npi": provider,
            "measure_id": measure_id,
            "group_id": group_id,
            "month": month,
            "scored": scored,
            "good_outcome": good,
            "rate": round(good / scored, 4) if scored else None,
        }
        for (provider, measure_id, group_id, month), (scored, good) in sorted(totals.items())
    ]


def _cohorts_of_members(store: Engine) -> dict[int, set[str]]:
    """Chronic-condition cohorts (rules/care/chronic_conditions.yaml) from conditions and claims."""
    rule = load_chronic_condition_rule()
    codes: dict[int, set[str]] = defaultdict(set)
    with store.connect() as connection:
        query = select(t.condition.c.member_id, t.condition.c.code).where(
            t.condition.c.code_system == "icd10cm"
        )
        for member_id, code in connection.execute(query):
            codes[int(member_id)].add(code)
        for member_id, code in connection.execute(
            select(t.claim_diagnosis.c.member_id, t.claim_diagnosis.c.code)
        ):
            codes[int(member_id)].add(code)
    return {member: set(rule.conditions_of(sorted(found))) for member, found in codes.items()}


def summarise_cohorts(store: Engine, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per condition cohort, measure, group and month: scored members and the good-outcome rate."""
    cohorts = _cohorts_of_members(store)
    totals: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        if row["good_outcome"] is None:
            continue
        for cohort in cohorts.get(int(row["member_id"]), set()):
            cell = totals[(cohort, row["measure_id"], row["group_id"], row["month"])]
            cell[0] += 1
            cell[1] += int(bool(row["good_outcome"]))
    return [
        {
            "cohort": cohort,
            "measure_id": measure_id,
            "group_id": group_id,
            "month": month,
            "scored": scored,
            "good_outcome": good,
            "rate": round(good / scored, 4) if scored else None,
        }
        for (cohort, measure_id, group_id, month), (scored, good) in sorted(totals.items())
    ]


@dataclass(frozen=True)
class RegistryBuild:
    year: int
    window: str
    member_months: int
    changes: int
    files: list[Path]


def write_registry(
    store: Engine,
    year: int,
    out_dir: Path,
    *,
    measure_ids: Sequence[str] = REGISTRY_MEASURES,
    window: str = "rolling12",
    months: Sequence[int] = tuple(range(1, 13)),
    backend: str = "duckdb",
) -> RegistryBuild:
    """Member-months (Parquet + CSV), status changes, provider trends and cohort views into ``out_dir``."""
    table = build_member_months(
        store, year, measure_ids=measure_ids, window=window, months=months, backend=backend
    )
    rows = table.to_pylist()
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"registry-{year}-{window}"
    files = [
        stem.with_name(stem.name + "-member-months.parquet"),
        stem.with_name(stem.name + "-member-months.csv"),
    ]
    pq.write_table(table, files[0])
    pa_csv.write_csv(table, files[1])
    changes = find_status_changes(rows)
    extra = {
        "changes": [c.__dict__ for c in changes],
        "trends": summarise_trends(store, rows),
        "cohorts": summarise_cohorts(store, rows),
    }
    for name, records in extra.items():
        path = stem.with_name(f"{stem.name}-{name}.csv")
        if records:
            pa_csv.write_csv(pa.Table.from_pylist(records), path)
        else:
            path.write_text("", encoding="utf-8")
        files.append(path)
    return RegistryBuild(year, window, table.num_rows, len(changes), files)


def read_member_timeline(
    store: Engine,
    member_key: str,
    year: int,
    *,
    measure_ids: Sequence[str] = REGISTRY_MEASURES,
    window: str = "rolling12",
    months: Sequence[int] = tuple(range(1, 13)),
    backend: str = "duckdb",
) -> list[dict[str, Any]]:
    """One member's month-by-month outcomes (only measures the member is in)."""
    with store.connect() as connection:
        found = connection.execute(
            select(t.member.c.member_id).where(t.member.c.member_key == member_key)
        ).scalar()
    if found is None:
        raise InvalidInput([InputIssue("command line", None, "--member", f"unknown member {member_key!r}")])
    table = build_member_months(
        store,
        year,
        measure_ids=measure_ids,
        window=window,
        months=months,
        backend=backend,
        member_ids=[int(found)],
    )
    return table.to_pylist()
