"""Importing the hand-written package: typed values, idempotency, updates, --check (both stores)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from import_helpers import PACKAGE, TODAY, count_rows, edit_file, hash_store
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from openvbc.cli.main import app
from openvbc.interop.package_validation import load_ndc_reference
from openvbc.services.imports import import_path
from openvbc.store.tables import adt_event, claim_diagnosis, claim_line, fill, observation

EXPECTED_ROWS = {
    "provider": 4,
    "member": 3,
    "coverage": 3,
    "fill": 5,
    "medical_claim": 2,
    "claim_line": 3,
    "claim_diagnosis": 3,
    "condition": 2,
    "encounter": 2,
    "observation": 8,
    "procedure": 1,
    "medication_order": 1,
    "mtm_encounter": 1,
    "adt_event": 2,
    "load_ledger": 13,
}


def test_package_loads_every_file(store_engine: Engine) -> None:
    report = import_path(store_engine, PACKAGE, check_only=False, today=TODAY)
    assert [item.status for item in report.files] == ["loaded"] * 13
    assert count_rows(store_engine) == EXPECTED_ROWS
    assert sum(item.inserted for item in report.files) == sum(item.rows for item in report.files)


def test_units_are_converted_by_hand_calculation(store_engine: Engine) -> None:
    import_path(store_engine, PACKAGE, check_only=False, today=TODAY)
    with store_engine.connect() as connection:
        rows = {
            row.observation_key: row
            for row in connection.execute(select(observation).order_by(observation.c.observation_key))
        }
    # 16.0 kPa x 7.50062 = 120.00992 mmHg -> charted as 120; 10.7 kPa x 7.50062 = 80.256634 -> 80.
    assert (rows["O001"].value_num, rows["O001"].unit) == (120.0, "mm[Hg]")
    assert (rows["O001"].original_value, rows["O001"].original_unit) == ("16.0", "kPa")
    assert rows["O002"].value_num == 80.0
    # 53 mmol/mol (IFCC): 0.0915 x 53 + 2.15 = 6.9995 % (NGSP) -> 7.0 % to one decimal.
    assert (rows["O003"].value_num, rows["O003"].unit) == (7.0, "%")
    assert (rows["O003"].original_value, rows["O003"].original_unit) == ("53", "mmol/mol")
    # Already canonical: kept as sent, mmHg spelled the UCUM way.
    assert (rows["O005"].value_num, rows["O005"].unit, rows["O005"].original_unit) == (88.0, "mm[Hg]", "mmHg")
    assert rows["O006"].value_code == "266919005" and rows["O006"].value_num is None
    assert rows["O008"].unit == "kg/m2"
    assert rows["O001"].encounter_id is not None and rows["O007"].encounter_id is None


def test_ndcs_and_references_are_resolved(store_engine: Engine) -> None:
    report = import_path(store_engine, PACKAGE, check_only=False, today=TODAY)
    with store_engine.connect() as connection:
        fills = {row.fill_key: row for row in connection.execute(select(fill))}
        diagnoses = connection.execute(
            select(claim_diagnosis.c.sequence, claim_diagnosis.c.code).order_by(
                claim_diagnosis.c.claim_id, claim_diagnosis.c.sequence
            )
        ).all()
        lines = connection.execute(select(claim_line.c.member_id).order_by(claim_line.c.claim_line_id)).all()
        adt = {row.event_key: row for row in connection.execute(select(adt_event))}
    assert fills["F001"].ndc11 == "00071015523"  # 4-4-2: labeler padded to 5
    assert fills["F003"].ndc11 == "68180051303"  # 5-3-2: product padded to 4
    assert fills["F004"].ndc11 == "00093104801"  # 5-4-1: package padded to 2
    assert fills["F005"].ndc11 == "00378018101"  # 11 digits kept
    assert fills["F001"].pharmacy_id is not None
    assert fills["F005"].pharmacy_id is None  # valid NPI, but not among the providers
    assert [tuple(row) for row in diagnoses] == [(1, "I10"), (2, "E119"), (1, "E119")]
    assert [row.member_id for row in lines] == [1, 2, 2]
    assert adt["HOSP^FAC^MSG0002"].member_id is None and adt["HOSP^FAC^MSG0002"].member_key == "X999"
    reference = load_ndc_reference()
    known = set() if reference is None else set(reference.column("ndc11").to_pylist())
    package_ndcs = [row.ndc11 for row in fills.values()]
    fills_report = next(item for item in report.files if item.kind == "fills")
    assert fills_report.unverified_ndcs == sum(ndc not in known for ndc in package_ndcs)


def test_reimporting_the_same_files_changes_nothing(store_engine: Engine) -> None:
    import_path(store_engine, PACKAGE, check_only=False, today=TODAY)
    before = (count_rows(store_engine), hash_store(store_engine))
    again = import_path(store_engine, PACKAGE, check_only=False, today=TODAY)
    assert {item.status for item in again.files} == {"already loaded"}
    assert (count_rows(store_engine), hash_store(store_engine)) == before


def test_same_rows_in_a_new_file_are_counted_unchanged(store_engine: Engine, package_dir: Path) -> None:
    import_path(store_engine, PACKAGE, check_only=False, today=TODAY)
    before = hash_store(store_engine)
    fills_csv = package_dir / "fills.csv"
    fills_csv.write_bytes(b"\xef\xbb\xbf" + fills_csv.read_bytes().replace(b"\n", b"\r\n"))  # BOM + CRLF
    report = import_path(store_engine, package_dir, check_only=False, today=TODAY)
    fills_report = next(item for item in report.files if item.kind == "fills")
    assert (fills_report.status, fills_report.inserted, fills_report.updated, fills_report.unchanged) == (
        "loaded",
        0,
        0,
        5,
    )
    assert hash_store(store_engine) == before
    assert count_rows(store_engine)["load_ledger"] == 14


def test_a_corrected_row_is_updated_in_place(store_engine: Engine, package_dir: Path) -> None:
    import_path(store_engine, PACKAGE, check_only=False, today=TODAY)
    with store_engine.connect() as connection:
        before_id = connection.execute(select(fill.c.fill_id).where(fill.c.fill_key == "F003")).scalar_one()
    edit_file(package_dir / "fills.csv", "2024-01-10,90,90,", "2024-01-10,90,84,")
    with (package_dir / "fills.csv").open("a", encoding="utf-8") as handle:
        handle.write("F006,M003,00378018101,,,2024-04-14,30,30,1234567893,,,\n")
    report = import_path(store_engine, package_dir, check_only=False, today=TODAY)
    fills_report = next(item for item in report.files if item.kind == "fills")
    assert (fills_report.inserted, fills_report.updated, fills_report.unchanged) == (1, 1, 4)
    with store_engine.connect() as connection:
        row = connection.execute(select(fill).where(fill.c.fill_key == "F003")).one()
        new_id = connection.execute(select(fill.c.fill_id).where(fill.c.fill_key == "F006")).scalar_one()
    assert (row.fill_id, row.quantity) == (before_id, 84.0)
    assert new_id == 6  # dense: the next integer after the five first fills


def test_check_reports_but_writes_nothing(store_engine: Engine) -> None:
    empty = count_rows(store_engine)
    report = import_path(store_engine, PACKAGE, check_only=True, today=TODAY)
    assert {item.status for item in report.files} == {"checked"}
    assert sum(item.inserted for item in report.files) == sum(EXPECTED_ROWS.values()) - 13 - 3  # no ledger/dx
    assert count_rows(store_engine) == empty


@pytest.mark.parametrize("check", [False, True])
def test_cli_import_json(store_engine: Engine, check: bool) -> None:
    url = store_engine.url.render_as_string(hide_password=False)
    args = ["--database-url", url, "--json", "import", str(PACKAGE), "--today", TODAY.isoformat()]
    result = CliRunner().invoke(app, [*args, "--check"] if check else args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] is True and payload["check_only"] is check
    assert [item["kind"] for item in payload["files"]][:3] == ["providers", "members", "coverage"]
    assert count_rows(store_engine)["member"] == (0 if check else 3)


def test_cli_table_output(sqlite_engine: Engine) -> None:
    url = sqlite_engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["--database-url", url, "import", str(PACKAGE), "--today", "2024-06-30"])
    assert result.exit_code == 0, result.output
    assert "medication_orders.csv" in result.stdout and "inserted" in result.stdout
