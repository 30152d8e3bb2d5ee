"""`openvbc demo`: a whole program year on embedded defaults, from nothing to a report.

Synthetic plan -> validated import into the store -> summary -> quality and adherence
measures -> the PIE program year (attribution, payments, worklists, ROI, HTML report).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from openvbc.config import Settings
from openvbc.services.imports import import_path
from openvbc.services.measures import run_measures_over_store
from openvbc.services.plan_summary import PlanSummary, summarize_plan
from openvbc.services.program_year import ProgramYearResult, run_program_year
from openvbc.services.store_admin import open_store
from openvbc.synth.generator import generate_plan

Progress = Callable[[str, int, int], None]

# Every measure the engine ships: the five quality measures and the three PDC classes.
DEMO_MEASURES = ("CMS165", "CMS122", "GSD", "CMS138", "TOBACCO-FREE", "PDC-DR", "PDC-RASA", "PDC-STA")


@dataclass(frozen=True)
class DemoResult:
    out_dir: Path
    database_url: str
    generated: Any
    imported: Any
    summary: PlanSummary
    measures: Any
    program_year: ProgramYearResult


def run_demo(
    settings: Settings,
    *,
    out_dir: Path,
    members: int,
    seed: int,
    year: int,
    today: date,
    program: str = "pie",
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
    if progress:
        progress("measures", 0, 1)
    measures = run_measures_over_store(engine, year, out_dir / "measures", measure_ids=DEMO_MEASURES)
    if progress:
        progress("measures", 1, 1)
        progress("program", 0, 1)
    program_year = run_program_year(engine, program, year, out_dir / "program-year", today)
    if progress:
        progress("program", 1, 1)
    return DemoResult(
        out_dir=out_dir,
        database_url=settings.database_url,
        generated=manifest,
        imported=report,
        summary=summary,
        measures=measures,
        program_year=program_year,
    )
