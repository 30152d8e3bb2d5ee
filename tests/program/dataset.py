"""A small hand-built program year whose expected answers are worked out by hand in the tests.

Pharmacies P1 (id 1), P2 (id 2), P3 (id 3); practice PR1 (id 10) with clinicians C1 (PCP, id 11)
and C2 (cardiologist, id 12) ; practice PR2 (id 20) with clinician C3 (PCP, id 21).
All figures are invented for the tests; nothing here comes from a real plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from openvbc.engine.canonical import MEMBER_RESULT_COLUMNS

D = date
YEAR = 2025

PROVIDERS = [
    # provider_id, npi, kind, name, taxonomy, parent_npi
    (1, "1000000001", "pharmacy", "Pharmacy One", "3336C0003X", None),
    (2, "1000000002", "pharmacy", "Pharmacy Two", "3336C0003X", None),
    (3, "1000000003", "pharmacy", "Pharmacy Three", "3336C0003X", None),
    (10, "2000000010", "practice", "Practice One", "261QP2300X", None),
    (11, "3000000011", "clinician", "Dr C1 (family medicine)", "207Q00000X", "2000000010"),
    (12, "3000000012", "clinician", "Dr C2 (cardiology)", "207RC0000X", "2000000010"),
    (20, "2000000020", "practice", "Practice Two", "261QP2300X", None),
    (21, "3000000021", "clinician", "Dr C3 (internal medicine)", "207R00000X", "2000000020"),
]

# member_id, line_of_business, death_date
MEMBERS = [
    (1, "commercial", None),
    (2, "commercial", None),
    (3, "medicare", None),
    (4, "medicare", None),
    (5, "exchange", None),  # not a PIE line of business
    (6, "medicaid", D(2025, 6, 30)),  # died mid-year
    (7, "commercial", None),  # fills only in 2024
]

# member_id, pharmacy_id, fill_date, days_supply, drug_class
FILLS = [
    (1, 1, D(2025, 3, 1), 30, "statins"),
    (1, 1, D(2025, 6, 1), 30, "statins"),
    (1, 1, D(2025, 9, 1), 30, "statins"),
    (1, 2, D(2025, 10, 1), 90, "statins"),
    (2, 1, D(2025, 1, 10), 30, "ace_inhibitors"),
    (2, 1, D(2025, 2, 10), 30, "ace_inhibitors"),
    (2, 2, D(2025, 3, 10), 90, "ace_inhibitors"),
    (2, 2, D(2025, 4, 10), 90, "ace_inhibitors"),
    (3, 3, D(2025, 12, 1), 30, "acute_anti_infectives"),
    (3, 2, D(2025, 12, 1), 30, "statins"),
    (5, 1, D(2025, 5, 1), 30, "statins"),
    (6, 1, D(2025, 2, 1), 30, "statins"),
    (7, 1, D(2024, 11, 1), 30, "statins"),
]

# claim_id, member_id, billing_npi, [(line, code, service_date, rendering_npi, allowed)]
CLAIMS = [
    (1, 1, "2000000010", [(1, "99213", D(2025, 2, 1), "3000000011", 100.0)]),
    (2, 1, "2000000020", [(1, "99214", D(2025, 4, 1), "3000000021", 150.0)]),
    (3, 1, "2000000010", [(1, "99214", D(2025, 5, 1), "3000000011", 60.0)]),
    # member 2: only a cardiologist's E/M visit (step 2)
    (4, 2, "2000000010", [(1, "99213", D(2025, 7, 1), "3000000012", 90.0)]),
    # member 3: a non-primary-care code only
    (5, 3, "2000000020", [(1, "93000", D(2025, 7, 1), "3000000021", 40.0)]),
]

# member_id, ICD-10-CM code (problem list)
CONDITIONS = [(1, "E119"), (1, "I10"), (2, "I10"), (3, "E785")]
# claim_id, sequence, member_id, ICD-10-CM code (claim 5 is dated 2025-07-01)
DIAGNOSES = [(5, 1, 3, "E1165")]

# mtm_key, member_id, pharmacy_npi, service_date, kind, minutes, patient_status
MTM = [
    ("E1", 1, "1000000001", D(2025, 2, 3), "CMR", 40, "new"),
    ("E2", 1, "1000000001", D(2025, 8, 3), "TMR", 15, "established"),
    ("E3", 2, "1000000002", D(2025, 5, 5), "CMR", 31, "new"),
    ("E0", 2, "1000000002", D(2024, 12, 1), "FOLLOWUP", 10, "new"),  # before the year: makes E3 established
    ("E4", 3, "1000000001", D(2025, 6, 6), "CMR", 20, "new"),  # not at member 3's pharmacy
]


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def build_tables() -> dict[str, pa.Table]:
    """The canonical tables the program engine reads (only the columns it uses, plus keys)."""
    provider = _table(
        [
            dict(zip(["provider_id", "npi", "kind", "name", "taxonomy", "parent_npi"], p, strict=True))
            for p in PROVIDERS
        ],
        pa.schema(
            [
                ("provider_id", pa.int64()),
                ("npi", pa.string()),
                ("kind", pa.string()),
                ("name", pa.string()),
                ("taxonomy", pa.string()),
                ("parent_npi", pa.string()),
            ]
        ),
    )
    member = _table(
        [
            {
                "member_id": m,
                "member_key": f"M{m}",
                "birth_date": D(1950, 1, 1),
                "sex": "F",
                "line_of_business": lob,
                "death_date": death,
            }
            for m, lob, death in MEMBERS
        ],
        pa.schema(
            [
                ("member_id", pa.int64()),
                ("member_key", pa.string()),
                ("birth_date", pa.date32()),
                ("sex", pa.string()),
                ("line_of_business", pa.string()),
                ("death_date", pa.date32()),
            ]
        ),
    )
    coverage = _table(
        [
            {
                "coverage_id": m,
                "member_id": m,
                "line_of_business": lob,
                "start_date": D(2024, 1, 1),
                "end_date": None,
            }
            for m, lob, _ in MEMBERS
        ],
        pa.schema(
            [
                ("coverage_id", pa.int64()),
                ("member_id", pa.int64()),
                ("line_of_business", pa.string()),
                ("start_date", pa.date32()),
                ("end_date", pa.date32()),
            ]
        ),
    )
    fill = _table(
        [
            {
                "fill_id": i + 1,
                "member_id": m,
                "pharmacy_id": p,
                "pharmacy_npi": f"100000000{p}",
                "fill_date": d,
                "days_supply": ds,
                "drug_class": cls,
                "ndc11": "99999000101",
                "ingredient": "x",
                "allowed_amount": 10.0,
            }
            for i, (m, p, d, ds, cls) in enumerate(FILLS)
        ],
        pa.schema(
            [
                ("fill_id", pa.int64()),
                ("member_id", pa.int64()),
                ("pharmacy_id", pa.int64()),
                ("pharmacy_npi", pa.string()),
                ("fill_date", pa.date32()),
                ("days_supply", pa.int64()),
                ("drug_class", pa.string()),
                ("ndc11", pa.string()),
                ("ingredient", pa.string()),
                ("allowed_amount", pa.float64()),
            ]
        ),
    )
    claim_rows, line_rows = [], []
    for claim_id, m, billing, lines in CLAIMS:
        first = lines[0][2]
        claim_rows.append(
            {
                "claim_id": claim_id,
                "member_id": m,
                "billing_npi": billing,
                "from_date": first,
                "to_date": first,
                "allowed_amount": sum(x[4] for x in lines),
            }
        )
        for number, code, day, rendering, allowed in lines:
            line_rows.append(
                {
                    "claim_line_id": claim_id * 10 + number,
                    "claim_id": claim_id,
                    "line_number": number,
                    "member_id": m,
                    "procedure_code": code,
                    "service_date": day,
                    "rendering_npi": rendering,
                    "allowed_amount": allowed,
                }
            )
    medical_claim = _table(
        claim_rows,
        pa.schema(
            [
                ("claim_id", pa.int64()),
                ("member_id", pa.int64()),
                ("billing_npi", pa.string()),
                ("from_date", pa.date32()),
                ("to_date", pa.date32()),
                ("allowed_amount", pa.float64()),
            ]
        ),
    )
    claim_line = _table(
        line_rows,
        pa.schema(
            [
                ("claim_line_id", pa.int64()),
                ("claim_id", pa.int64()),
                ("line_number", pa.int64()),
                ("member_id", pa.int64()),
                ("procedure_code", pa.string()),
                ("service_date", pa.date32()),
                ("rendering_npi", pa.string()),
                ("allowed_amount", pa.float64()),
            ]
        ),
    )
    mtm = _table(
        [
            {
                "mtm_encounter_id": i + 1,
                "mtm_key": k,
                "member_id": m,
                "pharmacist_npi": "4000000001",
                "pharmacy_npi": ph,
                "service_date": d,
                "kind": kind,
                "minutes": minutes,
                "patient_status": status,
                "start_at": datetime(d.year, d.month, d.day, 9),
            }
            for i, (k, m, ph, d, kind, minutes, status) in enumerate(MTM)
        ],
        pa.schema(
            [
                ("mtm_encounter_id", pa.int64()),
                ("mtm_key", pa.string()),
                ("member_id", pa.int64()),
                ("pharmacist_npi", pa.string()),
                ("pharmacy_npi", pa.string()),
                ("service_date", pa.date32()),
                ("kind", pa.string()),
                ("minutes", pa.int64()),
                ("patient_status", pa.string()),
                ("start_at", pa.timestamp("us")),
            ]
        ),
    )
    condition = _table(
        [
            {
                "condition_id": i + 1,
                "condition_key": f"C{i + 1}",
                "member_id": m,
                "code_system": "icd10cm",
                "code": code,
                "abatement_date": None,
                "source": "ehr",
            }
            for i, (m, code) in enumerate(CONDITIONS)
        ],
        pa.schema(
            [
                ("condition_id", pa.int64()),
                ("condition_key", pa.string()),
                ("member_id", pa.int64()),
                ("code_system", pa.string()),
                ("code", pa.string()),
                ("abatement_date", pa.date32()),
                ("source", pa.string()),
            ]
        ),
    )
    claim_diagnosis = _table(
        [{"claim_id": cid, "sequence": seq, "member_id": m, "code": code} for cid, seq, m, code in DIAGNOSES],
        pa.schema(
            [
                ("claim_id", pa.int64()),
                ("sequence", pa.int64()),
                ("member_id", pa.int64()),
                ("code", pa.string()),
            ]
        ),
    )
    return {
        "provider": provider,
        "member": member,
        "coverage": coverage,
        "fill": fill,
        "medical_claim": medical_claim,
        "claim_line": claim_line,
        "mtm_encounter": mtm,
        "condition": condition,
        "claim_diagnosis": claim_diagnosis,
    }


DRUG_REFERENCE = pa.table({"ndc11": ["99999000101"], "ingredient": ["metformin"], "is_maintenance": [True]})

# Columns the store requires that the engine does not read.
_STORE_DEFAULTS: dict[str, dict[str, Any]] = {
    "coverage": {"rx_benefit": True},
    "fill": {"quantity": 30.0},
    "medical_claim": {"claim_type": "professional"},
    "claim_line": {"units": 1.0},
}


def load_into_store(engine: Any) -> None:
    """Insert the dataset into a migrated store (SQLite or PostgreSQL) with every required column."""
    from sqlalchemy import insert

    from openvbc.store import tables as store_tables

    data = build_tables()
    data["coverage"] = data["coverage"].append_column(
        "coverage_key", pa.array([f"COV{i}" for i in data["coverage"].column("coverage_id").to_pylist()])
    )
    data["fill"] = data["fill"].append_column(
        "fill_key", pa.array([f"F{i}" for i in data["fill"].column("fill_id").to_pylist()])
    )
    data["medical_claim"] = data["medical_claim"].append_column(
        "claim_key", pa.array([f"CL{i}" for i in data["medical_claim"].column("claim_id").to_pylist()])
    )
    order = [
        "provider",
        "member",
        "coverage",
        "fill",
        "medical_claim",
        "claim_line",
        "claim_diagnosis",
        "condition",
        "mtm_encounter",
    ]
    with engine.begin() as connection:
        for name in order:
            table = getattr(store_tables, name)
            rows = [{**_STORE_DEFAULTS.get(name, {}), **row} for row in data[name].to_pylist()]
            connection.execute(insert(table), rows)


RESULT_SCHEMA = pa.schema(
    [
        (name, {"string": pa.string(), "int64": pa.int64(), "boolean": pa.bool_(), "date": pa.date32()}[kind])
        for name, kind in MEMBER_RESULT_COLUMNS
    ]
)


def measure_rows(measure_id: str, group_id: str, outcomes: Mapping[int, bool | None]) -> list[dict[str, Any]]:
    """Member-level results: True = numerator, False = denominator only, None = excluded."""
    rows = []
    for member_id, outcome in outcomes.items():
        rows.append(
            {
                "measure_id": measure_id,
                "group_id": group_id,
                "member_id": member_id,
                "initial_population": True,
                "denominator": True,
                "denominator_exclusion": outcome is None,
                "denominator_exception": False,
                "numerator": bool(outcome),
                "numerator_exclusion": False,
                "evidence_date": D(2025, 6, 1),
                "evidence_value": "x",
                "evidence_source": "test",
                "reason": "hand-built",
                "rule_file": f"measures/{measure_id}/2025.yaml",
                "rule_version": "test",
            }
        )
    return rows
