"""Program-year benchmark: attribution + payments + worklists on DuckDB, on top of measure results.

    .venv/bin/python bench/program_bench.py [--members 1000000] [--fills-per-member 15] [--threads 2]
                                            [--snapshots] [--out FILE]

Synthetic, seeded, no PHI: each member fills ``fills-per-member`` times on average (Poisson) across
the year, 75 % at a home pharmacy out of 5,000; 5 % of members have MTM encounters; member-level
results for CMS165, GSD and TOBACCO-FREE (40 %, 15 %, 100 % of members in the denominators) and
PDC-STA rows with covered days stand in for the measure run, which is benchmarked on its own
(bench/pdc_bench.py). The contract is the shipped ``pie/2025.yaml``. Timed: year-end pharmacy
attribution (materialised), payments (every statement built in Decimal), worklists (every pharmacy);
optionally the 12 monthly snapshots.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe_machine

from openvbc.engine.attribution import attribute_pharmacies, month_ends, snapshot_pharmacies
from openvbc.engine.backends import connect_duckdb, load_arrow_tables
from openvbc.engine.canonical import MEMBER_RESULT_COLUMNS
from openvbc.rules.loader import load_program_contract
from openvbc.services.attribution import materialize
from openvbc.services.payments import ProgramInputs, compute_payments
from openvbc.services.worklists import compute_worklist

YEAR = 2025
PHARMACIES = 5_000


def _dates(days: np.ndarray) -> pa.Array:
    """Day offsets from 1 January of the benchmark year as dates."""
    return pa.array(
        (np.datetime64(f"{YEAR}-01-01") + days.astype("timedelta64[D]")).astype("datetime64[D]"), pa.date32()
    )


def generate(members: int, fills_per_member: float, seed: int = 42) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    ids = np.arange(1, members + 1, dtype=np.int64)
    counts = rng.poisson(fills_per_member, size=members)
    member_of_fill = np.repeat(ids, counts)
    n = member_of_fill.shape[0]
    home = rng.integers(1, PHARMACIES + 1, size=members)
    pharmacy = np.where(
        rng.random(n) < 0.75, home[member_of_fill - 1], rng.integers(1, PHARMACIES + 1, size=n)
    )
    day = rng.integers(0, 365, size=n)
    classes = np.array(["statins", "ace_inhibitors", "biguanides", "acute_other"])
    fill = pa.table(
        {
            "fill_id": pa.array(np.arange(1, n + 1)),
            "member_id": pa.array(member_of_fill),
            "pharmacy_id": pa.array(pharmacy.astype(np.int64)),
            "fill_date": _dates(day),
            "days_supply": pa.array(rng.choice([30, 60, 90], size=n, p=[0.6, 0.1, 0.3]).astype(np.int64)),
            "drug_class": pa.array(classes[rng.integers(0, 4, size=n)]),
            "ndc11": pa.array(np.full(n, "99999000101")),
            "allowed_amount": pa.array(rng.gamma(2, 20, size=n)),
        }
    )
    provider = pa.table(
        {
            "provider_id": pa.array(np.arange(1, PHARMACIES + 1, dtype=np.int64)),
            "npi": pa.array([f"1{i:09d}" for i in range(1, PHARMACIES + 1)]),
            "kind": pa.array(np.full(PHARMACIES, "pharmacy")),
            "taxonomy": pa.array(np.full(PHARMACIES, "3336C0003X")),
            "parent_npi": pa.nulls(PHARMACIES, pa.string()),
        }
    )
    member = pa.table(
        {
            "member_id": pa.array(ids),
            "death_date": pa.nulls(members, pa.date32()),
            "line_of_business": pa.array(np.full(members, "commercial")),
        }
    )
    coverage = pa.table(
        {
            "member_id": pa.array(ids),
            "line_of_business": pa.array(np.full(members, "commercial")),
            "start_date": pa.array(np.full(members, date(YEAR - 1, 1, 1)), pa.date32()),
            "end_date": pa.nulls(members, pa.date32()),
        }
    )
    engaged = ids[rng.random(members) < 0.05]
    m = engaged.shape[0]
    mtm = pa.table(
        {
            "mtm_key": pa.array([f"E{i}" for i in range(m)]),
            "member_id": pa.array(engaged),
            "pharmacy_npi": pa.array([f"1{p:09d}" for p in home[engaged - 1]]),
            "service_date": _dates(rng.integers(0, 365, size=m)),
            "kind": pa.array(np.full(m, "CMR")),
            "minutes": pa.array(rng.integers(10, 70, size=m)),
            "patient_status": pa.array(np.full(m, "new")),
        }
    )
    results = []
    for measure_id, group_id, share, rate in (
        ("CMS165", "650b4f94da013638e7b3dd9a", 0.4, 0.7),
        ("GSD", "GSD-LT8", 0.15, 0.6),
        ("TOBACCO-FREE", "TOBACCO-FREE", 1.0, 0.86),
    ):
        who = ids[rng.random(members) < share]
        k = who.shape[0]
        results.append(_results(measure_id, group_id, who, rng.random(k) < rate, rng))
    pdc_members = ids[rng.random(members) < 0.3]
    k = pdc_members.shape[0]
    pdc = _results("PDC-STA", "PDC-STA", pdc_members, rng.random(k) < 0.5, rng)
    pdc = pdc.append_column("period_end", pa.array(np.full(k, date(YEAR, 12, 31)), pa.date32()))
    pdc = pdc.append_column("period_days", pa.array(np.full(k, 300, dtype=np.int64)))
    pdc = pdc.append_column("covered_days", pa.array(rng.integers(100, 300, size=k)))
    return {
        "fill": fill,
        "provider": provider,
        "member": member,
        "coverage": coverage,
        "mtm_encounter": mtm,
        "results": pa.concat_tables(results),
        "pdc": pdc,
    }


def _results(measure_id: str, group_id: str, who: np.ndarray, hit: np.ndarray, rng: Any) -> pa.Table:
    k = who.shape[0]
    columns: dict[str, Any] = {}
    for name, kind in MEMBER_RESULT_COLUMNS:
        if name == "measure_id":
            columns[name] = pa.array(np.full(k, measure_id))
        elif name == "group_id":
            columns[name] = pa.array(np.full(k, group_id))
        elif name == "member_id":
            columns[name] = pa.array(who)
        elif name == "numerator":
            columns[name] = pa.array(hit)
        elif name in ("initial_population", "denominator"):
            columns[name] = pa.array(np.ones(k, dtype=bool))
        elif kind == "boolean":
            columns[name] = pa.array(np.zeros(k, dtype=bool))
        elif kind == "date":
            columns[name] = _dates(rng.integers(0, 365, size=k))
        else:
            columns[name] = pa.array(np.full(k, "bench"))
    return pa.table(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--fills-per-member", type=float, default=15.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--snapshots", action="store_true", help="also time the 12 monthly snapshots")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    data = generate(args.members, args.fills_per_member)
    generated = time.perf_counter() - started
    con = connect_duckdb(threads=args.threads)
    tables = load_arrow_tables(con, data)
    contract = load_program_contract("pie", YEAR)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    attribution = materialize(
        con, "bench_attribution", attribute_pharmacies(tables, contract, date(YEAR, 12, 31))
    )
    timings["attribution"] = time.perf_counter() - t
    inputs = ProgramInputs(tables, tables["results"], attribution)
    # Tier 2 of pie/2025 pays on targeted members; the bench has no conditions, so it scores attributed ones.
    from dataclasses import replace

    bench_contract = replace(contract, tier2=replace(contract.tier2, population="attributed"))  # type: ignore[arg-type]
    t = time.perf_counter()
    run = compute_payments(inputs, bench_contract)
    timings["payments"] = time.perf_counter() - t
    t = time.perf_counter()
    worklist = compute_worklist(con, inputs, bench_contract, date(YEAR, 11, 1), pdc_results=tables["pdc"])
    timings["worklists"] = time.perf_counter() - t
    timings["total"] = timings["attribution"] + timings["payments"] + timings["worklists"]
    if args.snapshots:
        t = time.perf_counter()
        snaps = materialize(
            con,
            "bench_snapshots",
            snapshot_pharmacies(tables, contract, month_ends(date(YEAR, 1, 1), date(YEAR, 12, 31))),
        )
        snapshot_rows = int(snaps.count().to_pyarrow().as_py())
        timings["monthly_snapshots"] = time.perf_counter() - t
    report = {
        "benchmark": "program_year",
        "members": args.members,
        "fills": data["fill"].num_rows,
        "pharmacies": PHARMACIES,
        "threads": args.threads,
        "generate_s": round(generated, 2),
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "statements": len(run.statements),
        "payment_lines": sum(len(s.lines) for s in run.statements),
        "total_paid": f"{run.total:.2f}",
        "worklist_rows": worklist.num_rows,
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024, 2),
        "machine": describe_machine(),
        "date": str(date.today()),
    }
    if args.snapshots:
        report["snapshot_rows"] = snapshot_rows
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
