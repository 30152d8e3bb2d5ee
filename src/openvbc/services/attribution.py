"""`openvbc attribution run`: attribute members for a program year, compare methods, export.

Also the shared first step of every program-year use case: open the engine over the store and
build :class:`openvbc.services.payments.ProgramInputs` (measure results, year-end attribution,
targeting, monthly snapshots), materialised once so later steps do not recompute them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import Engine, delete, insert

from openvbc.domain.contract import ProgramContract
from openvbc.domain.errors import UserError
from openvbc.domain.periods import MeasurementPeriod
from openvbc.engine.attribution import (
    ATTRIBUTION_COLUMN_NAMES,
    attribute_pharmacies,
    attribute_practices,
    month_ends,
    snapshot_pharmacies,
)
from openvbc.engine.canonical import MEMBER_RESULT_COLUMNS, CanonicalTables
from openvbc.engine.targeting import target_members
from openvbc.interop.atr_group import AttributedMember, build_atr_group, classify_changes
from openvbc.rules.loader import load_drug_reference, load_program_contract
from openvbc.rules.resources import RuleFileNotFound
from openvbc.services.engine_inputs import open_engine_tables
from openvbc.services.payments import ProgramInputs
from openvbc.store.tables import attribution_snapshot

PROGRAM_TABLES = (
    "provider",
    "member",
    "coverage",
    "fill",
    "medical_claim",
    "claim_line",
    "claim_diagnosis",
    "condition",
    "encounter",
    "observation",
    "procedure",
    "medication_order",
    "mtm_encounter",
    "adt_event",
)
PHARMACY_METHODS = ("plurality_fills", "pqa_days_supply")


def load_contract(program_id: str, year: int) -> ProgramContract:
    """The contract file for a program year, or a user error naming the missing file."""
    try:
        return load_program_contract(program_id, year)
    except RuleFileNotFound:
        raise UserError(
            f"no contract rules/programs/{program_id}/{year}.yaml in the openvbc package"
        ) from None


def materialize(con: Any, name: str, expr: Any) -> Any:
    """Compute an expression once into a temporary table (later steps read it many times)."""
    try:
        return con.create_table(name, expr, temp=True, overwrite=True)
    except Exception:
        return expr.cache()


def upload_arrow(con: Any, name: str, data: pa.Table) -> Any:
    """A small Arrow table as a backend table; on PySpark a session-scoped temporary view.

    PySpark's managed tables would leave folders in ./spark-warehouse that collide on the next run.
    """
    if getattr(con, "name", "") == "pyspark":
        con._session.createDataFrame(data).createOrReplaceTempView(name)
        return con.table(name)
    return con.create_table(name, data, overwrite=True)


def evaluate_contract_measures(tables: CanonicalTables, contract: ProgramContract) -> Any:
    """Member-level results of every measure the contract benchmarks, stacked (lazy)."""
    from openvbc.services.measures import evaluate_measure, load_measure_rule

    parts = []
    for measure_id in sorted({m.measure_id for m in contract.measures}):
        rule = load_measure_rule(measure_id, contract.year)
        period = MeasurementPeriod(rule["measurement_period"]["start"], rule["measurement_period"]["end"])
        expr = evaluate_measure(tables, rule, period)
        parts.append(expr.select(**{name: expr[name].cast(kind) for name, kind in MEMBER_RESULT_COLUMNS}))
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part, distinct=False)
    return out


def drug_reference_table(con: Any) -> Any:
    """The shipped NDC list (ndc11, ingredient, is_maintenance) as a backend table."""
    reference = load_drug_reference()
    rows = sorted(reference.products.values(), key=lambda p: p.ndc11)
    data = pa.table(
        {
            "ndc11": [p.ndc11 for p in rows],
            "ingredient": ["|".join(p.ingredients) for p in rows],
            "is_maintenance": [p.is_maintenance for p in rows],
        }
    )
    return upload_arrow(con, "openvbc_drug_reference", data)


def build_program_inputs(
    con: Any,
    tables: CanonicalTables,
    contract: ProgramContract,
    *,
    measure_results: Any = None,
    drug_reference: Any = None,
    snapshots: bool = True,
) -> ProgramInputs:
    """Measure results, attribution, targeting and snapshots for a contract, each computed once."""
    as_of = contract.period_end
    if measure_results is None and contract.measures:
        measure_results = materialize(
            con, "openvbc_measure_results", evaluate_contract_measures(tables, contract)
        )
    attribution = materialize(con, "openvbc_attribution", attribute_pharmacies(tables, contract, as_of))
    targeting = None
    if contract.targeting is not None:
        reference = drug_reference if drug_reference is not None else drug_reference_table(con)
        targeting = materialize(con, "openvbc_targeting", target_members(tables, contract, as_of, reference))
    monthly = None
    if snapshots and contract.pmpm is not None:
        dates = month_ends(contract.period_start, contract.period_end)
        monthly = materialize(con, "openvbc_snapshots", snapshot_pharmacies(tables, contract, dates))
    return ProgramInputs(tables, measure_results, attribution, targeting, monthly)


@dataclass
class AttributionRun:
    contract: ProgramContract
    counts: dict[str, dict[str, int]]  # method -> {"attributed": n, "not_attributed": m}
    agreement: dict[str, int]  # plurality vs PQA: same / different / only_one / neither
    files: list[Path] = field(default_factory=list)
    snapshot_rows: int = 0


def compute_attribution(
    tables: CanonicalTables, contract: ProgramContract, *, monthly: bool = True
) -> dict[str, Any]:
    """Year-end attribution for every pharmacy method and the practice method, plus monthly snapshots."""
    as_of = contract.period_end
    out: dict[str, Any] = {m: attribute_pharmacies(tables, contract, as_of, m) for m in PHARMACY_METHODS}
    if contract.practice_attribution is not None:
        out["practice"] = attribute_practices(tables, contract, as_of)
    if monthly and contract.pharmacy_attribution is not None:
        dates = month_ends(contract.period_start, contract.period_end)
        out["snapshots"] = snapshot_pharmacies(tables, contract, dates)
    return out


def run_attribution(
    store: Engine,
    program_id: str,
    year: int,
    out_dir: Path,
    *,
    backend: str = "duckdb",
    save: bool = True,
    monthly: bool = True,
) -> AttributionRun:
    """Attribute, compare methods side by side, write CSV + ATR Group JSON, save snapshots."""
    contract = load_contract(program_id, year)
    _con, tables = open_engine_tables(store, PROGRAM_TABLES, backend)
    results = {
        name: expr.to_pyarrow()
        for name, expr in compute_attribution(tables, contract, monthly=monthly).items()
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    stem = f"attribution-{program_id}-{year}"
    year_end = pa.concat_tables(
        [
            results[k].select(list(ATTRIBUTION_COLUMN_NAMES))
            for k in (*PHARMACY_METHODS, "practice")
            if k in results
        ]
    )
    year_end = year_end.sort_by(
        [("member_id", "ascending"), ("provider_kind", "ascending"), ("method", "ascending")]
    )
    path = out_dir / f"{stem}.csv"
    pa_csv.write_csv(year_end, path)
    files.append(path)
    counts = {k: _count(results[k]) for k in (*PHARMACY_METHODS, "practice") if k in results}
    agreement = compare_methods(results["plurality_fills"], results["pqa_days_supply"])
    keys = _member_keys(store)
    files.append(_write_atr(out_dir / f"{stem}-atr-group.json", contract, results, keys))
    snapshot_rows = 0
    if "snapshots" in results:
        snaps = results["snapshots"].sort_by([("as_of", "ascending"), ("member_id", "ascending")])
        path = out_dir / f"{stem}-monthly.csv"
        pa_csv.write_csv(snaps, path)
        files.append(path)
        if save:
            snapshot_rows = save_snapshots(store, contract, pa.concat_tables([snaps, year_end]))
    (out_dir / f"{stem}-summary.json").write_text(
        json.dumps(
            {"program": program_id, "year": year, "counts": counts, "agreement": agreement},
            indent=2,
            sort_keys=True,
        ),
        encoding="utf-8",
    )
    files.append(out_dir / f"{stem}-summary.json")
    return AttributionRun(contract, counts, agreement, files, snapshot_rows)


def _count(table: pa.Table) -> dict[str, int]:
    attributed = table.column("provider_id").drop_null()
    return {"attributed": len(attributed), "not_attributed": table.num_rows - len(attributed)}


def compare_methods(left: pa.Table, right: pa.Table) -> dict[str, int]:
    """How often two methods agree on the member's pharmacy (counted in Arrow, not per row in Python)."""
    a = left.select(["member_id", "provider_id"]).rename_columns(["member_id", "left_id"])
    b = right.select(["member_id", "provider_id"]).rename_columns(["member_id", "right_id"])
    both = a.join(b, "member_id", join_type="full outer")
    x, y = both.column("left_id"), both.column("right_id")
    has_x, has_y = pc.is_valid(x), pc.is_valid(y)

    def count(mask: pa.ChunkedArray) -> int:
        return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)

    paired = pc.and_(has_x, has_y)
    same = pc.and_(paired, pc.fill_null(pc.equal(x, y), False))
    return {
        "same": count(same),
        "different": count(paired) - count(same),
        "only_one": count(pc.xor(has_x, has_y)),
        "neither": count(pc.and_(pc.invert(has_x), pc.invert(has_y))),
    }


