"""Care plan export/import through the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from openvbc.domain.errors import InvalidInput, UserError
from openvbc.services.careplan import export_member_careplan, import_careplan_file, load_stored_careplan
from openvbc.services.mtm_documentation import record_mtm_documentation
from openvbc.store.tables import care_plan
from pharmacist.seed import encounter_document, seed_store

NOW = datetime(2025, 3, 15, 8, 0)


def test_export_both_formats_then_import_gives_the_same_plan(store_engine: Engine, tmp_path: Path) -> None:
    seed_store(store_engine)
    record_mtm_documentation(store_engine, encounter_document(), source="enc.json")
    cda = export_member_careplan(store_engine, "M0001", "cda", tmp_path / "plan.xml", now=NOW)
    fhir = export_member_careplan(store_engine, "M0001", "fhir", tmp_path / "plan.json", now=NOW)
    # 2 problems (1 uncoded), 1 goal, 2 interventions, 2 reconciled medications, and the 4 fills of
    # M0001 in the year before 2025-03-14 (2 metformin, 2 lisinopril; see seed.py).
    assert (cda.problems, cda.uncoded_problems, cda.goals, cda.interventions) == (2, 1, 1, 2)
    assert (cda.medications, cda.dispenses) == (2, 4)
    assert fhir.as_dict() | {"format": "cda", "out": None} == cda.as_dict() | {"out": None}
    with store_engine.connect() as conn:
        authored = load_stored_careplan(conn, cda.care_plan_key)
    import_careplan_file(store_engine, tmp_path / "plan.xml", now=NOW)
    with store_engine.connect() as conn:
        from_cda = load_stored_careplan(conn, cda.care_plan_key)
        origins = conn.execute(select(care_plan.c.origin)).scalars().all()
    assert from_cda == authored
    assert origins == ["cda"]  # re-importing the same plan id replaces the row
    import_careplan_file(store_engine, tmp_path / "plan.json", now=NOW)
    with store_engine.connect() as conn:
        assert load_stored_careplan(conn, cda.care_plan_key) == authored
    # The lisinopril fills are linked to the NDC-coded medication line; metformin (RxNorm) is not.
    linked = {d.code.code: d.medication_id for d in authored.dispenses}
    assert linked == {"99999004501": "med-2", "99999000101": None}


def test_export_refuses_to_overwrite_and_needs_an_encounter(store_engine: Engine, tmp_path: Path) -> None:
    seed_store(store_engine)
    with pytest.raises(UserError, match="no documented MTM encounter"):
        export_member_careplan(store_engine, "M0001", "fhir", tmp_path / "a.json", now=NOW)
    (tmp_path / "b.json").write_text("{}")
    with pytest.raises(UserError, match="never overwritten"):
        export_member_careplan(store_engine, "M0001", "fhir", tmp_path / "b.json", now=NOW)


def test_import_of_a_plan_for_an_unknown_member_stores_nothing(store_engine: Engine, tmp_path: Path) -> None:
    seed_store(store_engine)
    golden = Path(__file__).resolve().parents[1] / "data" / "ccda" / "golden" / "adherence.out.xml"
    with pytest.raises(InvalidInput, match="no member 'M000123'"):
        import_careplan_file(store_engine, golden, now=NOW)
    with store_engine.connect() as conn:
        assert conn.execute(select(care_plan)).first() is None
