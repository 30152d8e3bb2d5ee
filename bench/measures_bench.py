"""Measure-engine benchmark: all eight measures at plan scale on DuckDB, with baselines in the same run.

    .venv/bin/python bench/measures_bench.py [--members 1000000] [--seed 42] [--threads 2]
        [--runs 3] [--skip-naive] [--memory-limit 3GB] [--in-memory] [--data-dir /tmp/openvbc-bench]
        [--out FILE]

Steps, each in a fresh child process (``peak.run_step``) so each has its own peak RSS:

1. plan: ``openvbc.synth.generator.generate_plan`` (Parquet) into ``--data-dir``, reused when its
   manifest matches; a documented top-up (``plan_loading.write_top_up``) lifts it to the floors
   of >= 15 M fills and >= 5 M observations.
2. engine: Parquet -> canonical tables in a DuckDB database file (``plan_loading.load_plan``;
   timed apart; ``--in-memory`` for ``:memory:``), then ``runs`` warm passes in one connection
   (``threads`` threads): ``stage_shared_inputs`` once, then the eight measures through the
   registry, each result fetched to Arrow as the service does. Reports the median seconds of
   staging, of each measure and of the total (staging included), result checksums, and writes
   the PDC inputs and results for the kernel step.
3. kernel: the numpy PDC kernel (``openvbc.engine.pdc_kernel``, 1 thread) over exactly the
   engine's PDC rows, median of ``runs``; covered days must agree member by member.
4. naive (unless ``--skip-naive``): ``naive_measures`` per-member pandas loops for CMS165 and
   PDC-STA on a 1 % member sample (member number divisible by 100), scaled x100; its results
   must agree with the engine's for the sampled members.

The machines are shared: the report gives ratios measured in the same run, with all runs listed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from machine import describe_machine  # noqa: E402
from peak import run_step  # noqa: E402

MEASURES = ("CMS165", "CMS122", "GSD", "CMS138", "TOBACCO-FREE", "PDC-DR", "PDC-RASA", "PDC-STA")
PDC_MEASURES = ("PDC-DR", "PDC-RASA", "PDC-STA")
MIN_FILLS, MIN_OBSERVATIONS = 15_000_000, 5_000_000
SAMPLE_EVERY = 100  # the naive baseline's 1 % sample: member numbers divisible by 100


# --------------------------------------------------------------------------------------- plan


def ensure_plan(folder: Path, members: int, seed: int, year: int) -> dict[str, Any]:
    """Generate the plan unless ``folder`` already holds the same one; add the top-up."""
    import pyarrow.parquet as pq
    from plan_loading import read_manifest, write_top_up

    manifest_path = folder / "manifest.json"
    manifest = read_manifest(folder) if manifest_path.exists() else {}
    same = (manifest.get("members"), manifest.get("seed"), manifest.get("year"), manifest.get("format"))
    generated_s = None
    if same != (members, seed, year, "parquet"):
        from openvbc.synth.generator import generate_plan

        started = time.perf_counter()
        generate_plan(folder, members, seed, year, fmt="parquet")
        generated_s = time.perf_counter() - started
        manifest = read_manifest(folder)
        for stale in ("topup_fills.parquet", "topup_observations.parquet"):
            (folder / stale).unlink(missing_ok=True)
    floors = (MIN_FILLS * members // 1_000_000, MIN_OBSERVATIONS * members // 1_000_000)
    top_ups = {"fills": folder / "topup_fills.parquet", "observations": folder / "topup_observations.parquet"}
    if any(path.exists() for path in top_ups.values()):
        added = {k: pq.read_metadata(p).num_rows if p.exists() else 0 for k, p in top_ups.items()}
    else:
        added = write_top_up(folder, floors[0], floors[1], seed, year)
    return {
        "generated_s": None if generated_s is None else round(generated_s, 1),
        "generator_files": manifest["files"],
        "top_up_rows": added,
    }


# ------------------------------------------------------------------------------------ engine


def _summarise(measure: str, result: Any) -> dict[str, Any]:
    """Counts per group and population: the checksum that speed may never buy."""
    import pyarrow.compute as pc

    out: dict[str, Any] = {"rows": result.num_rows}
    groups = result["group_id"].unique().to_pylist()
    for group in sorted(groups):
        rows = result.filter(pc.equal(result["group_id"], group))
        out[group] = {
            name: int(pc.sum(rows[name].cast("int64")).as_py() or 0)
            for name in ("initial_population", "denominator", "denominator_exclusion", "numerator")
        }
    if measure in PDC_MEASURES:
        out["covered_days_sum"] = int(pc.sum(result["covered_days"]).as_py() or 0)
    return out


def run_engine_step(params: dict[str, Any]) -> dict[str, Any]:
    """Child process: load the plan into DuckDB and run the eight measures ``runs`` times."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from plan_loading import load_plan

    from openvbc.domain.periods import MeasurementPeriod
    from openvbc.engine.backends import connect_duckdb
    from openvbc.engine.registry import find_evaluator
    from openvbc.services.measures import load_measure_rule

    folder, work = Path(params["plan"]), Path(params["work"])
    year = int(params["year"])
    # A database file, not ":memory:": DuckDB then keeps tables compressed and its buffer pool
    # inside ``memory_limit`` (in memory, 15 M fills of uncompressed strings alone took > 4 GB).
    database = work / "engine.duckdb"
    if params["in_memory"]:
        database = Path(":memory:")
    else:
        database.unlink(missing_ok=True)
        Path(f"{database}.wal").unlink(missing_ok=True)
    con = connect_duckdb(str(database), threads=int(params["threads"]))
    _execute_sql(con, f"SET memory_limit = '{params['memory_limit']}'")
    _execute_sql(con, f"SET temp_directory = '{work / 'duckdb-tmp'}'")
    started = time.perf_counter()
    counts = load_plan(con, folder)
    load_s = time.perf_counter() - started
    names = list(counts)
    tables = {name: con.table(name) for name in names}
    rules = {m: load_measure_rule(m, year) for m in MEASURES}
    period = MeasurementPeriod(date(year, 1, 1), date(year, 12, 31))

    prepare_runs: list[float] = []
    runs: dict[str, list[float]] = {m: [] for m in MEASURES}
    totals: list[float] = []
    checksums: dict[str, Any] = {}
    for run in range(int(params["runs"])):
        run_started = time.perf_counter()
        prepared = _prepare(con, tables, rules, period)
        prepare_runs.append(time.perf_counter() - run_started)
        for measure in MEASURES:
            started = time.perf_counter()
            result = find_evaluator(measure)(prepared, rules[measure], period).to_pyarrow()
            runs[measure].append(time.perf_counter() - started)
            if run == 0:
                checksums[measure] = _summarise(measure, result)
                keep = [
                    "member_id",
                    "initial_population",
                    "denominator",
                    "denominator_exclusion",
                    "numerator",
                ]
                if measure in PDC_MEASURES:
                    keep += ["index_date", "period_end", "covered_days", "period_days"]
                    _write_kernel_input(
                        con, prepared, rules[measure], period, work / f"{measure}.kernel.parquet"
                    )
                if measure in ("CMS165", *PDC_MEASURES):
                    pq.write_table(result.select(keep), work / f"{measure}.engine.parquet")
            del result
        totals.append(time.perf_counter() - run_started)
    fills, observations = counts["fill"], counts["observation"]
    total_s = statistics.median(totals)
    return {
        "load_s": round(load_s, 2),
        "table_rows": counts,
        "prepare_s": round(statistics.median(prepare_runs), 2),
        "prepare_runs": [round(t, 2) for t in prepare_runs],
        "measure_s": {m: round(statistics.median(t), 2) for m, t in runs.items()},
        "measure_runs": {m: [round(x, 2) for x in t] for m, t in runs.items()},
        "total_s": round(total_s, 2),
        "total_runs": [round(t, 2) for t in totals],
        "input_rows_per_s": round((fills + observations) / total_s),
        "checksums": checksums,
        "database": "in-memory" if params["in_memory"] else "file",
        "memory_limit": params["memory_limit"],
        "duckdb": __import__("duckdb").__version__,
        "arrow": pa.__version__,
    }


