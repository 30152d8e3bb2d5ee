"""Small hand-built worlds for the registry tests, inserted straight into a migrated store.

Every number the tests expect is worked out by hand next to the rows below; nothing comes from a
real plan. Synthetic NDCs (labeler 99999) are the ones in rules/registry/opioids/mme_reference.yaml.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, insert

from openvbc.store import tables as t

D = date
OXY5 = "99999100101"  # oxycodone 5 mg tablet (factor 1.5)
OXY10 = "99999100201"  # oxycodone 10 mg tablet
HYDRO10 = "99999101201"  # hydrocodone 10 mg (factor 1.0)
MORPH30 = "99999102101"  # morphine ER 30 mg (factor 1.0)
TRAM50 = "99999103101"  # tramadol 50 mg (factor 0.2)
FENT25 = "99999105101"  # fentanyl 25 mcg/hr patch, 72 h (factor 2.4 per mcg/hr)
METH10 = "99999106101"  # methadone 10 mg (factor 4.7)
ALPRAZ = "99999150101"  # alprazolam 0.5 mg
LORAZ = "99999150201"  # lorazepam 1 mg
PHARMACY = "1000000001"


@dataclass
class World:
    """Rows per table; ``add_*`` helpers fill the columns a test does not care about."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _next: dict[str, int] = field(default_factory=dict)

    def _id(self, table: str) -> int:
        self._next[table] = self._next.get(table, 0) + 1
        return self._next[table]

    def _add(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        self.rows.setdefault(table, []).append(row)
        return row

    def add_provider(self, npi: str, kind: str, tin: str | None = None, name: str = "") -> int:
        pid = self._id("provider")
        self._add("provider", {"provider_id": pid, "npi": npi, "kind": kind, "name": name or npi, "tin": tin})
        return pid

    def add_member(self, member_id: int, birth: date, sex: str = "F", pcp_npi: str | None = None) -> int:
        self._add(
            "member",
            {
                "member_id": member_id,
                "member_key": f"M{member_id:04d}",
                "birth_date": birth,
                "sex": sex,
                "line_of_business": "commercial",
                "pcp_npi": pcp_npi,
            },
        )
        return member_id

    def add_fill(self, member_id: int, ndc11: str, day: date, days_supply: int, quantity: float) -> int:
        fid = self._id("fill")
        self._add(
            "fill",
            {
                "fill_id": fid,
                "fill_key": f"F{fid}",
                "member_id": member_id,
                "ndc11": ndc11,
                "fill_date": day,
                "days_supply": days_supply,
                "quantity": quantity,
                "pharmacy_npi": PHARMACY,
            },
        )
        return fid

    def add_condition(
        self, member_id: int, code: str, onset: date, *, abatement: date | None = None, status: str = "active"
    ) -> int:
        cid = self._id("condition")
        self._add(
            "condition",
            {
                "condition_id": cid,
                "condition_key": f"C{cid}",
                "member_id": member_id,
                "code_system": "icd10cm",
                "code": code,
                "clinical_status": status,
                "onset_date": onset,
                "abatement_date": abatement,
                "source": "ehr",
            },
        )
        return cid

    def add_claim_diagnosis(self, member_id: int, code: str, day: date) -> int:
        claim_id = self._id("medical_claim")
        self._add(
            "medical_claim",
            {
                "claim_id": claim_id,
                "claim_key": f"CL{claim_id}",
                "member_id": member_id,
                "claim_type": "professional",
                "billing_npi": PHARMACY,
                "from_date": day,
                "to_date": day,
                "diagnosis_codes": code,
            },
        )
        self._add(
            "claim_diagnosis", {"claim_id": claim_id, "sequence": 1, "member_id": member_id, "code": code}
        )
        return claim_id

    def add_encounter(
        self,
        member_id: int,
        day: date,
        *,
        code: str = "99213",
        code_system: str = "cpt",
        provider_npi: str | None = None,
        setting: str = "ambulatory",
    ) -> int:
        eid = self._id("encounter")
        start = datetime(day.year, day.month, day.day, 9, 0)
        self._add(
            "encounter",
            {
                "encounter_id": eid,
                "encounter_key": f"E{eid}",
                "member_id": member_id,
                "setting": setting,
                "code_system": code_system,
                "code": code,
                "status": "finished",
                "start_at": start,
                "end_at": start.replace(hour=9, minute=30),
                "provider_npi": provider_npi,
                "source": "ehr",
            },
        )
        return eid

    def add_observation(
        self,
        member_id: int,
        day: date,
        code: str,
        value: float | None,
        unit: str | None,
        *,
        category: str = "vital-signs",
        panel: str | None = None,
        value_code: str | None = None,
    ) -> int:
        oid = self._id("observation")
        self._add(
            "observation",
            {
                "observation_id": oid,
                "observation_key": f"O{oid}",
                "member_id": member_id,
                "code_system": "loinc",
                "code": code,
                "category": category,
                "status": "final",
                "value_num": value,
                "unit": unit,
                "value_code_system": "snomed" if value_code else None,
                "value_code": value_code,
                "effective_at": datetime(day.year, day.month, day.day, 10, 0),
                "panel_key": panel,
                "setting": "ambulatory",
                "source": "ehr",
            },
        )
        return oid

    def insert_into(self, engine: Engine) -> None:
        by_name = {table.name: table for table in t.metadata.sorted_tables}
        with engine.begin() as connection:
            for table in t.metadata.sorted_tables:  # parents first
                rows = self.rows.get(table.name)
                if rows:
                    connection.execute(insert(by_name[table.name]), rows)


def column_values(rows: Iterable[Mapping[str, Any]], key: str) -> dict[int, Any]:
    return {int(row["member_id"]): row[key] for row in rows}
