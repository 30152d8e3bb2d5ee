"""`openvbc demo`: a whole run on embedded defaults, from nothing to a summary.

Today: synthetic plan -> validated import into the store -> summary. Later capabilities
(measures, attribution, payments, worklists) append their steps here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from openvbc.config import Settings
from openvbc.services.imports import import_path
from openvbc.services.plan_summary import PlanSummary, summarize_plan
from openvbc.services.store_admin import open_store
from openvbc.synth.generator import generate_plan

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoResult:
    out_dir: Path
    database_url: str
    generated: Any
    imported: Any
    summary: PlanSummary


def run_demo(
    settings: Settings,
    *,
    out_dir: Path,
    members: int,
    seed: int,
    year: int,
    today: date,
    progress: Progress | None = None,
) -> DemoResult:
    """Generate a plan, load it into the configured store and summarise it."""
    package_dir = out_dir / "plan"

    def synth_progress(done: int, total: int) -> None:
        if progress:
            progress("generate", done, total)

    manifest = generate_plan(package_dir, members=members, seed=seed, year=year, progress=synth_progress)
    engine = open_store(settings)
    if progress:
        progress("import", 0, 1)
    report = import_path(engine, package_dir, check_only=False, today=today)
    if progress:
        progress("import", 1, 1)
    summary = summarize_plan(engine, year)
    return DemoResult(out_dir=out_dir, database_url=settings.database_url, generated=manifest,
                      imported=report, summary=summary)
