"""Hand-made rows of the planted edge-case members (see :mod:`openvbc.synth.edge_cases`).

Rows are gathered as dictionaries (there are a few dozen) and turned into typed Arrow columns
of the package schema once, at the end of the first chunk.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from openvbc.synth.arrays import epoch_day, format_keys, format_sequence_keys, to_date32, to_timestamp
from openvbc.synth.clinical import DIASTOLIC, SMOKING, SYSTOLIC
from openvbc.synth.drugs import DrugCatalogue
from openvbc.synth.population import MemberBatch, PlanYear
from openvbc.synth.providers import ProviderNetwork
from openvbc.synth.tables import ChunkTables


class CaseWriter:
    """Builds the hand-made rows of the planted members, one small table per file."""

    def __init__(
        self,
        batch: MemberBatch,
        network: ProviderNetwork,
        catalogue: DrugCatalogue,
        plan_year: PlanYear,
        out: ChunkTables,
    ) -> None:
        self.batch, self.network, self.catalogue, self.out = batch, network, catalogue, out
        self.rows: dict[str, list[dict[str, object]]] = {}
        self.sequence: dict[tuple[str, int], int] = {}
        ingredients = catalogue.ingredient.to_pylist()
        self.product = {name: ingredients.index(name) for name in dict.fromkeys(ingredients)}

    def key(self, i: int) -> str:
        return str(format_keys("M", self.batch.number[i : i + 1], 9)[0])

    def _next(self, kind: str, i: int) -> int:
        self.sequence[(kind, i)] = self.sequence.get((kind, i), 0) + 1
        return self.sequence[(kind, i)]

    def _add(self, name: str, row: dict[str, object]) -> None:
        self.rows.setdefault(name, []).append(row)

    def _id(self, prefix: str, i: int, kind: str) -> str:
        seq = np.array([self._next(kind, i)])
        return str(format_sequence_keys(prefix, self.batch.number[i : i + 1], "X", seq)[0])

    def office_visit(self, i: int, when: date) -> None:
        clinician = int(self.batch.pcp[i])
        self._add(
            "encounters",
            {
                "encounter_key": self._id("E", i, "E"),
                "member_key": self.key(i),
                "setting": "ambulatory",
                "code_system": "cpt",
                "code": "99214",
                "status": "finished",
                "start_at": _at(when, 10),
                "end_at": _at(when, 10.5),
                "provider_npi": self.network.clinician_npi[clinician].as_py(),
                "facility_npi": self.network.practice_npi[
                    int(self.network.clinician_practice[clinician])
                ].as_py(),
                "source": "ehr",
            },
        )

    def bp(self, i: int, when: date, hour: float, systolic: int, diastolic: int, setting: str) -> None:
        panel = self._id("O", i, "O")
        for code, value in ((SYSTOLIC, systolic), (DIASTOLIC, diastolic)):
            self._add(
                "observations",
                {
                    "observation_key": f"{panel}-{'S' if code == SYSTOLIC else 'D'}",
                    "member_key": self.key(i),
                    "code_system": "loinc",
                    "code": code,
                    "category": "vital-signs",
                    "status": "final",
                    "value": float(value),
                    "unit": "mm[Hg]",
                    "effective_at": _at(when, hour),
                    "panel_key": f"{panel}-P",
                    "setting": setting,
                    "source": "ehr",
                },
            )

    def lab(self, i: int, when: date, code: str, value: float, window_days: int = 0) -> None:
        start = when - timedelta(days=window_days)
        self._add(
            "observations",
            {
                "observation_key": self._id("O", i, "O"),
                "member_key": self.key(i),
                "code_system": "loinc",
                "code": code,
                "category": "laboratory",
                "status": "final",
                "value": value,
                "unit": "%",
                "effective_at": _at(start if window_days else when, 8),
                "effective_end": _at(when, 8) if window_days else None,
                "setting": "ambulatory",
                "source": "ehr",
            },
        )

    def smoking(self, i: int, when: date, answer: str) -> None:
        self._add(
            "observations",
            {
                "observation_key": self._id("O", i, "O"),
                "member_key": self.key(i),
                "code_system": "loinc",
                "code": SMOKING,
                "category": "survey",
                "status": "final",
                "value_code_system": "snomed",
                "value_code": answer,
                "effective_at": _at(when, 10.2),
                "setting": "ambulatory",
                "source": "ehr",
            },
        )

    def fill(self, i: int, when: date, ingredient: str, days: int, pharmacy_slot: int) -> None:
        product = self.product[ingredient]
        pharmacy = (
            int(self.batch.home_pharmacy[i])
            if pharmacy_slot == 0
            else ((int(self.batch.home_pharmacy[i]) + 1) % len(self.network.pharmacy_npi))
        )
        quantity = float(max(1.0, round(days * float(self.catalogue.units_per_day[product]), 1)))
        allowed = round(quantity * float(self.catalogue.unit_price[product]) + 1.75, 2)
        seq = np.array([self._next("F", i)])
        self._add(
            "fills",
            {
                "fill_key": str(format_sequence_keys("F", self.batch.number[i : i + 1], "", seq, 4)[0]),
                "member_key": self.key(i),
                "ndc": self.catalogue.ndc[product].as_py(),
                "ingredient": ingredient,
                "drug_class": self.catalogue.drug_class[product].as_py(),
                "fill_date": when,
                "days_supply": days,
                "quantity": quantity,
                "pharmacy_npi": self.network.pharmacy_npi[pharmacy].as_py(),
                "prescriber_npi": self.network.clinician_npi[int(self.batch.pcp[i])].as_py(),
                "allowed_amount": allowed,
                "paid_amount": round(allowed * 0.85, 2),
            },
        )

    def flush(self) -> None:
        for name, rows in self.rows.items():
            columns = {column: [row.get(column) for row in rows] for column in rows[0]}
            for row in rows[1:]:
                for column in row:
                    columns.setdefault(column, [r.get(column) for r in rows])
            self.out.add(name, {column: _typed(column, values) for column, values in columns.items()})


def _at(when: date, hour: float) -> int:
    return epoch_day(when) * 86_400 + int(hour * 3600)


def _typed(column: str, values: list[object]) -> pa.Array:
    if column in ("start_at", "end_at", "effective_at", "effective_end"):
        return (
            to_timestamp(np.array([v if v is not None else 0 for v in values]))
            if all(v is not None for v in values)
            else pa.array(values, pa.int64()).cast(pa.timestamp("s"))
        )
    if column == "fill_date":
        return to_date32(np.array([epoch_day(v) for v in values if isinstance(v, date)]))
    if column in ("value", "quantity", "allowed_amount", "paid_amount"):
        return pa.array(values, pa.float64())
    if column == "days_supply":
        return pa.array(values, pa.int32())
    return pa.array(values, pa.string())
