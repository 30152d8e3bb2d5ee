"""PDC benchmark: the Ibis expression on DuckDB against the numpy reference kernel (the floor).

    .venv/bin/python bench/pdc_bench.py [--members 200000] [--threads 2] [--runs 3] [--out FILE]

Synthetic statin fills for one measurement year (seeded, no PHI): each member takes one or two
statins, refills after ``days_supply + N(4, 12)`` days (so early refills force overlap shifts),
supplies of 30/60/90 days (60/10/30 %), about 1 in 10 fills is a combination product. Both
engines get the same rows; the script checks they agree member by member before printing times.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe_machine

from openvbc.engine.adherence import evaluate
from openvbc.engine.adherence_coverage import compute_pdc, day_number
from openvbc.engine.backends import connect_duckdb, load_arrow_tables
from openvbc.engine.pdc_kernel import compute_member_coverage
from openvbc.rules.loader import load_measure_rule

STATINS = ["atorvastatin", "rosuvastatin", "simvastatin", "pravastatin", "lovastatin"]
YEAR = 2025


def generate_fills(members: int, seed: int = 42) -> dict[str, np.ndarray]:
    """Columns of synthetic fills, sorted by nothing in particular (as loaded)."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"member": [], "ingredient": [], "day": [], "supply": []}
    streams = np.repeat(np.arange(members), rng.choice([1, 2], size=members, p=[0.8, 0.2]))
    ingredient = rng.integers(0, len(STATINS), size=streams.shape[0])
    day = rng.integers(0, 200, size=streams.shape[0])
    alive = np.ones(streams.shape[0], dtype=bool)
    while alive.any():
        supply = rng.choice([30, 60, 90], size=streams.shape[0], p=[0.6, 0.1, 0.3])
        keep = alive & (day < 365)
        parts["member"].append(streams[keep])
        parts["ingredient"].append(ingredient[keep])
        parts["day"].append(day[keep])
        parts["supply"].append(supply[keep])
        day = day + supply + np.round(rng.normal(4, 12, size=streams.shape[0])).astype(np.int64)
        day = np.maximum(day, 0)
        alive = keep
    return {name: np.concatenate(chunks).astype(np.int64) for name, chunks in parts.items()}


def as_tables(cols: dict[str, np.ndarray]) -> dict[str, pa.Table]:
    n = cols["member"].shape[0]
    rng = np.random.default_rng(7)
    names = np.array(STATINS, dtype=object)[cols["ingredient"]]
    combo = rng.random(n) < 0.1
    names[combo & (names == "atorvastatin")] = "amlodipine|atorvastatin"
    names[combo & (names == "simvastatin")] = "ezetimibe|simvastatin"
    classes = np.where(np.char.find(names.astype(str), "|") >= 0, "other|statins", "statins")
    classes = np.where(names == "amlodipine|atorvastatin", "calcium_channel_blockers|statins", classes)
    classes = np.where(names == "ezetimibe|simvastatin", "cholesterol_absorption_inhibitors|statins", classes)
    start = date(YEAR, 1, 1)
    members = np.unique(cols["member"])
    fill = pa.table(
        {
            "fill_id": pa.array(np.arange(n, dtype=np.int64)),
            "member_id": pa.array(cols["member"]),
            "ndc11": pa.array(["99999000000"] * n),
            "ingredient": pa.array(names.astype(str)),
            "drug_class": pa.array(classes.astype(str)),
            "fill_date": pa.array(cols["day"].astype("int32") + day_number(start), pa.date32()),
            "days_supply": pa.array(cols["supply"]),
        }
    )
    member = pa.table(
        {
            "member_id": pa.array(members),
            "birth_date": pa.array([date(1950, 1, 1)] * members.shape[0], pa.date32()),
            "death_date": pa.nulls(members.shape[0], pa.date32()),
        }
    )
    coverage = pa.table(
        {
            "coverage_id": pa.array(members),
            "member_id": pa.array(members),
            "start_date": pa.array([start - timedelta(days=365)] * members.shape[0], pa.date32()),
            "end_date": pa.nulls(members.shape[0], pa.date32()),
            "rx_benefit": pa.array([True] * members.shape[0]),
        }
    )
    return {"fill": fill, "member": member, "coverage": coverage}


