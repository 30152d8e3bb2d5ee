"""`openvbc worklist build|record`: outreach worklists per pharmacy, and outreach attempts.

The list is computed by :mod:`openvbc.engine.worklist`; this module gathers its inputs (measure
results including the gap-only measures CMS122 and PDC, contacts from MTM encounters and reached
outreach), writes one CSV per pharmacy, and records outreach attempts idempotently.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from openvbc.domain.contract import ProgramContract
from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.canonical import MEMBER_RESULT_COLUMNS
from openvbc.engine.payments import count_performance, list_measure_members
from openvbc.engine.worklist import build_worklist, pdc_refill_deadlines
from openvbc.rules.loader import load_drug_reference
from openvbc.services.attribution import upload_arrow
from openvbc.services.payments import ProgramInputs
from openvbc.store.tables import member as member_table
from openvbc.store.tables import outreach_attempt

GAP_MEASURES = ("CMS122",)
PDC_MEASURES = ("PDC-DR", "PDC-RASA", "PDC-STA")
CHANNELS = ("phone", "sms", "mail", "in_person", "portal")
OUTCOMES = ("reached", "scheduled", "left_message", "no_answer", "declined", "wrong_number")
CONTACT_OUTCOMES = ("reached", "scheduled")


def evaluate_gap_measures(tables: Any, contract: ProgramContract) -> tuple[Any | None, Any | None]:
    """(member results of CMS122, PDC results with their extra columns) for the year, when shipped."""
    from openvbc.services.measures import evaluate_measure, load_measure_rule

    def run(measure_id: str) -> Any | None:
        try:
            rule = load_measure_rule(measure_id, contract.year)
        except Exception:
            return None
        period = MeasurementPeriod(rule["measurement_period"]["start"], rule["measurement_period"]["end"])
        return evaluate_measure(tables, rule, period)

    gap_parts = [e for e in (run(m) for m in GAP_MEASURES) if e is not None]
    pdc_parts = [e for e in (run(m) for m in PDC_MEASURES) if e is not None]
    gaps = _stack([p.select(**{n: p[n].cast(k) for n, k in MEMBER_RESULT_COLUMNS}) for p in gap_parts])
    pdc = _stack(
        [
            p.select(*[n for n, _ in MEMBER_RESULT_COLUMNS], "period_end", "period_days", "covered_days")
            for p in pdc_parts
        ]
    )
    return gaps, pdc


def _stack(parts: list[Any]) -> Any | None:
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part, distinct=False)
    return out


def contacts_table(con: Any, inputs: ProgramInputs, outreach_rows: list[dict[str, Any]]) -> Any:
    """(member_id, contact_date): every MTM encounter plus outreach that reached the member."""
    mtm = inputs.tables["mtm_encounter"]
    encounters = mtm.select(member_id=mtm.member_id.cast("int64"), contact_date=mtm.service_date)
    reached = [
        {"member_id": int(r["member_id"]), "contact_date": r["attempted_at"].date()}
        for r in outreach_rows
        if r["outcome"] in CONTACT_OUTCOMES
    ]
    if not reached:
        return encounters
    table = upload_arrow(
        con,
        "openvbc_outreach_contacts",
        pa.Table.from_pylist(
            reached, schema=pa.schema([("member_id", pa.int64()), ("contact_date", pa.date32())])
        ),
    )
    return encounters.union(table, distinct=False)


def compute_worklist(
    con: Any,
    inputs: ProgramInputs,
    contract: ProgramContract,
    today: date,
    *,
    gap_results: Any | None = None,
    pdc_results: Any | None = None,
    outreach_rows: Iterable[dict[str, Any]] = (),
) -> pa.Table:
    """The ranked worklist of every pharmacy as an Arrow table (sorted by pharmacy, rank)."""
    parts = [p for p in (inputs.measure_results, gap_results) if p is not None]
    if pdc_results is not None:
        parts.append(pdc_results.select(*[n for n, _ in MEMBER_RESULT_COLUMNS]))
    results = _stack(parts)
    if results is None:
        raise InvalidInput(
            [
                InputIssue(
                    contract.rule_file,
                    None,
                    "measures",
                    "the worklist needs at least one measure with results",
                )
            ]
        )
    deadlines = None
    if pdc_results is not None:
        threshold = Fraction(str(load_drug_reference().threshold("PDC-STA")))
        deadlines = pdc_refill_deadlines(pdc_results, threshold, today)
    performance = None
    if inputs.measure_results is not None and contract.measures:
        performance = count_performance(
            list_measure_members(inputs.measure_results, inputs.attribution, contract)
        )
    contacts = contacts_table(con, inputs, list(outreach_rows))
    expr = build_worklist(contract, inputs.attribution, results, contacts, today, deadlines, performance)
    return expr.to_pyarrow().sort_by([("pharmacy_id", "ascending"), ("rank", "ascending")])


@dataclass
class WorklistRun:
    rows: int
    pharmacies: int
    files: list[Path] = field(default_factory=list)


def write_worklists(
    table: pa.Table, out_dir: Path, npis: Mapping[int, str], keys: Mapping[int, str]
) -> WorklistRun:
    """One CSV per pharmacy (``worklist-<npi>.csv``) plus ``worklist-all.csv``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table = table.append_column(
        "member_key", pa.array([keys.get(m, "") for m in table.column("member_id").to_pylist()])
    )
    table = table.append_column(
        "pharmacy_npi", pa.array([npis.get(p, "") for p in table.column("pharmacy_id").to_pylist()])
    )
    files = [out_dir / "worklist-all.csv"]
    pa_csv.write_csv(table, files[0])
    pharmacies = sorted(set(table.column("pharmacy_id").to_pylist()))
    for pharmacy_id in pharmacies:
        part = table.filter(pa.compute.equal(table.column("pharmacy_id"), pharmacy_id))
        path = out_dir / f"worklist-{npis.get(pharmacy_id, pharmacy_id)}.csv"
        pa_csv.write_csv(part, path)
        files.append(path)
    return WorklistRun(table.num_rows, len(pharmacies), files)


