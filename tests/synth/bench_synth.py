"""Time the synthetic plan generator (not collected by pytest).

Usage: ``.venv/bin/python -m tests.synth.bench_synth MEMBERS [--chunk-size N] [--format csv|parquet]
[--out DIR]``. Run one size per fresh process so peak RSS (``getrusage``) belongs to that run.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from openvbc.synth.generator import generate_plan


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("members", type=int)
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--format", default="csv")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="synth_bench_"))
    started = time.perf_counter()
    cpu = time.process_time()
    manifest = generate_plan(out, args.members, args.seed, 2024, fmt=args.format, chunk_size=args.chunk_size)
    wall = time.perf_counter() - started
    rows = sum(manifest.files.values())
    fills = manifest.files[f"fills.{args.format}"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"members={args.members:,} format={args.format} chunk={args.chunk_size:,} wall={wall:.1f}s "
        f"cpu={time.process_time() - cpu:.1f}s rows={rows:,} rows/s={rows / wall:,.0f} fills={fills:,} "
        f"hl7={manifest.hl7_messages:,} peak_rss={peak:,.0f}MB out={out}"
    )


if __name__ == "__main__":
    main()