def _execute_sql(con: Any, sql: str) -> None:
    con.con.execute(sql).fetchall()


def _prepare(con: Any, tables: dict[str, Any], rules: dict[str, Any], period: Any) -> dict[str, Any]:
    """The engine's once-per-run staging of shared intermediates (what the service calls)."""
    from openvbc.engine.measures.staging import stage_shared_inputs

    return stage_shared_inputs(con, tables, list(rules.values()), period)


def _write_kernel_input(con: Any, tables: dict[str, Any], rule: Any, period: Any, path: Path) -> None:
    """The (member, stream, fill day, supply, end day) rows the engine measured coverage on."""
    import pyarrow.parquet as pq

    from openvbc.engine.adherence import kernel_rows

    pq.write_table(kernel_rows(tables, rule, period).to_pyarrow(), path)


# ------------------------------------------------------------------------------------ kernel


def run_kernel_step(params: dict[str, Any]) -> dict[str, Any]:
    """Child process: the numpy kernel over the engine's own PDC rows; check it agrees."""
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from openvbc.engine.pdc_kernel import compute_member_coverage

    work = Path(params["work"])
    out: dict[str, Any] = {"kernel_s": {}, "kernel_runs": {}, "mismatches": {}, "rows": {}}
    total_runs = [0.0] * int(params["runs"])
    for measure in PDC_MEASURES:
        rows = pq.read_table(work / f"{measure}.kernel.parquet")
        codes = pc.dictionary_encode(rows["stream"]).combine_chunks().indices
        arrays = (
            rows["member_id"].to_numpy(),
            np.asarray(codes),
            rows["fill_day"].to_numpy(),
            rows["days_supply"].to_numpy(),
            rows["end_day"].to_numpy(),
        )
        times = []
        coverage = None
        for run in range(int(params["runs"])):
            started = time.perf_counter()
            coverage = compute_member_coverage(*arrays)
            times.append(time.perf_counter() - started)
            total_runs[run] += times[-1]
        assert coverage is not None
        engine = pq.read_table(work / f"{measure}.engine.parquet")
        expected = dict(zip(engine["member_id"].to_pylist(), engine["covered_days"].to_pylist(), strict=True))
        out["mismatches"][measure] = sum(
            expected.get(int(m), -1) != int(c)
            for m, c in zip(coverage.member, coverage.covered_days, strict=True)
        )
        out["rows"][measure] = rows.num_rows
        out["kernel_s"][measure] = round(statistics.median(times), 3)
        out["kernel_runs"][measure] = [round(t, 3) for t in times]
    out["kernel_total_s"] = round(statistics.median(total_runs), 3)
    return out


