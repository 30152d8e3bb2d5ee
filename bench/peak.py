"""Run one benchmark step in a child process and report wall time and peak RSS.

A child per step gives each step its own peak-memory figure (ru_maxrss of the child).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any


def run_step(code: str) -> dict[str, Any]:
    """Run python ``code`` in a fresh interpreter; it must print one JSON object on its last line."""
    wrapper = (
        "import json, resource, time\n"
        "t0 = time.perf_counter()\n"
        f"{code}\n"
        "elapsed = time.perf_counter() - t0\n"
        "peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps({'seconds': elapsed, 'peak_rss_mib': peak_mib, **RESULT}))\n"
    )
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - started
    return result
