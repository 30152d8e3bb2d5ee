"""Seed rows shared by the care-coordination tests: one practice, its physician, one pharmacy, members."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, insert

from openvbc.domain.npi import make_npi
from openvbc.store.tables import encounter, fill, member, provider

PRACTICE = make_npi("150000000")
PHYSICIAN = make_npi("160000000")
PHARMACY = "1234567893"
OTHER_PRACTICE = make_npi("170000000")


def seed_people(engine: Engine, members: int = 3) -> None:
    """Providers plus ``members`` members (M1..Mn) whose PCP is the physician and who fill at PHARMACY."""
    with engine.begin() as conn:
        conn.execute(
            insert(provider),
            [
                _provider(PRACTICE, "practice", "NORTH CLINIC", "261QP2300X", tin="411111111"),
                _provider(PHYSICIAN, "clinician", "Lee, Maria", "207Q00000X", parent=PRACTICE),
                _provider(PHARMACY, "pharmacy", "CORNER PHARMACY", "3336C0003X", tin="412222222"),
                _provider(OTHER_PRACTICE, "practice", "SOUTH CLINIC", "261QP2300X", tin="413333333"),
            ],
        )
        conn.execute(
            insert(member),
            [
                {
                    "member_id": i,
                    "member_key": f"M{i}",
                    "first_name": "PAT",
                    "last_name": f"DOE{i}",
                    "birth_date": date(1950, 1, i),
                    "sex": "F",
                    "address": "1 ELM ST",
                    "city": "SAINT PAUL",
                    "state": "MN",
                    "zip": "55101",
                    "line_of_business": "medicare",
                    "pcp_npi": PHYSICIAN,
                }
                for i in range(1, members + 1)
            ],
        )
        conn.execute(
            insert(fill),
            [
                {
                    "fill_key": f"F{i}",
                    "member_id": i,
                    "ndc11": "00093505698",
                    "fill_date": date(2025, 5, 1),
                    "days_supply": 30,
                    "quantity": 30,
                    "pharmacy_npi": PHARMACY,
                }
                for i in range(1, members + 1)
            ],
        )


def _provider(
    npi: str, kind: str, name: str, taxonomy: str, *, tin: str | None = None, parent: str | None = None
) -> dict[str, Any]:
    return {
        "npi": npi,
        "kind": kind,
        "name": name,
        "taxonomy": taxonomy,
        "parent_npi": parent,
        "tin": tin,
        "address": "100 MAIN ST" if tin else None,
        "city": "SAINT PAUL" if tin else None,
        "state": "MN" if tin else None,
        "zip": "551011234" if tin else None,
    }


def add_encounter(
    engine: Engine,
    key: str,
    member_id: int,
    setting: str,
    start_at: datetime,
    end_at: datetime | None = None,
    *,
    status: str = "finished",
    disposition: str | None = "01",
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(encounter).values(
                encounter_key=key,
                member_id=member_id,
                setting=setting,
                status=status,
                start_at=start_at,
                end_at=end_at,
                discharge_disposition=disposition,
                source="adt",
            )
        )
