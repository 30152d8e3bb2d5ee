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
import hashlib
import json
import os
import resource
import statistics
import subprocess
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


_EPOCH_DAYS = (date(YEAR, 1, 1) - date(1970, 1, 1)).days


def _dates(days: Any) -> pa.Array:
    """Day offsets from 1 January of the benchmark year as dates (date32 = days since 1970)."""
    return pa.array(days.astype(np.int32) + _EPOCH_DAYS, pa.int32()).cast(pa.date32())


def _repeat(value: str, n: int) -> pa.Array:
    """A constant string column built in Arrow (numpy unicode arrays convert slowly)."""
    return pa.repeat(pa.scalar(value, pa.string()), n)


def _pick(choices: list[str], codes: np.ndarray) -> pa.Array:
    """``choices[codes]`` as an Arrow string column, without a numpy unicode array."""
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(choices)).cast(
        pa.string()
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
    classes = ["statins", "ace_inhibitors", "biguanides", "acute_other"]
    fill = pa.table(
        {
            "fill_id": pa.array(np.arange(1, n + 1)),
            "member_id": pa.array(member_of_fill),
            "pharmacy_id": pa.array(pharmacy.astype(np.int64)),
            "fill_date": _dates(day),
            "days_supply": pa.array(rng.choice([30, 60, 90], size=n, p=[0.6, 0.1, 0.3]).astype(np.int64)),
            "drug_class": _pick(classes, rng.integers(0, 4, size=n)),
            "ndc11": _repeat("99999000101", n),
            "allowed_amount": pa.array(rng.gamma(2, 20, size=n)),
        }
    )
    provider = pa.table(
        {
            "provider_id": pa.array(np.arange(1, PHARMACIES + 1, dtype=np.int64)),
            "npi": pa.array([f"1{i:09d}" for i in range(1, PHARMACIES + 1)]),
            "kind": _repeat("pharmacy", PHARMACIES),
            "taxonomy": _repeat("3336C0003X", PHARMACIES),
            "parent_npi": pa.nulls(PHARMACIES, pa.string()),
        }
    )
    member = pa.table(
        {
            "member_id": pa.array(ids),
            "death_date": pa.nulls(members, pa.date32()),
            "line_of_business": _repeat("commercial", members),
        }
    )
    coverage = pa.table(
        {
            "member_id": pa.array(ids),
            "line_of_business": _repeat("commercial", members),
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
            "kind": _repeat("CMR", m),
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


def _results(measure_id: str, group_id: str, who: Any, hit: Any, rng: Any) -> pa.Table:
    k = who.shape[0]
    columns: dict[str, Any] = {}
    for name, kind in MEMBER_RESULT_COLUMNS:
        if name == "measure_id":
            columns[name] = _repeat(measure_id, k)
        elif name == "group_id":
            columns[name] = _repeat(group_id, k)
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
            columns[name] = _repeat("bench", k)
    return pa.table(columns)


def run_phases(con: Any, tables: dict[str, Any], contract: Any, snapshots: bool) -> dict[str, Any]:
    """One timed pass of attribution, payments and worklists (wall and process CPU seconds each)."""
    from dataclasses import replace

    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def clock(name: str, started: tuple[float, float]) -> None:
        timings[name] = time.perf_counter() - started[0]
        cpu[name] = time.process_time() - started[1]

    t = (time.perf_counter(), time.process_time())
    attribution = materialize(
        con, "bench_attribution", attribute_pharmacies(tables, contract, date(YEAR, 12, 31))
    )
    clock("attribution", t)
    inputs = ProgramInputs(tables, tables["results"], attribution)
    # Tier 2 of pie/2025 pays on targeted members; the bench has no conditions, so it scores attributed ones.
    bench_contract = replace(contract, tier2=replace(contract.tier2, population="attributed"))
    t = (time.perf_counter(), time.process_time())
    run = compute_payments(inputs, bench_contract)
    clock("payments", t)
    t = (time.perf_counter(), time.process_time())
    worklist = compute_worklist(con, inputs, bench_contract, date(YEAR, 11, 1), pdc_results=tables["pdc"])
    clock("worklists", t)
    for table in (timings, cpu):
        table["total"] = table["attribution"] + table["payments"] + table["worklists"]
    out: dict[str, Any] = {
        "timings_s": timings,
        "cpu_s": cpu,
        "statements": len(run.statements),
        "payment_lines": sum(len(s.lines) for s in run.statements),
        "total_paid": f"{run.total:.2f}",
        "payments_sha256": _digest_payments(run),
        "worklist_rows": worklist.num_rows,
        "worklist_sha256": hashlib.sha256(worklist.to_pandas().to_csv(index=False).encode()).hexdigest(),
    }
    if snapshots:
        t = (time.perf_counter(), time.process_time())
        snaps = materialize(
            con,
            "bench_snapshots",
            snapshot_pharmacies(tables, contract, month_ends(date(YEAR, 1, 1), date(YEAR, 12, 31))),
        )
        out["snapshot_rows"] = int(snaps.count().to_pyarrow().as_py())
        timings["monthly_snapshots"] = time.perf_counter() - t[0]
        cpu["monthly_snapshots"] = time.process_time() - t[1]
    return out


def _digest_payments(run: Any) -> str:
    """SHA-256 of every line (amount, members, evidence, clause): equal digests = identical money."""
    digest = hashlib.sha256()
    for statement in run.statements:
        for line in statement.lines:
            digest.update(repr(line).encode())
    return digest.hexdigest()


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]}


def compare(args: argparse.Namespace) -> dict[str, Any]:
    """Baseline source tree vs this tree, alternating one run of each per round (same data, same load).

    ``--compare-src DIR`` is a copy of ``src`` from before a change (``DIR/openvbc``); each run is a
    fresh process with that tree or this one first on ``PYTHONPATH``, so both see the same machine
    load over the rounds. Medians per phase; ratio = baseline / current.
    """
    here = Path(__file__).resolve()
    variants = {"baseline": str(args.compare_src), "current": str(here.parents[1] / "src")}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for _ in range(args.repeat):
        for name, src in variants.items():
            command = [
                sys.executable,
                str(here),
                "--members",
                str(args.members),
                "--threads",
                str(args.threads),
            ]
            command += ["--fills-per-member", str(args.fills_per_member)] + (
                ["--snapshots"] if args.snapshots else []
            )
            env = {**os.environ, "PYTHONPATH": src}
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            runs[name].append(json.loads(done.stdout))
    out: dict[str, Any] = {
        "benchmark": "program_year_compare",
        "members": args.members,
        "rounds": args.repeat,
    }
    for name, found in runs.items():
        first = found[0]
        out[name] = {
            "source": variants[name],
            "fills": first["fills"],
            "timings_s": _median([r["timings_s"] for r in found]),
            "cpu_s": _median([r["cpu_s"] for r in found]),
            "peak_rss_gib": max(r["peak_rss_gib"] for r in found),
            "total_paid": sorted({r["total_paid"] for r in found}),
            "worklist_rows": sorted({r["worklist_rows"] for r in found}),
            "payments_sha256": sorted({r["payments_sha256"] for r in found}),
            "worklist_sha256": sorted({r["worklist_sha256"] for r in found}),
        }
    base, cur = out["baseline"], out["current"]
    out["ratio_wall"] = {
        k: round(base["timings_s"][k] / max(v, 1e-9), 2) for k, v in cur["timings_s"].items()
    }
    out["ratio_cpu"] = {k: round(base["cpu_s"][k] / max(v, 1e-9), 2) for k, v in cur["cpu_s"].items()}
    out["same_results"] = all(
        base[k] == cur[k] for k in ("total_paid", "worklist_rows", "payments_sha256", "worklist_sha256")
    )
    out["machine"] = describe_machine()
    out["load_average"] = os.getloadavg()
    out["date"] = str(date.today())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--fills-per-member", type=float, default=15.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--snapshots", action="store_true", help="also time the 12 monthly snapshots")
    parser.add_argument("--repeat", type=int, default=1, help="passes (or compare rounds); medians reported")
    parser.add_argument(
        "--compare-src", type=Path, help="a copy of src/ from before a change to compare with"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.compare_src is not None:
        report = compare(args)
    else:
        started = time.perf_counter()
        data = generate(args.members, args.fills_per_member)
        generated = time.perf_counter() - started
        con = connect_duckdb(threads=args.threads)
        tables = load_arrow_tables(con, data)
        contract = load_program_contract("pie", YEAR)
        passes = [run_phases(con, tables, contract, args.snapshots) for _ in range(args.repeat)]
        report = {
            "benchmark": "program_year",
            "members": args.members,
            "fills": data["fill"].num_rows,
            "pharmacies": PHARMACIES,
            "threads": args.threads,
            "generate_s": round(generated, 2),
            **{k: v for k, v in passes[-1].items() if k not in ("timings_s", "cpu_s")},
            "timings_s": _median([p["timings_s"] for p in passes]),
            "cpu_s": _median([p["cpu_s"] for p in passes]),
            "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024, 2),
            "machine": describe_machine(),
            "load_average": os.getloadavg(),
            "date": str(date.today()),
        }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
