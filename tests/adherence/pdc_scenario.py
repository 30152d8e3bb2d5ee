"""Build small canonical-table fixtures for the PDC tests (Arrow, typed as in the store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow as pa

SCHEMAS: dict[str, pa.Schema] = {
    "member": pa.schema(
        [("member_id", pa.int64()), ("birth_date", pa.date32()), ("death_date", pa.date32())]
    ),
    "coverage": pa.schema(
        [
            ("coverage_id", pa.int64()),
            ("member_id", pa.int64()),
            ("start_date", pa.date32()),
            ("end_date", pa.date32()),
            ("rx_benefit", pa.bool_()),
        ]
    ),
    "fill": pa.schema(
        [
            ("fill_id", pa.int64()),
            ("member_id", pa.int64()),
            ("ndc11", pa.string()),
            ("ingredient", pa.string()),
            ("drug_class", pa.string()),
            ("fill_date", pa.date32()),
            ("days_supply", pa.int64()),
        ]
    ),
    "encounter": pa.schema(
        [
            ("encounter_id", pa.int64()),
            ("member_id", pa.int64()),
            ("setting", pa.string()),
            ("code_system", pa.string()),
            ("code", pa.string()),
            ("status", pa.string()),
            ("start_at", pa.timestamp("us")),
            ("end_at", pa.timestamp("us")),
            ("discharge_disposition", pa.string()),
        ]
    ),
    "condition": pa.schema(
        [
            ("condition_id", pa.int64()),
            ("member_id", pa.int64()),
            ("code_system", pa.string()),
            ("code", pa.string()),
            ("verification_status", pa.string()),
            ("onset_date", pa.date32()),
            ("abatement_date", pa.date32()),
            ("recorded_date", pa.date32()),
        ]
    ),
    "medical_claim": pa.schema(
        [
            ("claim_id", pa.int64()),
            ("member_id", pa.int64()),
            ("from_date", pa.date32()),
            ("to_date", pa.date32()),
            ("bill_type", pa.string()),
            ("discharge_status", pa.string()),
        ]
    ),
    "claim_diagnosis": pa.schema(
        [("claim_id", pa.int64()), ("sequence", pa.int64()), ("member_id", pa.int64()), ("code", pa.string())]
    ),
    "claim_line": pa.schema(
        [
            ("claim_line_id", pa.int64()),
            ("claim_id", pa.int64()),
            ("member_id", pa.int64()),
            ("procedure_code", pa.string()),
            ("service_date", pa.date32()),
        ]
    ),
}

# Ingredient -> drug class as in rules/drugs/ndc_reference.csv (combinations: classes aligned by position).
CLASS_OF = {
    "metformin": "biguanides",
    "glipizide": "sulfonylureas",
    "sitagliptin": "dpp4_inhibitors",
    "sitagliptin|metformin": "dpp4_inhibitors|biguanides",
    "insulin glargine": "insulins",
    "lisinopril": "ace_inhibitors",
    "losartan": "angiotensin_receptor_blockers",
    "lisinopril|hydrochlorothiazide": "ace_inhibitors|thiazide_diuretics",
    "sacubitril|valsartan": "angiotensin_receptor_neprilysin_inhibitors",
    "simvastatin": "statins",
    "atorvastatin": "statins",
    "rosuvastatin": "statins",
    "amlodipine|atorvastatin": "calcium_channel_blockers|statins",
    "ezetimibe|simvastatin": "cholesterol_absorption_inhibitors|statins",
}


@dataclass
class Scenario:
    """Rows for each canonical table; ``build()`` returns Arrow tables."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {name: [] for name in SCHEMAS})

    def _next_id(self, table: str) -> int:
        return len(self.rows[table]) + 1

    def member(
        self,
        member_id: int,
        *,
        birth: date = date(1950, 6, 1),
        death: date | None = None,
        coverage: list[tuple[date, date | None]] | None = None,
    ) -> Scenario:
        self.rows["member"].append({"member_id": member_id, "birth_date": birth, "death_date": death})
        for start, end in coverage if coverage is not None else [(date(2000, 1, 1), None)]:
            self.rows["coverage"].append(
                {
                    "coverage_id": self._next_id("coverage"),
                    "member_id": member_id,
                    "start_date": start,
                    "end_date": end,
                    "rx_benefit": True,
                }
            )
        return self

    def fill(
        self,
        member_id: int,
        day: date,
        supply: int | None,
        ingredient: str | None,
        drug_class: str | None = None,
    ) -> int:
        fill_id = 1000 + self._next_id("fill")
        cls = drug_class if drug_class is not None else CLASS_OF.get(ingredient or "")
        self.rows["fill"].append(
            {
                "fill_id": fill_id,
                "member_id": member_id,
                "ndc11": "99999000000",
                "ingredient": ingredient,
                "drug_class": cls,
                "fill_date": day,
                "days_supply": supply,
            }
        )
        return fill_id

    def stay(self, member_id: int, admit: date, discharge: date, setting: str = "inpatient") -> Scenario:
        self.rows["encounter"].append(
            {
                "encounter_id": self._next_id("encounter"),
                "member_id": member_id,
                "setting": setting,
                "code_system": None,
                "code": None,
                "status": "finished",
                "start_at": datetime(admit.year, admit.month, admit.day, 10),
                "end_at": datetime(discharge.year, discharge.month, discharge.day, 12),
                "discharge_disposition": None,
            }
        )
        return self

    def encounter(
        self, member_id: int, day: date, system: str, code: str, setting: str = "ambulatory"
    ) -> Scenario:
        self.rows["encounter"].append(
            {
                "encounter_id": self._next_id("encounter"),
                "member_id": member_id,
                "setting": setting,
                "code_system": system,
                "code": code,
                "status": "finished",
                "start_at": datetime(day.year, day.month, day.day, 9),
                "end_at": datetime(day.year, day.month, day.day, 10),
                "discharge_disposition": None,
            }
        )
        return self

    def condition(self, member_id: int, system: str, code: str, onset: date | None) -> Scenario:
        self.rows["condition"].append(
            {
                "condition_id": self._next_id("condition"),
                "member_id": member_id,
                "code_system": system,
                "code": code,
                "verification_status": "confirmed",
                "onset_date": onset,
                "abatement_date": None,
                "recorded_date": onset,
            }
        )
        return self

    def claim(
        self,
        member_id: int,
        day: date,
        *,
        diagnoses: tuple[str, ...] = (),
        procedures: tuple[str, ...] = (),
        bill_type: str | None = None,
    ) -> Scenario:
        claim_id = self._next_id("medical_claim")
        self.rows["medical_claim"].append(
            {
                "claim_id": claim_id,
                "member_id": member_id,
                "from_date": day,
                "to_date": day,
                "bill_type": bill_type,
                "discharge_status": None,
            }
        )
        for sequence, code in enumerate(diagnoses, start=1):
            self.rows["claim_diagnosis"].append(
                {"claim_id": claim_id, "sequence": sequence, "member_id": member_id, "code": code}
            )
        for code in procedures:
            self.rows["claim_line"].append(
                {
                    "claim_line_id": self._next_id("claim_line"),
                    "claim_id": claim_id,
                    "member_id": member_id,
                    "procedure_code": code,
                    "service_date": day,
                }
            )
        return self

    def build(self) -> dict[str, pa.Table]:
        return {
            name: pa.Table.from_pylist(self.rows[name], schema=schema) for name, schema in SCHEMAS.items()
        }