def read_outreach(store: Engine) -> list[dict[str, Any]]:
    with store.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(outreach_attempt))]


def read_member_keys(store: Engine) -> dict[int, str]:
    with store.connect() as connection:
        return {
            r[0]: r[1]
            for r in connection.execute(select(member_table.c.member_id, member_table.c.member_key))
        }


OUTREACH_CSV_COLUMNS = (
    "attempt_key",
    "member_key",
    "pharmacy_npi",
    "attempted_at",
    "channel",
    "outcome",
    "gap",
    "note",
    "recorded_by",
    "program_id",
)


def parse_outreach_csv(path: Path, keys_by_member_key: Mapping[str, int]) -> list[dict[str, Any]]:
    """Outreach attempts from a CSV; every bad row is reported with its line and field."""
    issues: list[InputIssue] = []
    rows: list[dict[str, Any]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in OUTREACH_CSV_COLUMNS[:6] if c not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInput([InputIssue(str(path), 1, ",".join(missing), "required column(s) missing")])
        for line, raw in enumerate(reader, start=2):
            row, found = _outreach_row(raw, keys_by_member_key, str(path), line)
            issues += found
            if row is not None:
                rows.append(row)
    if issues:
        raise InvalidInput(issues)
    return rows


def _outreach_row(
    raw: Mapping[str, str], keys: Mapping[str, int], file: str, line: int
) -> tuple[dict[str, Any] | None, list[InputIssue]]:
    issues = []
    member_id = keys.get((raw.get("member_key") or "").strip())
    if member_id is None:
        issues.append(InputIssue(file, line, "member_key", f"unknown member {raw.get('member_key')!r}"))
    try:
        attempted = datetime.fromisoformat((raw.get("attempted_at") or "").strip())
    except ValueError:
        issues.append(
            InputIssue(file, line, "attempted_at", f"not an ISO date-time: {raw.get('attempted_at')!r}")
        )
        attempted = None
    for name, allowed in (("channel", CHANNELS), ("outcome", OUTCOMES)):
        if raw.get(name) not in allowed:
            issues.append(
                InputIssue(file, line, name, f"{raw.get(name)!r} is not one of {', '.join(allowed)}")
            )
    for name in ("attempt_key", "pharmacy_npi"):
        if not (raw.get(name) or "").strip():
            issues.append(InputIssue(file, line, name, "required"))
    if issues:
        return None, issues
    return {
        "attempt_key": raw["attempt_key"].strip(),
        "member_id": member_id,
        "pharmacy_npi": raw["pharmacy_npi"],
        "attempted_at": attempted,
        "channel": raw["channel"],
        "outcome": raw["outcome"],
        "gap": raw.get("gap") or None,
        "note": raw.get("note") or None,
        "recorded_by": raw.get("recorded_by") or None,
        "program_id": raw.get("program_id") or None,
    }, []


def record_outreach(store: Engine, rows: list[dict[str, Any]]) -> int:
    """Insert attempts; an attempt_key already recorded is left as it is (idempotent). Returns new rows."""
    if not rows:
        return 0
    dialect_insert = pg_insert if store.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(outreach_attempt).on_conflict_do_nothing(index_elements=["attempt_key"])
    with store.begin() as connection:
        before = connection.execute(select(_count_attempts())).scalar_one()
        connection.execute(statement, rows)
        after = connection.execute(select(_count_attempts())).scalar_one()
    return int(after - before)


def _count_attempts() -> Any:
    from sqlalchemy import func

    return func.count(outreach_attempt.c.outreach_attempt_id)
