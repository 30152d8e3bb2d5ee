"""A two-tenant world for the web and API tests: every role, on both sides of the fence.

Pharmacy A and practice C serve members A1 and A2; pharmacy B and practice D serve member B1.
Member Z9 belongs to nobody's organisation (plan staff only). Each person and each machine
client exists for every role; tokens for tenant B are used to prove tenant A's data never
leaks. All names and numbers are invented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from openvbc.domain.npi import make_npi
from openvbc.services import identity
from openvbc.store.tables import (
    attribution_snapshot,
    ccm_enrollment,
    ccm_time_entry,
    condition,
    fill,
    member,
    observation,
    provider,
    tcm_case,
)

NOW = datetime(2026, 3, 10, 14, 0, 0)
PASSWORD = "correct horse battery staple"
TEST_ITERATIONS = 1000  # production uses 600,000; tests only need the format
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

PHARMACY_A = make_npi("100000001")
PHARMACY_B = make_npi("100000002")
PRACTICE_C = make_npi("200000001")
PRACTICE_D = make_npi("200000002")
CLINICIAN_C = make_npi("300000001")
CLINICIAN_D = make_npi("300000002")

# Names that must never appear in another tenant's answers.
MEMBERS = {
    "A1": ("Alma", "Aardvark", PHARMACY_A, PRACTICE_C, CLINICIAN_C),
    "A2": ("Abel", "Anteater", PHARMACY_A, PRACTICE_C, CLINICIAN_C),
    "B1": ("Bruno", "Bumblebee", PHARMACY_B, PRACTICE_D, CLINICIAN_D),
    "Z9": ("Zora", "Zebrafinch", None, None, None),
}

# role -> (username, org npi) for people; tenant B twins carry the suffix _b
PEOPLE = {
    "plan_admin": ("admin", None),
    "plan_analyst": ("analyst", None),
    "auditor": ("auditor", None),
    "pharmacy_staff": ("pharm_a", PHARMACY_A),
    "care_manager": ("cm_c", PRACTICE_C),
    "billing_practitioner": ("bill_c", PRACTICE_C),
    "registry_user": ("reg_c", PRACTICE_C),
}
TWINS = {"pharmacy_staff": ("pharm_b", PHARMACY_B), "care_manager": ("cm_d", PRACTICE_D)}


@dataclass
class World:
    engine: Engine
    api_keys: dict[str, str] = field(default_factory=dict)  # actor name -> secret
    now: list[datetime] = field(default_factory=lambda: [NOW])
    jobs: dict[str, str] = field(default_factory=dict)

    def clock(self) -> datetime:
        return self.now[0]

    def advance(self, delta: timedelta) -> None:
        self.now[0] = self.now[0] + delta


def seed_world(engine: Engine) -> World:
    world = World(engine)
    with engine.begin() as connection:
        providers = [
            (PHARMACY_A, "pharmacy", "Apothecary A", None),
            (PHARMACY_B, "pharmacy", "Bottle Shop B", None),
            (PRACTICE_C, "practice", "Clinic C", None),
            (PRACTICE_D, "practice", "Doctors D", None),
            (CLINICIAN_C, "clinician", "Dr Cee", PRACTICE_C),
            (CLINICIAN_D, "clinician", "Dr Dee", PRACTICE_D),
        ]
        connection.execute(
            provider.insert(),
            [
                {"npi": npi, "kind": kind, "name": name, "parent_npi": parent}
                for npi, kind, name, parent in providers
            ],
        )
        for number, (key, (first, last, pharmacy, practice, pcp)) in enumerate(MEMBERS.items(), start=1):
            connection.execute(
                member.insert().values(
                    member_id=number,
                    member_key=key,
                    first_name=first,
                    last_name=last,
                    birth_date=date(1950, 1, number),
                    sex="F" if number % 2 else "M",
                    line_of_business="medicare",
                    pcp_npi=pcp,
                )
            )
            _seed_facts(connection, number, key, pharmacy, practice)
    with engine.begin() as connection:
        for role, (username, npi) in list(PEOPLE.items()) + list(TWINS.items()):
            identity.create_user(
                connection,
                username=username,
                display_name=username.title(),
                role=role,
                password=PASSWORD,
                org_npi=npi,
                iterations=TEST_ITERATIONS,
                now=NOW,
                totp_secret=TOTP_SECRET if role == "plan_admin" else None,
            )
            world.api_keys[username] = identity.create_api_key(
                connection,
                client_id=f"key-{username}",
                name=username,
                role=role,
                org_npi=npi,
                by=None,
                now=NOW,
            )
    return world


def _seed_facts(
    connection: Any, member_id: int, key: str, pharmacy: str | None, practice: str | None
) -> None:
    dispensing = pharmacy or PHARMACY_B if key != "Z9" else make_npi("100000009")
    for month in (1, 2):
        connection.execute(
            fill.insert().values(
                fill_key=f"{key}-F{month}",
                member_id=member_id,
                ndc11="00093505698",
                ingredient="lisinopril",
                drug_class="RASA",
                fill_date=date(2026, month, 5),
                days_supply=30,
                quantity=30,
                pharmacy_npi=dispensing,
            )
        )
    for code, value in (("8480-6", 150.0), ("8462-4", 92.0), ("4548-4", 8.1)):
        connection.execute(
            observation.insert().values(
                observation_key=f"{key}-{code}",
                member_id=member_id,
                code_system="loinc",
                code=code,
                category="vital-signs",
                status="final",
                value_num=value,
                unit="mm[Hg]" if code != "4548-4" else "%",
                effective_at=datetime(2026, 2, 1, 9, 0),
                source="ehr",
            )
        )
    connection.execute(
        condition.insert().values(
            condition_key=f"{key}-I10",
            member_id=member_id,
            code_system="icd10cm",
            code="I10",
            clinical_status="active",
            source="claim",
        )
    )
    for kind, npi in (("pharmacy", pharmacy), ("practice", practice)):
        if npi:
            connection.execute(
                attribution_snapshot.insert().values(
                    program_id="pie",
                    program_year=2026,
                    as_of=date(2026, 2, 28),
                    member_id=member_id,
                    provider_kind=kind,
                    method="plurality_fills" if kind == "pharmacy" else "mssp_allowed_charges",
                    provider_npi=npi,
                    share=1.0,
                    reason="test world",
                    rule_version="test",
                )
            )
    if practice:
        connection.execute(
            tcm_case.insert().values(
                encounter_key=f"{key}-DISCH",
                member_id=member_id,
                practice_npi=practice,
                from_setting="inpatient",
                to_setting="home",
                discharge_date=date(2026, 3, 9),
                contact_due=date(2026, 3, 11),
                visit_due_by_code="99496=2026-03-16;99495=2026-03-23",
                service_period_end=date(2026, 4, 7),
                status="open",
                rule_version="test",
                opened_at=NOW,
                updated_at=NOW,
            )
        )
        connection.execute(
            ccm_enrollment.insert().values(
                member_id=member_id,
                program="ccm",
                billing_npi=CLINICIAN_C if practice == PRACTICE_C else CLINICIAN_D,
                practice_npi=practice,
                start_date=date(2026, 1, 1),
                conditions="I10|E11",
                enrolled_at=NOW,
            )
        )
        connection.execute(
            ccm_time_entry.insert().values(
                member_id=member_id,
                staff_id=f"staff-{practice}",
                role="clinical_staff",
                service="ccm",
                source="timer",
                start_at=datetime(2026, 3, 2, 10, member_id),
                end_at=datetime(2026, 3, 2, 10, 25 + member_id),
                recorded_at=NOW,
            )
        )


# --- the program year on top of the two-tenant world ------------------------------------------
#
# Pharmacy A gets ten more members (A3..A12) so its benchmarks reach the example contract's
# minimum denominator of 10 (rules/programs/pie/2026.yaml). Hand calculation of what the pages
# must then show for pharmacy A (attribution: PQA days supply, every A member's ACE-inhibitor
# fills are at pharmacy A, 100 % >= 51 %):
#   bp_control (CMS165, target 72 %): 12 in the denominator (hypertension I10, an office visit
#     99213 in 2026, age 18-85); controlled = A3..A10 (128/78) = 8; A1, A2, A11, A12 are at
#     150/92 or 150/95 -> 8/12 = 66.7 % < 72 %; ceil(0.72 x 12) - 8 = 9 - 8 = 1 member needed.
#   tobacco_free (target 85 %): all 12 screened "never smoker" -> 12/12 = 100 % met.
#   a1c_control: nobody has diabetes -> no data, not scored.
#   Clinical gate (at least 2 of >= 2 scored): 1 met -> not met; tier 1 = 0.
#   One more BP-controlled member -> 9/12 = 75 % >= 72 % -> 2 met -> tier 1 = 12 x $6.00 = $72.00
#   (tier 2 needs targeted members; none is targeted, so it stays 0).
PROGRAM_FILLERS = 10
CONTROLLED = {f"A{n}" for n in range(3, 11)}


def seed_program_world(engine: Engine) -> None:
    """Coverage, visits, tobacco screening and ten more pharmacy-A members (see the note above)."""
    from openvbc.store.tables import coverage, encounter

    with engine.begin() as connection:
        for number in range(3, 3 + PROGRAM_FILLERS):
            key = f"A{number}"
            member_id = 100 + number
            connection.execute(
                member.insert().values(
                    member_id=member_id,
                    member_key=key,
                    first_name="Filler",
                    last_name=f"Apple{number}",
                    birth_date=date(1955, 1, number),
                    sex="F",
                    line_of_business="medicare",
                    pcp_npi=CLINICIAN_C,
                )
            )
            _seed_facts(connection, member_id, key, PHARMACY_A, None)
        ids = [row[0] for row in connection.execute(member.select().with_only_columns(member.c.member_id))]
        keys = dict(
            connection.execute(
                member.select().with_only_columns(member.c.member_id, member.c.member_key)
            ).all()
        )
        for member_id in ids:
            key = keys[member_id]
            connection.execute(
                coverage.insert().values(
                    coverage_key=f"{key}-COV",
                    member_id=member_id,
                    line_of_business="medicare",
                    start_date=date(2025, 1, 1),
                    rx_benefit=True,
                )
            )
            # Two office visits: CMS138's denominator needs two (or one preventive visit).
            for number, day in ((1, 20), (2, 27)):
                connection.execute(
                    encounter.insert().values(
                        encounter_key=f"{key}-VISIT{number}",
                        member_id=member_id,
                        setting="ambulatory",
                        code_system="cpt",
                        code="99213",
                        status="finished",
                        start_at=datetime(2026, 1, day, 9, 0),
                        end_at=datetime(2026, 1, day, 9, 30),
                        source="ehr",
                    )
                )
            connection.execute(
                observation.insert().values(
                    observation_key=f"{key}-TOBACCO",
                    member_id=member_id,
                    code_system="loinc",
                    code="72166-2",
                    category="survey",
                    status="final",
                    value_code_system="snomed",
                    value_code="266919005",
                    effective_at=datetime(2026, 1, 20, 9, 10),
                    source="ehr",
                )
            )
            if key in CONTROLLED:
                for code, value in (("8480-6", 128.0), ("8462-4", 78.0)):
                    connection.execute(
                        observation.update()
                        .where(observation.c.observation_key == f"{key}-{code}")
                        .values(value_num=value)
                    )
            elif key in ("A11", "A12"):
                connection.execute(
                    observation.update()
                    .where(observation.c.observation_key == f"{key}-8462-4")
                    .values(value_num=95.0)
                )
        pharmacy_ids = dict(
            connection.execute(
                provider.select().with_only_columns(provider.c.npi, provider.c.provider_id)
            ).all()
        )
        for npi, provider_id in pharmacy_ids.items():
            connection.execute(
                fill.update().where(fill.c.pharmacy_npi == npi).values(pharmacy_id=provider_id)
            )
        connection.execute(fill.update().values(drug_class="ace_inhibitors"))
