"""The FHIR branch of `import_path`: rows mapped by openvbc.interop.fhir go through the same
validator and loader, and problems name the FHIR file and entry line."""

from __future__ import annotations

from pathlib import Path

import pytest
from import_helpers import PACKAGE, TODAY, count_rows
from sqlalchemy import Engine, select

import openvbc.interop.fhir as fhir
from openvbc.domain.errors import InvalidInput
from openvbc.services.imports import import_path
from openvbc.store.tables import observation

SYNTHEA = Path(__file__).parents[1] / "data" / "fhir" / "synthea"

BP_ROW = {
    "observation_key": "obs-1",
    "member_key": "M001",
    "code_system": "loinc",
    "code": "8480-6",
    "category": "vital-signs",
    "status": "final",
    "value": "17.3",
    "unit": "kPa",
    "effective_at": "2024-05-01T08:00",
    "source": "ehr",
    "additional_codes": "snomed|271649006",
}


def fake_reader(rows: list[tuple[str, int, dict[str, str | None]]]) -> object:
    def read_fhir_path(_path: Path) -> dict[str, list[tuple[str, int, dict[str, str | None]]]]:
        return {"observations": rows}

    return read_fhir_path


def test_fhir_rows_load_with_conversion(
    store_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_path(store_engine, PACKAGE, check_only=False, today=TODAY)
    bundle = tmp_path / "bundle.json"
    bundle.write_text("{}", encoding="utf-8")
    monkeypatch.setattr(fhir, "read_fhir_path", fake_reader([("bundle.json", 7, BP_ROW)]))
    report = import_path(store_engine, bundle, check_only=False, today=TODAY)
    assert [(item.kind, item.inserted) for item in report.files] == [("observations", 1)]
    with store_engine.connect() as connection:
        row = connection.execute(select(observation).where(observation.c.observation_key == "obs-1")).one()
    # 17.3 kPa x 7.50062 = 129.76 mmHg -> 130
    assert (row.value_num, row.additional_codes) == (130.0, "snomed|271649006")


def test_fhir_problems_name_source_and_entry(
    store_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_text("{}", encoding="utf-8")
    bad = {**BP_ROW, "unit": None}
    monkeypatch.setattr(fhir, "read_fhir_path", fake_reader([("Observation.ndjson", 12, bad)]))
    with pytest.raises(InvalidInput) as raised:
        import_path(store_engine, bundle, check_only=False, today=TODAY)
    assert [(i.file, i.line, i.field) for i in raised.value.issues] == [("Observation.ndjson", 12, "unit")]
    assert count_rows(store_engine)["observation"] == 0


def test_synthea_bulk_export_loads(sqlite_engine: Engine) -> None:
    report = import_path(sqlite_engine, SYNTHEA, check_only=False, today=TODAY.replace(year=2026))
    assert count_rows(sqlite_engine)["member"] == next(i.rows for i in report.files if i.kind == "members")
