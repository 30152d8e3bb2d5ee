"""`generate_mtm_claims`: one 837P per run, persisted control numbers, never a claim twice."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, func, insert, select, update
from typer.testing import CliRunner

from openvbc.cli import commands_claims
from openvbc.domain.errors import InvalidInput, UserError
from openvbc.interop.x12.reader import check_envelope, parse_x12
from openvbc.interop.x12.validate import validate_x12
from openvbc.services.claims import ClaimsProfile, generate_mtm_claims
from openvbc.store.tables import claim_submission, condition, member, mtm_encounter, provider, x12_counter

NOW = datetime(2025, 4, 1, 9, 15)
PHARMACY = "1234567893"
PHARMACIST = "1245319599"


def seed(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(provider),
            [
                {
                    "npi": PHARMACY,
                    "kind": "pharmacy",
                    "name": "CORNER PHARMACY",
                    "taxonomy": "3336C0003X",
                    "tin": "411234567",
                    "address": "100 MAIN ST",
                    "city": "SAINT PAUL",
                    "state": "MN",
                    "zip": "551011234",
                },
                {
                    "npi": PHARMACIST,
                    "kind": "clinician",
                    "name": "Smith, Anna",
                    "taxonomy": "183500000X",
                    "tin": None,
                    "address": None,
                    "city": None,
                    "state": None,
                    "zip": None,
                },
            ],
        )
        conn.execute(
            insert(member),
            [
                {
                    "member_id": 1,
                    "member_key": "M0001",
                    "first_name": "JANE",
                    "last_name": "DOE",
                    "birth_date": date(1950, 1, 2),
                    "sex": "F",
                    "address": "1 ELM ST",
                    "city": "MINNEAPOLIS",
                    "state": "MN",
                    "zip": "55401",
                    "line_of_business": "commercial",
                },
                {
                    "member_id": 2,
                    "member_key": "M0002",
                    "first_name": "RICHARD",
                    "last_name": "ROE",
                    "birth_date": date(1962, 11, 30),
                    "sex": "M",
                    "address": "22 OAK AVE",
                    "city": "SAINT PAUL",
                    "state": "MN",
                    "zip": "55102",
                    "line_of_business": "medicaid",
                },
            ],
        )
        conn.execute(
            insert(condition),
            [
                {
                    "condition_key": "c1",
                    "member_id": 1,
                    "code_system": "icd10cm",
                    "code": "E11.9",
                    "clinical_status": "active",
                    "onset_date": date(2019, 1, 1),
                    "source": "claim",
                },
                {
                    "condition_key": "c2",
                    "member_id": 1,
                    "code_system": "icd10cm",
                    "code": "I10",
                    "clinical_status": "active",
                    "onset_date": date(2020, 1, 1),
                    "source": "claim",
                },
                {
                    "condition_key": "c3",
                    "member_id": 1,
                    "code_system": "icd10cm",
                    "code": "J45.909",
                    "clinical_status": "resolved",
                    "onset_date": date(2018, 1, 1),
                    "source": "claim",
                },
            ],
        )
        add_encounter(conn, "CMR-1", 1, date(2025, 3, 4), 45, "new", "CMR")
        add_encounter(conn, "TMR-2", 2, date(2025, 3, 5), 10, "established", "TMR")
        add_encounter(conn, "FU-3", 2, date(2025, 2, 1), 31, "new", "FOLLOWUP")


def add_encounter(
    conn: object, key: str, member_id: int, day: date, minutes: int, status: str, kind: str
) -> None:
    conn.execute(  # type: ignore[attr-defined]
        insert(mtm_encounter).values(
            mtm_key=key,
            member_id=member_id,
            pharmacist_npi=PHARMACIST,
            pharmacy_npi=PHARMACY,
            service_date=day,
            kind=kind,
            minutes=minutes,
            patient_status=status,
        )
    )


def counters(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {row.name: row.value for row in conn.execute(select(x12_counter))}


def submissions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(claim_submission.c.source_key).order_by("source_key")).scalars())


def test_first_run_bills_every_encounter_and_the_file_validates(store_engine: Engine, tmp_path: Path) -> None:
    seed(store_engine)
    out, csv_out = tmp_path / "run1.837", tmp_path / "run1.csv"
    run = generate_mtm_claims(store_engine, ClaimsProfile(), out=out, now=NOW, csv_out=csv_out)
    assert run.claims == 3 and run.interchange_control_number == "000000001"
    text = out.read_text()
    assert validate_x12(text) == []
    assert check_envelope(parse_x12(text)) == []
    # CMR-1: 45 min new patient -> 99605 + 2 x 99607 = 75.00 + 50.00; active problems only, oldest first.
    assert "CLM*MTM1*125.00***01:B:1*Y*A*Y*Y~" in text
    assert "HI*ABK:E119*ABF:I10~" in text
    # FU-3 (Feb) makes TMR-2 established; 10 min under any_partial still bills 99606 alone.
    assert "SV1*HC:99606*50.00*UN*1***1~" in text
    # FU-3: 31 min -> 99605 + 2 x 99607; no conditions on file -> the fallback Z79.899.
    assert "HI*ABK:Z79899~" in text
    assert "NM1*82*1*Smith*Anna****XX*1245319599~" in text
    assert submissions(store_engine) == ["CMR-1", "FU-3", "TMR-2"]
    assert counters(store_engine) == {"ISA13:OPENVBC": 1, "GS06:OPENVBC": 1, "ST02:OPENVBC": 1}
    assert csv_out.read_text().count("\n") == 1 + 5  # header + 5 service lines
    assert not list(tmp_path.glob("*.partial"))


def test_a_second_run_bills_only_new_encounters(store_engine: Engine, tmp_path: Path) -> None:
    seed(store_engine)
    generate_mtm_claims(store_engine, ClaimsProfile(), out=tmp_path / "a.837", now=NOW)
    again = generate_mtm_claims(store_engine, ClaimsProfile(), out=tmp_path / "b.837", now=NOW)
    assert again.claims == 0 and not (tmp_path / "b.837").exists()
    assert counters(store_engine)["ISA13:OPENVBC"] == 1  # an empty run uses no control number
    with store_engine.begin() as conn:
        add_encounter(conn, "CMR-9", 1, date(2025, 3, 20), 20, "new", "CMR")
    third = generate_mtm_claims(store_engine, ClaimsProfile(), out=tmp_path / "c.837", now=NOW)
    assert third.claims == 1 and third.interchange_control_number == "000000002"
    text = (tmp_path / "c.837").read_text()
    assert "IEA*1*000000002~" in text and "GE*1*2~" in text and "ST*837*0002*" in text
    # CMR-1 (2025-03-04) is within the 1095-day look-back: 99606 + 99607, never 99605 again.
    assert "HC:99606" in text and "HC:99605" not in text


def test_since_limits_the_encounters(store_engine: Engine, tmp_path: Path) -> None:
    seed(store_engine)
    run = generate_mtm_claims(
        store_engine, ClaimsProfile(), out=tmp_path / "a.837", now=NOW, since=date(2025, 3, 1)
    )
    assert run.claims == 2 and submissions(store_engine) == ["CMR-1", "TMR-2"]


def test_a_field_too_long_stores_and_writes_nothing(store_engine: Engine, tmp_path: Path) -> None:
    seed(store_engine)
    with store_engine.begin() as conn:
        conn.execute(update(member).where(member.c.member_id == 2).values(last_name="L" * 61))
    out = tmp_path / "bad.837"
    with pytest.raises(InvalidInput) as caught:
        generate_mtm_claims(store_engine, ClaimsProfile(), out=out, now=NOW)
    assert any(issue.field and "NM103" in issue.field for issue in caught.value.issues)
    assert any(issue.file == "mtm_encounter TMR-2" for issue in caught.value.issues)
    assert not out.exists() and not list(tmp_path.glob("*.837*"))
    assert submissions(store_engine) == [] and counters(store_engine) == {}


def test_missing_member_address_is_named(store_engine: Engine, tmp_path: Path) -> None:
    seed(store_engine)
    with store_engine.begin() as conn:
        conn.execute(update(member).where(member.c.member_id == 1).values(zip=None))
    with pytest.raises(InvalidInput) as caught:
        generate_mtm_claims(store_engine, ClaimsProfile(), out=tmp_path / "x.837", now=NOW)
    assert [(i.file, i.field) for i in caught.value.issues] == [("member M0001", "zip")]


def test_an_existing_file_is_never_overwritten(sqlite_engine: Engine, tmp_path: Path) -> None:
    seed(sqlite_engine)
    out = tmp_path / "a.837"
    out.write_text("keep")
    with pytest.raises(UserError):
        generate_mtm_claims(sqlite_engine, ClaimsProfile(), out=out, now=NOW)
    assert out.read_text() == "keep"


def test_the_database_refuses_a_second_submission_for_one_encounter(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    seed(sqlite_engine)
    generate_mtm_claims(sqlite_engine, ClaimsProfile(), out=tmp_path / "a.837", now=NOW)
    with sqlite_engine.connect() as conn:
        row = conn.execute(select(claim_submission).limit(1)).mappings().one()
    duplicate = {**row, "claim_submission_id": None, "claim_control_number": "OTHER"}
    with pytest.raises(Exception, match="UNIQUE"), sqlite_engine.begin() as conn:
        conn.execute(insert(claim_submission).values(**duplicate))
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(claim_submission)).scalar() == 3


def test_cli_writes_the_file_and_reports_json(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(sqlite_engine)
    monkeypatch.setenv("OPENVBC_DATABASE_URL", str(sqlite_engine.url))
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test shell."""

    commands_claims.register(app)
    out = tmp_path / "cli.837"
    result = CliRunner().invoke(app, ["claims", "837p", "--out", str(out), "--since", "2025-03-01"])
    assert result.exit_code == 0, result.output
    assert "2 claim(s)" in result.output
    check = CliRunner().invoke(app, ["claims", "validate", str(out)])
    assert check.exit_code == 0 and "valid" in check.output
    bad = CliRunner().invoke(
        app, ["claims", "837p", "--out", str(tmp_path / "x.837"), "--since", "03/01/2025"]
    )
    assert isinstance(bad.exception, InvalidInput)
    assert bad.exception.issues[0].field == "--since"