def _member_keys(store: Engine) -> dict[int, str]:
    from sqlalchemy import select

    from openvbc.store.tables import member

    with store.connect() as connection:
        return {row[0]: row[1] for row in connection.execute(select(member.c.member_id, member.c.member_key))}


def _write_atr(path: Path, contract: ProgramContract, results: dict[str, Any], keys: dict[int, str]) -> Path:
    previous: dict[str, str] = {}
    if "snapshots" in results:
        snaps = results["snapshots"]
        dates = sorted(set(snaps.column("as_of").to_pylist()))
        if len(dates) >= 2:
            earlier = snaps.filter(pa.compute.equal(snaps.column("as_of"), pa.scalar(dates[-2], pa.date32())))
            previous = {
                keys[m]: n
                for m, n in zip(
                    earlier.column("member_id").to_pylist(),
                    earlier.column("provider_npi").to_pylist(),
                    strict=True,
                )
                if n
            }
    members: list[AttributedMember] = []
    for kind in ("pharmacy", "practice"):
        table = (
            results[contract.pharmacy_attribution.method if kind == "pharmacy" else "practice"]
            if (kind == "pharmacy" or "practice" in results)
            else None
        )
        if table is None:
            continue
        current = {
            keys[m]: n
            for m, n in zip(
                table.column("member_id").to_pylist(), table.column("provider_npi").to_pylist(), strict=True
            )
            if n
        }
        changes = classify_changes(current, previous if kind == "pharmacy" else {})
        members += [AttributedMember(k, n, kind, changes[k]) for k, n in current.items()]
    group = build_atr_group(
        program_id=contract.program_id,
        year=contract.year,
        version=contract.version,
        period_start=contract.period_start,
        period_end=contract.period_end,
        status="final",
        members=members,
        member_system="https://openvbc.org/fhir/member-key",
    )
    path.write_text(json.dumps(group, indent=2, sort_keys=True), encoding="utf-8")
    return path


