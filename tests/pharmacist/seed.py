"""A small store for the pharmacist tests: one pharmacy, one pharmacist, three members, fills.

M0001 is the pharmacy's patient by the fallback rule (fills from PHARMACY in the last year);
M0002 has fills only from OTHER_PHARMACY; M0003 is attributed to OTHER_PHARMACY by a snapshot
although PHARMACY dispensed to them (the snapshot wins).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Engine, insert

from openvbc.store.tables import attribution_snapshot, coverage, fill, member, provider

PHARMACY = "1234567893"
PHARMACIST = "1245319599"
OTHER_PHARMACY = "1003000126"

METFORMIN = "99999000101"  # metformin 500 mg (rules/drugs/ndc_reference.csv, synthetic NDC)
LISINOPRIL = "99999004501"  # lisinopril 10 mg
ATORVASTATIN_ROW = "atorvastatin"


def _member(member_id: int, key: str, first: str, last: str, sex: str) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "member_key": key,
        "first_name": first,
        "last_name": last,
        "birth_date": date(1956, 4, 2),
        "sex": sex,
        "line_of_business": "commercial",
    }


def _fill(
    key: str, member_id: int, ndc: str, ingredient: str, cls: str, day: date, npi: str
) -> dict[str, Any]:
    return {
        "fill_key": key,
        "member_id": member_id,
        "ndc11": ndc,
        "ingredient": ingredient,
        "drug_class": cls,
        "fill_date": day,
        "days_supply": 30,
        "quantity": 60.0 if ingredient == "metformin" else 30.0,
        "pharmacy_npi": npi,
        "allowed_amount": None,
        "paid_amount": None,
    }


def seed_store(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(provider),
            [
                {"npi": PHARMACY, "kind": "pharmacy", "name": "Main Street Pharmacy"},
                {"npi": PHARMACIST, "kind": "clinician", "name": "Grace Hopper", "taxonomy": "183500000X"},
                {"npi": OTHER_PHARMACY, "kind": "pharmacy", "name": "Other Pharmacy"},
            ],
        )
        conn.execute(
            insert(member),
            [
                _member(1, "M0001", "Ada", "Lovelace", "F"),
                _member(2, "M0002", "Alan", "Turing", "M"),
                _member(3, "M0003", "Edsger", "Dijkstra", "M"),
            ],
        )
        conn.execute(
            insert(coverage),
            [
                {
                    "coverage_key": "cov-1",
                    "member_id": 1,
                    "line_of_business": "commercial",
                    "plan_code": "PIE-2025",
                    "start_date": date(2025, 1, 1),
                    "end_date": None,
                    "rx_benefit": True,
                }
            ],
        )
        rows = []
        for n, day in enumerate((date(2025, 1, 10), date(2025, 2, 12))):
            rows.append(_fill(f"f1m{n}", 1, METFORMIN, "metformin", "biguanides", day, PHARMACY))
        for n, day in enumerate((date(2025, 1, 20), date(2025, 2, 25))):
            rows.append(_fill(f"f1l{n}", 1, LISINOPRIL, "lisinopril", "ace_inhibitors", day, PHARMACY))
        rows.append(_fill("f2", 2, METFORMIN, "metformin", "biguanides", date(2025, 2, 1), OTHER_PHARMACY))
        rows.append(_fill("f3", 3, METFORMIN, "metformin", "biguanides", date(2025, 2, 1), PHARMACY))
        conn.execute(insert(fill), rows)
        conn.execute(
            insert(attribution_snapshot),
            [
                {
                    "program_id": "pie",
                    "program_year": 2025,
                    "as_of": date(2025, 2, 28),
                    "member_id": 3,
                    "provider_kind": "pharmacy",
                    "method": "plurality_fills",
                    "provider_npi": OTHER_PHARMACY,
                    "reason": "most fills",
                    "rule_version": "test",
                }
            ],
        )


def encounter_document(**changes: Any) -> dict[str, Any]:
    """A valid CMR for M0001 (35 minutes); ``changes`` replace top-level fields."""
    document: dict[str, Any] = {
        "mtm_key": "enc-1",
        "member_key": "M0001",
        "pharmacy_npi": PHARMACY,
        "pharmacist_npi": PHARMACIST,
        "kind": "CMR",
        "start_at": "2025-03-14T09:00:00-06:00",
        "end_at": "2025-03-14T09:35:00-06:00",
        "medications": [
            {
                "code_system": "rxnorm",
                "code": "860975",
                "name": "Metformin ER 500 mg",
                "sig": "2 tabs with supper",
            },
            {"code_system": "ndc", "code": LISINOPRIL, "name": "Lisinopril 10 mg", "sig": "1 daily"},
        ],
        "problems": [
            {"key": "dtp-1", "snomed": "697958005", "text": "Misses evening doses", "medication_line": 1},
            {"key": "dtp-2", "text": "Cannot open child-resistant caps"},
        ],
        "goals": [
            {
                "key": "goal-1",
                "text": "HbA1c below 8 percent",
                "code_system": "loinc",
                "code": "4548-4",
                "target_date": "2025-09-14",
                "problem": "dtp-1",
            },
        ],
        "interventions": [
            {
                "key": "int-1",
                "snomed": "410123007",
                "text": "Taught dose pairing",
                "date": "2025-03-14",
                "problem": "dtp-1",
            },
            {
                "key": "int-2",
                "snomed": "733901008",
                "text": "Refer to DSME",
                "status": "planned",
                "date": "2025-04-01",
                "problem": "dtp-2",
            },
        ],
        "outcomes": [
            {"key": "out-1", "text": "Evening doses taken", "value": "6 of 7 days", "goal": "goal-1"}
        ],
        "vitals": {"systolic": 132, "diastolic": 84, "a1c": 7.9, "tobacco": "never"},
    }
    document.update(changes)
    return document