# ------------------------------------------------------------------------------------- naive


def run_naive_step(params: dict[str, Any]) -> dict[str, Any]:
    """Child process: the per-member pandas loops on the 1 % sample; compare with the engine."""
    import naive_measures

    return naive_measures.run_sample(
        Path(params["plan"]), Path(params["work"]), int(params["year"]), SAMPLE_EVERY
    )


# -------------------------------------------------------------------------------------- main


def _step(function: str, params: dict[str, Any]) -> dict[str, Any]:
    code = (
        f"import sys; sys.path.insert(0, {str(BENCH_DIR)!r})\n"
        "import measures_bench\n"
        f"RESULT = measures_bench.{function}({params!r})"
    )
    return run_step(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB memory_limit (default 3GB)")
    parser.add_argument("--in-memory", action="store_true", help="in-memory DuckDB instead of a file")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/openvbc-bench"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    plan = args.data_dir / f"plan-{args.members}-{args.seed}-{args.year}"
    work = args.data_dir / f"work-{args.members}-{args.seed}-{args.year}"
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "command": " ".join(sys.argv),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": describe_machine(),
        "plan": ensure_plan(plan, args.members, args.seed, args.year),
    }
    params = {
        "plan": str(plan),
        "work": str(work),
        "year": args.year,
        "threads": args.threads,
        "runs": args.runs,
        "memory_limit": args.memory_limit,
        "in_memory": args.in_memory,
    }
    print(json.dumps(report["plan"]), file=sys.stderr)
    engine = _step("run_engine_step", params)
    report["engine"] = engine
    print(
        json.dumps({k: engine[k] for k in ("load_s", "measure_s", "total_s", "peak_rss_mib")}),
        file=sys.stderr,
    )
    kernel = _step("run_kernel_step", params)
    report["kernel"] = kernel
    pdc_s = sum(engine["measure_s"][m] for m in PDC_MEASURES)
    report["ratios"] = {
        "pdc_engine_to_kernel": round(pdc_s / kernel["kernel_total_s"], 2),
        **{
            f"{m}_engine_to_kernel": round(engine["measure_s"][m] / kernel["kernel_s"][m], 2)
            for m in PDC_MEASURES
        },
    }
    if not args.skip_naive:
        naive = _step("run_naive_step", params)
        report["naive"] = naive
        for measure, seconds in naive["scaled_s"].items():
            report["ratios"][f"naive_{measure}_to_engine"] = round(seconds / engine["measure_s"][measure], 1)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