def save_snapshots(store: Engine, contract: ProgramContract, rows: pa.Table) -> int:
    """Replace the program year's snapshot rows in the store (idempotent per program and year)."""
    table = attribution_snapshot
    records = [
        {
            "program_id": contract.program_id,
            "program_year": contract.year,
            "as_of": r["as_of"],
            "member_id": r["member_id"],
            "provider_kind": r["provider_kind"],
            "method": r["method"],
            "provider_id": r["provider_id"],
            "provider_npi": r["provider_npi"],
            "share": r["share"],
            "reason": r["reason"],
            "rule_version": contract.version,
        }
        for r in rows.select(list(ATTRIBUTION_COLUMN_NAMES)).to_pylist()
    ]
    # The year-end rows and the December snapshot coincide for the contract's own method; keep one.
    unique = {(r["as_of"], r["member_id"], r["provider_kind"], r["method"]): r for r in records}
    with store.begin() as connection:
        connection.execute(
            delete(table).where(
                (table.c.program_id == contract.program_id) & (table.c.program_year == contract.year)
            )
        )
        batch = list(unique.values())
        for start in range(0, len(batch), 5000):
            connection.execute(insert(table), batch[start : start + 5000])
    return len(unique)


def as_of_for(contract: ProgramContract, today: date | None) -> date:
    """Snapshots stop at today during the year; the period end afterwards."""
    return contract.period_end if today is None or today > contract.period_end else today
