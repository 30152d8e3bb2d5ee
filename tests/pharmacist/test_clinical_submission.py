"""Clinical data submission: the pharmacy's export imports cleanly on the plan side (FHIR and CSV)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, select

from openvbc.services.clinical_submission import export_clinical_submission
from openvbc.services.imports import import_path
from openvbc.services.mtm_documentation import record_mtm_documentation
from openvbc.store.tables import observation
from pharmacist.seed import OTHER_PHARMACY, PHARMACY, encounter_document, seed_store

NOW = datetime(2025, 3, 15, 8, 0)


def _observations(engine: Engine) -> list[tuple[str, float | None, str | None, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                observation.c.code, observation.c.value_num, observation.c.value_code, observation.c.panel_key
            ).order_by(observation.c.code)
        ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def test_fhir_bundle_is_us_core_shaped_and_imports(sqlite_engine: Engine, tmp_path: Path) -> None:
    seed_store(sqlite_engine)
    record_mtm_documentation(sqlite_engine, encounter_document(), source="enc.json")
    result = export_clinical_submission(
        sqlite_engine, "fhir", tmp_path / "obs.json", now=NOW, pharmacy_npi=PHARMACY
    )
    assert (result.observations, result.members) == (4, 1)
    bundle = json.loads((tmp_path / "obs.json").read_text())
    bp = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["code"]["coding"][0]["code"] == "85354-9"
    )
    assert bp["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-blood-pressure"]
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]["value"]) for c in bp["component"]] == [
        ("8480-6", 132),
        ("8462-4", 84),
    ]
    assert bp["effectiveDateTime"] == "2025-03-14T15:35:00+00:00"  # 09:35 at -06:00, in UTC
    assert (
        export_clinical_submission(
            sqlite_engine, "fhir", tmp_path / "none.json", now=NOW, pharmacy_npi=OTHER_PHARMACY
        ).observations
        == 0
    )

    plan_store = sqlite_engine  # the plan side: same members; the readings arrive under new keys
    report = import_path(plan_store, tmp_path / "obs.json", check_only=False, today=date(2025, 3, 20))
    assert [(f.kind, f.inserted) for f in report.files] == [("observations", 4)]
    imported = [
        row for row in _observations(plan_store) if row[3] is None or row[3].startswith("Observation/")
    ]
    assert ("4548-4", 7.9, None, None) in imported and ("72166-2", None, "266919005", None) in imported


def test_csv_has_the_package_header_and_imports(sqlite_engine: Engine, tmp_path: Path) -> None:
    seed_store(sqlite_engine)
    record_mtm_documentation(sqlite_engine, encounter_document(), source="enc.json")
    (tmp_path / "pkg").mkdir()
    export_clinical_submission(sqlite_engine, "csv", tmp_path / "pkg" / "observations.csv", now=NOW)
    header = (tmp_path / "pkg" / "observations.csv").read_text().splitlines()[0]
    assert header.startswith("observation_key,member_key,code_system,code,category,status,value,unit")
    report = import_path(sqlite_engine, tmp_path / "pkg", check_only=False, today=date(2025, 3, 20))
    # The same keys as stored: re-importing the pharmacy's own rows adds none (the loader may fill
    # its original_value/original_unit columns, which counts as an update).
    assert [(f.rows, f.inserted) for f in report.files] == [(4, 0)]
