"""Write a payment run as JSON, CSV, HTML and PDF.

JSON is the record: sorted keys, amounts as strings of dollars and cents, no timestamps, so the
same data and rule files give the same bytes. CSV has one row per payment line and one row per
member share of a line (shares follow the reconciliation rule in openvbc.domain.contract).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from openvbc.domain.contract import Statement, allocate_to_members
from openvbc.services.payments import PaymentRun

FORMATS = ("json", "csv", "html", "pdf")
RECONCILIATION = "each line rounded half-up to the cent once, after its cap; totals are sums of lines"


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def statement_payload(run: PaymentRun, statement: Statement) -> dict[str, Any]:
    """One pharmacy's statement as plain JSON-ready values."""
    return {
        "pharmacy_id": statement.pharmacy_id,
        "pharmacy_npi": run.pharmacy_npis.get(statement.pharmacy_id, ""),
        "total": _money(statement.total),
        "components": {
            k: _money(statement.component_total(k)) for k in ("encounter_fee", "tier1", "tier2", "pmpm")
        },
        "clinical": None
        if statement.clinical is None
        else {
            "met": statement.clinical.met,
            "measures_met": statement.clinical.measures_met,
            "measures_scored": statement.clinical.measures_scored,
            "reason": statement.clinical.reason,
        },
        "measures": [
            {
                "key": s.target.key,
                "measure_id": s.target.measure_id,
                "label": s.target.label,
                "denominator": s.denominator,
                "numerator": s.numerator,
                "status": s.status,
                "target": str(s.target.target),
                "direction": s.target.direction,
                "members_needed": s.members_needed,
                "reason": s.reason,
            }
            for s in statement.scores
        ],
        "lines": [
            {
                "component": line.component,
                "description": line.description,
                "quantity": line.quantity,
                "unit_amount": _money(line.unit_amount),
                "amount": _money(line.amount),
                "clause": line.clause,
                "evidence": line.evidence,
                "members": list(line.member_ids),
                "detail_key": line.detail_key,
            }
            for line in statement.lines
        ],
    }


def run_payload(run: PaymentRun) -> dict[str, Any]:
    contract = run.contract
    return {
        "program": contract.program_id,
        "year": contract.year,
        "contract_version": contract.version,
        "rule_file": contract.rule_file,
        "example_contract": contract.example,
        "total": _money(run.total),
        "measure_status": run.measure_status,
        "notes": run.notes,
        "reconciliation": RECONCILIATION,
        "statements": [statement_payload(run, s) for s in run.statements],
    }


def _env() -> Environment:
    return Environment(
        loader=PackageLoader("openvbc.services.statements", "templates"),
        autoescape=select_autoescape(["html"]),
    )


def render_html(run: PaymentRun, statements: Sequence[Statement] | None = None) -> str:
    chosen = run.statements if statements is None else list(statements)
    payload = run_payload(run)
    payload["statements"] = [statement_payload(run, s) for s in chosen]
    return _env().get_template("statement.html").render(run=payload)


def write_statements(run: PaymentRun, out_dir: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write the chosen formats into ``out_dir``; returns the files written."""
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown statement format(s) {sorted(unknown)}; choose from {', '.join(FORMATS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"payments-{run.contract.program_id}-{run.contract.year}"
    files: list[Path] = []
    if "json" in formats:
        path = out_dir / f"{stem}.json"
        path.write_text(json.dumps(run_payload(run), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        files.append(path)
    if "csv" in formats:
        files += _write_csv(run, out_dir, stem)
    html = render_html(run) if ("html" in formats or "pdf" in formats) else ""
    if "html" in formats:
        path = out_dir / f"{stem}.html"
        path.write_text(html, encoding="utf-8")
        files.append(path)
    if "pdf" in formats:
        from weasyprint import HTML

        path = out_dir / f"{stem}.pdf"
        HTML(string=html).write_pdf(path)
        files.append(path)
    return files


def _write_csv(run: PaymentRun, out_dir: Path, stem: str) -> list[Path]:
    lines_path, members_path = out_dir / f"{stem}-lines.csv", out_dir / f"{stem}-member-shares.csv"
    with lines_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "pharmacy_npi",
                "component",
                "description",
                "quantity",
                "unit_amount",
                "amount",
                "clause",
                "evidence",
                "members",
                "detail_key",
            ]
        )
        for s in run.statements:
            for line in s.lines:
                writer.writerow(
                    [
                        run.pharmacy_npis.get(s.pharmacy_id, ""),
                        line.component,
                        line.description,
                        line.quantity,
                        _money(line.unit_amount),
                        _money(line.amount),
                        line.clause,
                        line.evidence,
                        len(line.member_ids),
                        line.detail_key,
                    ]
                )
    with members_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["pharmacy_npi", "component", "detail_key", "member_id", "amount"])
        for s in run.statements:
            for line in s.lines:
                for member_id, share in allocate_to_members(line.amount, line.member_ids).items():
                    writer.writerow(
                        [
                            run.pharmacy_npis.get(s.pharmacy_id, ""),
                            line.component,
                            line.detail_key,
                            member_id,
                            _money(share),
                        ]
                    )
    return [lines_path, members_path]