def stream_rows(tables: dict[str, pa.Table]) -> tuple[np.ndarray, ...]:
    """(member, ingredient code, day, supply) per (fill, statin ingredient), as the kernel takes them."""
    fill = tables["fill"]
    names = fill["ingredient"].to_numpy(zero_copy_only=False).astype(str)
    target = np.char.rpartition(names, "|")[:, 2]  # the statin is the last part of both combinations
    codes = np.searchsorted(np.array(sorted(STATINS)), target)
    day = fill["fill_date"].cast(pa.int32()).to_numpy().astype(np.int64)
    return fill["member_id"].to_numpy(), codes, day, fill["days_supply"].to_numpy()


def timed(runs: int, action: Any) -> tuple[float, list[float], Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    tables = as_tables(generate_fills(args.members))
    fills = tables["fill"].num_rows
    member, ingredient, day, supply = stream_rows(tables)
    end_day = day_number(date(YEAR, 12, 31))

    kernel_s, kernel_runs, coverage = timed(
        args.runs,
        lambda: compute_member_coverage(member, ingredient, day, supply, np.full(day.shape[0], end_day)),
    )

    con = connect_duckdb(threads=args.threads)
    loaded = load_arrow_tables(con, tables)
    rule = load_measure_rule("PDC-STA", YEAR)
    fill = loaded["fill"]
    usable = fill.select(
        "fill_id",
        "member_id",
        ingredient=fill.ingredient,
        fill_day=fill.fill_date.epoch_days().cast("int64"),
        days_supply="days_supply",
    )
    windows = usable.group_by("member_id").agg(index_day=usable.fill_day.min()).mutate(end_day=end_day)
    targets = sorted(STATINS)
    core_s, core_runs, core = timed(args.runs, lambda: compute_pdc(usable, windows, targets).to_pyarrow())
    full_s, full_runs, full = timed(args.runs, lambda: evaluate(loaded, rule).to_pyarrow())

    by_member = dict(zip(core["member_id"].to_pylist(), core["covered_days"].to_pylist(), strict=True))
    mismatches = sum(
        by_member.get(int(m), -1) != int(c)
        for m, c in zip(coverage.member, coverage.covered_days, strict=True)
    )
    full_covered = dict(zip(full["member_id"].to_pylist(), full["covered_days"].to_pylist(), strict=True))
    full_mismatches = sum(full_covered.get(m, -1) != c for m, c in by_member.items())
    report = {
        "workload": "PDC-STA, one measurement year",
        "machine": describe_machine(),
        "members": int(coverage.member.shape[0]),
        "fills": fills,
        "duckdb_threads": args.threads,
        "numpy_kernel_s": round(kernel_s, 3),
        "numpy_kernel_runs": [round(t, 3) for t in kernel_runs],
        "duckdb_compute_pdc_s": round(core_s, 3),
        "duckdb_compute_pdc_runs": [round(t, 3) for t in core_runs],
        "duckdb_evaluate_s": round(full_s, 3),
        "duckdb_evaluate_runs": [round(t, 3) for t in full_runs],
        "ratio_compute_pdc_to_kernel": round(core_s / kernel_s, 2),
        "ratio_evaluate_to_kernel": round(full_s / kernel_s, 2),
        "mismatches_kernel_vs_duckdb": mismatches,
        "mismatches_compute_pdc_vs_evaluate": full_mismatches,
        "mean_pdc": round(float(np.mean(coverage.covered_days / np.maximum(coverage.period_days, 1))), 6),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
