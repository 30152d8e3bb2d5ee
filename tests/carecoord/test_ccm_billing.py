"""Month-end CCM coding on both stores, hand-calculated, and the 837P it produces (pyx12-validated).

Values: CY2025 conversion factor 32.3465 x total RVUs of rules/billing/ccm_codes/2025.yaml, e.g.
99490 1.87 -> 60.49, 99439 1.42 -> 45.93, 99424 2.50 -> 80.87, 99426 1.91 -> 61.78.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from carecoord_seed import PHYSICIAN, PRACTICE, seed_people
from sqlalchemy import Engine, insert, select

from openvbc.domain.errors import InvalidInput
from openvbc.domain.npi import make_npi
from openvbc.interop.x12.reader import parse_x12
from openvbc.interop.x12.validate import validate_x12
from openvbc.services.ccm import enroll_member, log_time, record_care_plan, record_consent
from openvbc.services.ccm_billing import code_ccm_month
from openvbc.services.claims import ClaimsProfile, generate_ccm_claims
from openvbc.store.tables import (
    ccm_month_bill,
    ccm_time_entry,
    claim_line,
    claim_submission,
    condition,
    medical_claim,
    mtm_encounter,
)

NOW = datetime(2025, 7, 2, 8, 0)
TODAY = date(2025, 7, 2)
SECOND_DOCTOR = make_npi("180000000")


def _conditions(engine: Engine, member_id: int, codes: list[str]) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(condition),
            [
                {
                    "condition_key": f"C{member_id}-{code}",
                    "member_id": member_id,
                    "code_system": "icd10cm",
                    "code": code,
                    "clinical_status": "active",
                    "onset_date": date(2020, 1, 1),
                    "source": "ehr",
                }
                for code in codes
            ],
        )


def _ready(engine: Engine, program: str = "ccm", codes: tuple[str, ...] = ("E11.9", "I10")) -> None:
    seed_people(engine, 1)
    _conditions(engine, 1, list(codes))
    enroll_member(
        engine,
        member_key="M1",
        program=program,
        billing_npi=PHYSICIAN,
        practice_npi=PRACTICE,
        start_date=date(2025, 6, 1),
        now=NOW,
    )
    record_consent(
        engine,
        member_key="M1",
        billing_npi=PHYSICIAN,
        consented_on=date(2025, 6, 1),
        method="verbal",
        now=NOW,
    )
    record_care_plan(engine, member_key="M1", recorded_on=date(2025, 6, 2), action="established", now=NOW)


def _log(engine: Engine, staff: str, role: str, start: datetime, minutes: int) -> None:
    log_time(engine, member_key="M1", staff_id=staff, role=role, start_at=start, minutes=minutes, now=NOW)


def test_overlapping_staff_and_practitioner_time_counts_once(store_engine: Engine) -> None:
    _ready(store_engine)
    _log(store_engine, "rn1", "clinical_staff", datetime(2025, 6, 3, 10, 0), 25)
    _log(store_engine, "rn2", "clinical_staff", datetime(2025, 6, 10, 9, 0), 20)
    _log(store_engine, PHYSICIAN, "practitioner", datetime(2025, 6, 10, 9, 10), 20)  # 10 min shared with rn2
    run = code_ccm_month(store_engine, "2025-06", today=TODAY, now=NOW)
    (patient,) = run.patients
    # Union 25 + 30 = 55 min: practitioner 20, clinical staff 35; 99490 + one 99439 (40 <= 55 < 60);
    # 99491 needs 30 practitioner minutes (20 recorded).
    assert (patient.minutes.clinical_staff, patient.minutes.practitioner) == (35, 20)
    assert (patient.family, patient.lines, patient.value) == (
        "ccm_staff",
        (("99490", 1), ("99439", 1)),
        106.42,
    )


def test_tcm_and_mtm_minutes_are_not_counted_again(store_engine: Engine) -> None:
    _ready(store_engine)
    _log(store_engine, "rn3", "clinical_staff", datetime(2025, 6, 20, 10, 0), 30)
    log_time(
        store_engine,
        member_key="M1",
        staff_id="rn1",
        role="clinical_staff",
        start_at=datetime(2025, 6, 20, 10, 0),
        minutes=15,
        now=NOW,
        service="tcm",
    )
    _log(store_engine, "rn3", "clinical_staff", datetime(2025, 6, 25, 14, 0), 40)
    with store_engine.begin() as conn:
        conn.execute(
            insert(mtm_encounter).values(
                mtm_key="MTM1",
                member_id=1,
                pharmacist_npi="1245319599",
                pharmacy_npi="1234567893",
                service_date=date(2025, 6, 25),
                kind="TMR",
                minutes=30,
                patient_status="established",
                start_at=datetime(2025, 6, 25, 14, 0),
                end_at=datetime(2025, 6, 25, 14, 30),
            )
        )
    (patient,) = code_ccm_month(store_engine, "2025-06", today=TODAY, now=NOW).patients
    # 30 - 15 (TCM) + 40 - 30 (MTM) = 25 counted, 45 excluded -> 99490 only.
    assert (patient.minutes.clinical_staff, patient.minutes.excluded) == (25, 45)
    assert patient.lines == (("99490", 1),)


def test_month_without_consent_says_why(sqlite_engine: Engine) -> None:
    seed_people(sqlite_engine, 1)
    _conditions(sqlite_engine, 1, ["E11.9", "I10"])
    enroll_member(
        sqlite_engine,
        member_key="M1",
        program="ccm",
        billing_npi=PHYSICIAN,
        practice_npi=PRACTICE,
        start_date=date(2025, 6, 1),
        now=NOW,
    )
    _log(sqlite_engine, "rn1", "clinical_staff", datetime(2025, 6, 3, 10, 0), 15)
    (patient,) = code_ccm_month(sqlite_engine, "2025-06", today=TODAY, now=NOW).patients
    assert patient.family is None
    assert "99490: flag 'consent' not documented" in patient.reasons
    assert "99490: flag 'care_plan' not documented" in patient.reasons
    assert "99490: needs 20 min of clinical_staff/practitioner time, 15 min recorded" in patient.reasons


def test_pcm_with_one_condition_prefers_99424(sqlite_engine: Engine) -> None:
    _ready(sqlite_engine, program="pcm", codes=("I50.9",))
    _log(sqlite_engine, PHYSICIAN, "practitioner", datetime(2025, 6, 5, 16, 0), 35)
    (patient,) = code_ccm_month(sqlite_engine, "2025-06", today=TODAY, now=NOW).patients
    # 99424 (80.87) beats 99426 (61.78); no add-on before 60 min.
    assert (patient.family, patient.lines, patient.value) == ("pcm_practitioner", (("99424", 1),), 80.87)


def test_enrolment_needs_the_conditions(sqlite_engine: Engine) -> None:
    seed_people(sqlite_engine, 1)
    _conditions(sqlite_engine, 1, ["E11.9"])
    with pytest.raises(InvalidInput, match=r"CCM needs 2 chronic condition\(s\).*has 1 \(diabetes\)"):
        enroll_member(
            sqlite_engine,
            member_key="M1",
            program="ccm",
            billing_npi=PHYSICIAN,
            practice_npi=PRACTICE,
            start_date=date(2025, 6, 1),
            now=NOW,
        )


def test_one_billing_practitioner_per_patient_month(store_engine: Engine) -> None:
    _ready(store_engine)
    _log(store_engine, "rn1", "clinical_staff", datetime(2025, 6, 3, 10, 0), 25)
    # The patient moves to a second practitioner mid-month: the first enrolment ends 14 June.
    enroll_member(
        store_engine,
        member_key="M1",
        program="ccm",
        billing_npi=SECOND_DOCTOR,
        practice_npi=PRACTICE,
        start_date=date(2025, 6, 15),
        now=NOW,
    )
    record_consent(
        store_engine,
        member_key="M1",
        billing_npi=SECOND_DOCTOR,
        consented_on=date(2025, 6, 15),
        method="written",
        now=NOW,
    )
    _log(store_engine, "rn1", "clinical_staff", datetime(2025, 6, 20, 10, 0), 22)
    run = code_ccm_month(store_engine, "2025-06", today=TODAY, now=NOW)
    (patient,) = run.patients
    # Only the second practitioner bills June, with the time under that enrolment and consent.
    assert (patient.billing_npi, patient.minutes.clinical_staff, patient.lines) == (
        SECOND_DOCTOR,
        22,
        (("99490", 1),),
    )
    with store_engine.connect() as conn:
        assert conn.execute(select(ccm_month_bill.c.billing_npi)).scalars().all() == [SECOND_DOCTOR]


def test_care_management_billed_elsewhere_blocks_the_month(sqlite_engine: Engine) -> None:
    _ready(sqlite_engine)
    _log(sqlite_engine, "rn1", "clinical_staff", datetime(2025, 6, 3, 10, 0), 25)
    with sqlite_engine.begin() as conn:
        conn.execute(
            insert(medical_claim).values(
                claim_id=1,
                claim_key="X1",
                member_id=1,
                claim_type="professional",
                billing_npi=make_npi("190000000"),
                from_date=date(2025, 6, 30),
                to_date=date(2025, 6, 30),
            )
        )
        conn.execute(
            insert(claim_line).values(
                claim_id=1,
                line_number=1,
                member_id=1,
                procedure_code="99490",
                service_date=date(2025, 6, 30),
                units=1,
            )
        )
    (patient,) = code_ccm_month(sqlite_engine, "2025-06", today=TODAY, now=NOW).patients
    assert patient.reasons == ("another practitioner already billed care management for this patient-month",)


def test_open_month_is_refused(sqlite_engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="2025-07 has not ended"):
        code_ccm_month(sqlite_engine, "2025-07", today=date(2025, 7, 31), now=NOW)
    with pytest.raises(InvalidInput, match="is not YYYY-MM"):
        code_ccm_month(sqlite_engine, "2025-13", today=TODAY, now=NOW)


def test_bill_writes_a_valid_837p_once(store_engine: Engine, tmp_path: Path) -> None:
    _ready(store_engine)
    _log(store_engine, "rn1", "clinical_staff", datetime(2025, 6, 3, 10, 0), 45)
    code_ccm_month(store_engine, "2025-06", today=TODAY, now=NOW)
    out = tmp_path / "ccm-2025-06.837"
    run = generate_ccm_claims(store_engine, ClaimsProfile(), month="2025-06", out=out, now=NOW)
    assert (run.claims, str(run.total_charge)) == (1, "115.00")  # 99490 65.00 + 99439 50.00
    text = out.read_text(encoding="ascii")
    assert validate_x12(text) == []
    document = parse_x12(text)
    assert [s.get(1) for s in document.by_id("SV1")] == ["HC:99490", "HC:99439"]
    assert {s.get(3) for s in document.by_id("DTP") if s.get(1) == "472"} == {"20250630"}
    again = generate_ccm_claims(
        store_engine, ClaimsProfile(), month="2025-06", out=tmp_path / "again.837", now=NOW
    )
    assert again.claims == 0
    # Coding the month again after submission keeps what was sent.
    _log(store_engine, "rn1", "clinical_staff", datetime(2025, 6, 28, 10, 0), 30)
    (patient,) = code_ccm_month(store_engine, "2025-06", today=TODAY, now=NOW).patients
    assert patient.submitted and patient.lines == (("99490", 1), ("99439", 1))
    with store_engine.connect() as conn:
        keys = conn.execute(select(claim_submission.c.source_kind, claim_submission.c.source_key)).all()
        assert keys == [("ccm", "M1|2025-06")]
        assert conn.execute(select(ccm_time_entry.c.ccm_time_entry_id)).all()
