"""The program year end to end over the store: payments, what-if, worklists, ROI, one HTML report.

``run_program_year`` is what ``openvbc demo`` calls after the import; the CLI commands
``payments run|simulate`` and ``worklist build`` call the narrower functions here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from openvbc.domain import contract as c
from openvbc.services.attribution import PROGRAM_TABLES, build_program_inputs, load_contract
from openvbc.services.engine_inputs import open_engine_tables
from openvbc.services.payments import PaymentRun, ProgramInputs, compute_payments
from openvbc.services.roi import RoiResult, compute_roi
from openvbc.services.statements import write_statements
from openvbc.services.statements.render import FORMATS
from openvbc.services.worklists import (
    compute_worklist,
    evaluate_gap_measures,
    read_member_keys,
    read_outreach,
    write_worklists,
)


def open_program(
    store: Engine, program_id: str, year: int, backend: str = "duckdb"
) -> tuple[Any, c.ProgramContract, ProgramInputs]:
    contract = load_contract(program_id, year)
    con, tables = open_engine_tables(store, PROGRAM_TABLES, backend)
    return con, contract, build_program_inputs(con, tables, contract)


def run_payments(
    store: Engine,
    program_id: str,
    year: int,
    out_dir: Path,
    *,
    backend: str = "duckdb",
    formats: Sequence[str] = FORMATS,
) -> tuple[PaymentRun, list[Path]]:
    """Compute and write the year's statements."""
    _con, contract, inputs = open_program(store, program_id, year, backend)
    run = compute_payments(inputs, contract)
    return run, write_statements(run, out_dir, formats)


@dataclass(frozen=True)
class PharmacyChange:
    pharmacy_id: int
    pharmacy_npi: str
    before: Decimal
    after: Decimal
    members_to_unlock_tier2: int | None  # more numerator members for the clinical gate (None: cannot)
    tier2_if_unlocked: Decimal  # tier 1 + tier 2 the pharmacy would add by meeting the gate now

    @property
    def change(self) -> Decimal:
        return self.after - self.before


def simulate(
    inputs: ProgramInputs,
    contract: c.ProgramContract,
    *,
    targets: Mapping[str, Decimal] | None = None,
    outcomes: Mapping[tuple[int, str], bool] | None = None,
) -> list[PharmacyChange]:
    """Per pharmacy: payment before/after changed benchmarks or outcomes, and what unlocks tier 2."""
    baseline = compute_payments(inputs, contract)
    changed_contract = contract.with_targets(targets or {})
    changed = compute_payments(inputs, changed_contract, outcomes)
    out = []
    for statement in changed.statements:
        before = baseline.statement_for(statement.pharmacy_id)
        needed = None
        worth = c.ZERO
        if changed_contract.scoring is not None and statement.clinical is not None:
            needed = c.members_to_meet_clinical(statement.scores, changed_contract.scoring)
            if needed and changed_contract.tier1 is not None:
                worth = _worth_of_gate(changed, statement, changed_contract)
        out.append(
            PharmacyChange(
                statement.pharmacy_id,
                changed.pharmacy_npis.get(statement.pharmacy_id, ""),
                before.total if before else c.ZERO,
                statement.total,
                needed,
                worth,
            )
        )
    return out


def _worth_of_gate(run: PaymentRun, statement: c.Statement, contract: c.ProgramContract) -> Decimal:
    """Extra tier 1 + tier 2 the pharmacy would be paid with the clinical gate open and today's engagement."""
    assert contract.tier1 is not None
    opened = c.ClinicalResult(
        True, len(statement.scores), len(statement.scores), "hypothetical: benchmarks met"
    )
    members = run.attributed.get(statement.pharmacy_id, ())
    tier1 = c.pay_tier1(statement.pharmacy_id, contract.tier1, opened, members, "")
    value = tier1.amount - statement.component_total("tier1")
    count = run.engagement.get(statement.pharmacy_id)
    if contract.tier2 is not None and count is not None:
        value += c.pay_tier2(statement.pharmacy_id, contract.tier2, tier1, opened, count, "").amount
        value -= statement.component_total("tier2")
    return value


def build_worklists(
    store: Engine, program_id: str, year: int, out_dir: Path, today: date, *, backend: str = "duckdb"
) -> Any:
    con, contract, inputs = open_program(store, program_id, year, backend)
    gap_results, pdc_results = evaluate_gap_measures(inputs.tables, contract)
    table = compute_worklist(
        con,
        inputs,
        contract,
        today,
        gap_results=gap_results,
        pdc_results=pdc_results,
        outreach_rows=read_outreach(store),
    )
    npis = _npis(inputs)
    return write_worklists(table, out_dir, npis, read_member_keys(store))


def _npis(inputs: ProgramInputs) -> dict[int, str]:
    rows = (
        inputs.attribution.filter(inputs.attribution.provider_id.notnull())
        .select("provider_id", "provider_npi")
        .distinct()
        .to_pyarrow()
        .to_pylist()
    )
    return {int(r["provider_id"]): str(r["provider_npi"]) for r in rows}


@dataclass
class ProgramYearResult:
    program_id: str
    year: int
    out_dir: Path
    report: Path
    total_paid: Decimal
    pharmacies: int
    roi: RoiResult | None
    files: list[Path] = field(default_factory=list)


def run_program_year(
    engine: Engine, program: str, year: int, out_dir: Path, today: date, backend: str = "duckdb"
) -> ProgramYearResult:
    """Attribution, payments, worklists and ROI for one program year; writes ``program-year.html``."""
    from openvbc.services.attribution import run_attribution

    out_dir.mkdir(parents=True, exist_ok=True)
    files = list(run_attribution(engine, program, year, out_dir / "attribution", backend=backend).files)
    con, contract, inputs = open_program(engine, program, year, backend)
    run = compute_payments(inputs, contract)
    files += write_statements(run, out_dir / "payments")
    gap_results, pdc_results = evaluate_gap_measures(inputs.tables, contract)
    worklist = compute_worklist(
        con,
        inputs,
        contract,
        today,
        gap_results=gap_results,
        pdc_results=pdc_results,
        outreach_rows=read_outreach(engine),
    )
    files += write_worklists(
        worklist, out_dir / "worklists", run.pharmacy_npis, read_member_keys(engine)
    ).files
    roi = compute_roi(con, inputs, contract) if contract.targeting is not None else None
    report = out_dir / "program-year.html"
    report.write_text(_report_html(run, roi), encoding="utf-8")
    summary = {
        "program": program,
        "year": year,
        "total_paid": f"{run.total:.2f}",
        "pharmacies": len(run.statements),
        "notes": run.notes,
    }
    (out_dir / "program-year.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8"
    )
    return ProgramYearResult(
        program, year, out_dir, report, run.total, len(run.statements), roi, [*files, report]
    )


def _report_html(run: PaymentRun, roi: RoiResult | None) -> str:
    from openvbc.services.statements.render import _env, run_payload

    payload = run_payload(run)
    roi_view = None
    if roi is not None:
        roi_view = {
            "method": roi.method,
            "engaged": roi.engaged,
            "comparison": roi.comparison,
            "did": roi.difference_in_differences,
        }
    return _env().get_template("program_year.html").render(run=payload, roi=roi_view)
