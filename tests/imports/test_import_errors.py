"""The bad-input catalogue (reliability-plan.md section 5) against a real import, on both stores.

Each case breaks one cell or header of a copy of the good package. The import must raise
InvalidInput naming file, line and field, and the store must be exactly as before (a package
is all-or-nothing, so even the valid files of the package load nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from import_helpers import PACKAGE, TODAY, count_rows, edit_file, hash_store
from sqlalchemy import Engine
from typer.testing import CliRunner

from openvbc.cli.main import app
from openvbc.domain.errors import InvalidInput
from openvbc.services.imports import import_path


@dataclass(frozen=True)
class Case:
    file: str
    old: str
    new: str
    line: int | None
    field: str | None
    message: str


M = "member_key,first_name,last_name,birth_date,sex"
CASES = {
    "missing column": Case("members.csv", f"{M},race,", f"{M},", 1, None, "missing column(s): race"),
    "renamed column": Case(
        "members.csv",
        f"{M},",
        M.replace("sex", "gender") + ",",
        1,
        None,
        "unexpected column(s) (renamed?): gender",
    ),
    "reordered columns": Case(
        "members.csv", "first_name,last_name", "last_name,first_name", 1, None, "different order"
    ),
    "duplicated column": Case(
        "providers.csv", "address,city,", "address,name,", 1, None, "duplicated column(s): name"
    ),
    "semicolon separator": Case(
        "coverage.csv",
        "coverage_key,member_key,line_of_business,plan_code,start_date,end_date,rx_benefit",
        "coverage_key;member_key;line_of_business;plan_code;start_date;end_date;rx_benefit",
        1,
        None,
        "separated by ';'",
    ),
    "wrong cell count": Case("claims.csv", "150.00,120.00", "150.00,120.00,7", 2, None, "has 13 cells"),
    "bad NPI check digit": Case(
        "fills.csv",
        "30,30,1234567893,1111111112,12.50,10.00\nF002",
        "30,30,1234567890,1111111112,12.50,10.00\nF002",
        2,
        "pharmacy_npi",
        "fails the NPI check digit",
    ),
    "ambiguous 10-digit NDC": Case(
        "fills.csv", "F005,M003,00378018101", "F005,M003,0037818101", 6, "ndc", "layout is ambiguous"
    ),
    "bad NDC layout": Case(
        "fills.csv", "F004,M002,00093-1048-1", "F004,M002,0093-104-81", 5, "ndc", "segment layout 4-3-2"
    ),
    "non-ISO date": Case(
        "fills.csv", "2024-01-05", "01/05/2024", 2, "fill_date", "day/month order is ambiguous"
    ),
    "Excel serial date": Case("fills.csv", "2024-03-15", "45366", 6, "fill_date", "Excel serial"),
    "impossible date": Case(
        "claims.csv",
        "2024-02-01,2024-02-01",
        "2024-02-30,2024-02-30",
        2,
        "from_date",
        "not a real calendar date",
    ),
    "future date": Case(
        "fills.csv", "2024-03-15", "2024-07-01", 6, "fill_date", "is after today (2024-06-30)"
    ),
    "date before birth": Case(
        "conditions.csv",
        "2015-05-01",
        "1949-12-31",
        2,
        "onset_date",
        "before the member's birth date (1950-03-15)",
    ),
    "birth in the future": Case("members.csv", "1990-06-30", "2025-01-01", 4, "birth_date", "after today"),
    "death before birth": Case(
        "members.csv",
        "55101,medicare,1111111112,",
        "55101,medicare,1111111112,1940-01-01",
        2,
        "death_date",
        "is before birth_date",
    ),
    "time zone in a date-time": Case(
        "encounters.csv", "2024-02-01T09:30", "2024-02-01T09:30+02:00", 2, "start_at", "has a time zone"
    ),
    "BP out of range": Case(
        "observations.csv",
        "final,142,mm[Hg]",
        "final,400,mm[Hg]",
        5,
        "value",
        "outside the plausible 50-300 mmHg",
    ),
    "converted BP out of range": Case(
        "observations.csv", "final,16.0,kPa", "final,45,kPa", 2, "value", "systolic 338 mmHg (from 45 kPa)"
    ),
    "systolic not above diastolic": Case(
        "observations.csv",
        "final,142,mm[Hg]",
        "final,88,mm[Hg]",
        5,
        "value",
        "systolic 88 mmHg is not above diastolic 88 mmHg (line 6",
    ),
    "unknown BP unit": Case(
        "observations.csv", "final,142,mm[Hg]", "final,142,cmH2O", 5, "unit", "not a blood-pressure unit"
    ),
    "missing unit": Case("observations.csv", "final,8.4,%", "final,8.4,", 8, "unit", "needs its unit"),
    "A1c out of range": Case(
        "observations.csv",
        "final,53,mmol/mol",
        "final,250,mmol/mol",
        4,
        "value",
        "HbA1c 25 % (from 250 mmol/mol) is outside the plausible 3-20 %",
    ),
    "unknown tobacco answer": Case(
        "observations.csv",
        "snomed,266919005",
        "snomed,123456",
        7,
        "value_code",
        "not a SNOMED CT smoking-status code",
    ),
    "free-text value": Case("observations.csv", "final,8.4,%", "final,high,%", 8, "value", "is not a number"),
    "days supply out of range": Case(
        "fills.csv", "2024-01-10,90,90", "2024-01-10,400,90", 4, "days_supply", "not between 1 and 365"
    ),
    "zero quantity": Case("fills.csv", "2024-03-15,30,30.5", "2024-03-15,30,0", 6, "quantity", "not above 0"),
    "minutes out of range": Case(
        "mtm_encounters.csv", "CMR,35,", "CMR,1500,", 2, "minutes", "not between 1 and 1440"
    ),
    "unknown enum": Case(
        "members.csv", "1972-11-02,M,", "1972-11-02,X,", 3, "sex", "'X' is not one of: F, M, U"
    ),
    "unknown ADT trigger": Case("adt_events.csv", "M002,A03,", "M002,A99,", 2, "trigger", "is not one of"),
    "required cell empty": Case(
        "claims.csv", "CL002,M002,professional", "CL002,M002,", 3, "claim_type", "is required"
    ),
    "duplicate key": Case(
        "fills.csv", "F002,M001", "F001,M001", 3, "fill_key", "duplicate fill_key 'F001': also on line(s) 2"
    ),
    "unknown member": Case(
        "fills.csv",
        "F005,M003",
        "F005,M999",
        6,
        "member_key",
        "'M999' names no member in this package or the store",
    ),
    "unknown encounter": Case(
        "procedures.csv", ",E002,ehr", ",E404,ehr", 2, "encounter_key", "'E404' names no encounter"
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_bad_input_is_rejected_and_nothing_is_loaded(
    store_engine: Engine, package_dir: Path, case: Case
) -> None:
    edit_file(package_dir / case.file, case.old, case.new)
    before = count_rows(store_engine)
    with pytest.raises(InvalidInput) as raised:
        import_path(store_engine, package_dir, check_only=False, today=TODAY)
    matching = [
        issue
        for issue in raised.value.issues
        if (issue.file, issue.line, issue.field) == (case.file, case.line, case.field)
        and case.message in issue.message
    ]
    assert matching, "\n".join(issue.render() for issue in raised.value.issues)
    assert count_rows(store_engine) == before


def test_a_bad_file_leaves_a_loaded_store_untouched(store_engine: Engine, package_dir: Path) -> None:
    import_path(store_engine, PACKAGE, check_only=False, today=TODAY)
    before = (count_rows(store_engine), hash_store(store_engine))
    edit_file(package_dir / "fills.csv", "2024-01-10,90,90,", "2024-01-10,90,84,")  # a valid correction...
    edit_file(package_dir / "fills.csv", "F005,M003", "F005,M999")  # ...next to a bad row in the same file
    with pytest.raises(InvalidInput):
        import_path(store_engine, package_dir, check_only=False, today=TODAY)
    assert (count_rows(store_engine), hash_store(store_engine)) == before


def test_every_issue_is_listed_not_only_the_first(store_engine: Engine, package_dir: Path) -> None:
    edit_file(package_dir / "fills.csv", "2024-01-05", "2024-13-05")
    edit_file(package_dir / "observations.csv", "final,8.4,%", "final,8.4,")
    with pytest.raises(InvalidInput) as raised:
        import_path(store_engine, package_dir, check_only=False, today=TODAY)
    assert {(issue.file, issue.line) for issue in raised.value.issues} == {
        ("fills.csv", 2),
        ("observations.csv", 8),
    }


def test_bom_is_accepted(store_engine: Engine, package_dir: Path) -> None:
    members = package_dir / "members.csv"
    members.write_bytes(b"\xef\xbb\xbf" + members.read_bytes())
    report = import_path(store_engine, package_dir, check_only=False, today=TODAY)
    assert next(item for item in report.files if item.kind == "members").inserted == 3


def test_cli_exit_code_2_lists_file_line_and_field(sqlite_engine: Engine, package_dir: Path) -> None:
    edit_file(package_dir / "fills.csv", "2024-03-15", "45366")
    url = sqlite_engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        app, ["--database-url", url, "import", str(package_dir), "--today", "2024-06-30"]
    )
    assert result.exit_code == 2
    assert "fills.csv:6 [fill_date]: '45366' looks like an Excel serial day number" in " ".join(
        result.output.split()
    )
    json_result = CliRunner().invoke(
        app, ["--database-url", url, "--json", "import", str(package_dir), "--today", "2024-06-30"]
    )
    assert json_result.exit_code == 2
    assert '"field": "fill_date"' in json_result.stdout and '"line": 6' in json_result.stdout
    assert count_rows(sqlite_engine)["member"] == 0


def test_a_stray_file_in_the_package_is_refused(store_engine: Engine, package_dir: Path) -> None:
    (package_dir / "fills.parquet").write_bytes(b"not parquet")
    (package_dir / "patients.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as raised:
        import_path(store_engine, package_dir, check_only=False, today=TODAY)
    messages = " ".join(issue.render() for issue in raised.value.issues)
    assert "patients.csv: not a plan data package file" in messages
    assert "fills.parquet: fills.csv holds the same kind" in messages
