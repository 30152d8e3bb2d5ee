"""FHIR R4 MeasureReport builders (individual and summary) from member-level result rows (pure).

Population codes follow http://terminology.hl7.org/CodeSystem/measure-population; one
``group`` per population group of the rule file, in its order, each listing the populations
the rule names. Counts in an individual report are 0 or 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"
POPULATION_COLUMNS: dict[str, str] = {
    "initial-population": "initial_population",
    "denominator": "denominator",
    "denominator-exclusion": "denominator_exclusion",
    "denominator-exception": "denominator_exception",
    "numerator": "numerator",
    "numerator-exclusion": "numerator_exclusion",
}
POPULATION_DISPLAY: dict[str, str] = {
    "initial-population": "Initial Population",
    "denominator": "Denominator",
    "denominator-exclusion": "Denominator Exclusion",
    "denominator-exception": "Denominator Exception",
    "numerator": "Numerator",
    "numerator-exclusion": "Numerator Exclusion",
}


def _population(code: str, count: int) -> dict[str, Any]:
    coding = {"system": POPULATION_SYSTEM, "code": code, "display": POPULATION_DISPLAY[code]}
    return {"code": {"coding": [coding]}, "count": count}


def _groups_of(rule: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    return [(str(g["id"]), [str(p) for p in g["populations"]]) for g in rule["groups"]]


def measure_url(rule: Mapping[str, Any]) -> str:
    return str(rule.get("measure_url") or (rule.get("source") or {}).get("url") or rule["id"])


def build_individual_report(
    rule: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    subject: str,
    period_start: date,
    period_end: date,
    report_id: str | None = None,
) -> dict[str, Any]:
    """One patient's MeasureReport from that patient's result rows (one per group)."""
    by_group = {str(row["group_id"]): row for row in rows}
    groups = []
    for group_id, populations in _groups_of(rule):
        row = by_group.get(group_id, {})
        groups.append(
            {
                "id": group_id,
                "population": [
                    _population(code, int(bool(row.get(POPULATION_COLUMNS[code])))) for code in populations
                ],
            }
        )
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "individual",
        "measure": measure_url(rule),
        "subject": {"reference": subject},
        "period": {"start": period_start.isoformat(), "end": period_end.isoformat()},
        "group": groups,
    }
    if report_id:
        report["id"] = report_id
    evidence = [_evidence_extension(row) for row in rows if row.get("reason")]
    if evidence:
        report["extension"] = evidence
    return report


def _evidence_extension(row: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's reason sentence per group, so a report explains itself (DESIGN.md decision 5)."""
    return {
        "url": "https://openvbc.org/fhir/StructureDefinition/measure-evidence",
        "extension": [
            {"url": "group", "valueString": str(row["group_id"])},
            {"url": "reason", "valueString": str(row["reason"])},
            {"url": "rule", "valueString": f"{row.get('rule_file')}|{row.get('rule_version')}"},
        ],
    }


def build_summary_report(
    rule: Mapping[str, Any], rows: Iterable[Mapping[str, Any]], *, period_start: date, period_end: date
) -> dict[str, Any]:
    """Summary MeasureReport: population counts and the performance rate per group.

    Rate = numerator / (denominator - exclusions - exceptions), omitted when that is zero.
    """
    counts: dict[str, dict[str, int]] = {
        gid: dict.fromkeys(POPULATION_COLUMNS, 0) for gid, _ in _groups_of(rule)
    }
    for row in rows:
        group = counts.get(str(row["group_id"]))
        if group is None:
            continue
        for code, column in POPULATION_COLUMNS.items():
            group[code] += int(bool(row.get(column)))
    groups = []
    for group_id, populations in _groups_of(rule):
        c = counts[group_id]
        entry: dict[str, Any] = {
            "id": group_id,
            "population": [_population(code, c[code]) for code in populations],
        }
        eligible = c["denominator"] - c["denominator-exclusion"] - c["denominator-exception"]
        if eligible > 0:
            entry["measureScore"] = {"value": round(c["numerator"] / eligible, 6)}
        groups.append(entry)
    return {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "summary",
        "measure": measure_url(rule),
        "period": {"start": period_start.isoformat(), "end": period_end.isoformat()},
        "improvementNotation": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/measure-improvement-notation",
                    "code": str(rule.get("improvement", "increase")),
                }
            ]
        },
        "group": groups,
    }


def read_population_counts(report: Mapping[str, Any], group_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Population counts of a MeasureReport by group id (groups without ids are matched by position)."""
    out: dict[str, dict[str, int]] = {}
    for index, group in enumerate(report.get("group", [])):
        group_id = str(group.get("id") or (group_ids[index] if index < len(group_ids) else index))
        out[group_id] = {
            p["code"]["coding"][0]["code"]: int(p.get("count", 0)) for p in group.get("population", [])
        }
    return out
