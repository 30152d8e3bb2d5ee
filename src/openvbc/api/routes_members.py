"""REST: members and the facts on their chart, always through ``services.access``."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from openvbc.api.deps import ActorDep, audited
from openvbc.services import access

router = APIRouter(prefix="/api", tags=["rest"])

MEMBER_KEY = Annotated[str, Path(min_length=1, max_length=64, description="the plan's member id")]


class MemberOut(BaseModel):
    member_key: str
    first_name: str | None
    last_name: str | None
    birth_date: date
    sex: str
    line_of_business: str
    pcp_npi: str | None
    city: str | None
    state: str | None
    zip: str | None


class Fact(StrEnum):
    """Member-keyed tables a chart shows; the order is the one each is sorted by."""

    fills = "fills"
    observations = "observations"
    conditions = "conditions"
    encounters = "encounters"
    medications = "medications"
    mtm = "mtm"
    coverage = "coverage"


FACT_TABLE = {
    "fills": "fill",
    "observations": "observation",
    "conditions": "condition",
    "encounters": "encounter",
    "medications": "medication_order",
    "mtm": "mtm_encounter",
    "coverage": "coverage",
}


FACT_ORDER = {
    "fill": ("-fill_date",),
    "observation": ("-effective_at",),
    "condition": ("-recorded_date",),
    "encounter": ("-start_at",),
    "medication_order": ("-authored_at",),
    "mtm_encounter": ("-service_date",),
    "coverage": ("-start_date",),
}
# Surrogate keys are internal: answers carry natural keys only.
HIDDEN_COLUMNS = {
    "member_id",
    "fill_id",
    "observation_id",
    "condition_id",
    "encounter_id",
    "medication_order_id",
    "mtm_encounter_id",
    "coverage_id",
    "pharmacy_id",
}


def to_member_out(row: dict[str, Any]) -> MemberOut:
    return MemberOut.model_validate({name: row.get(name) for name in MemberOut.model_fields})


@router.get("/members", response_model=list[MemberOut])
def search_members(
    request: Request,
    actor: ActorDep,
    q: Annotated[str | None, Query(max_length=64, description="member id or name prefix")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[MemberOut]:
    """Members the caller may see (their organisation's), optionally filtered."""
    with audited(request, actor, action="search", resource_type="member", resource_id=q) as unit:
        rows = access.search_members(unit.connection, actor, text=q, limit=limit, offset=offset)
        unit.touch([str(row["member_key"]) for row in rows])
    return [to_member_out(row) for row in rows]


@router.get(
    "/members/{member_key}", response_model=MemberOut, responses={404: {"description": "OperationOutcome"}}
)
def read_member(request: Request, actor: ActorDep, member_key: MEMBER_KEY) -> MemberOut:
    """One member; a member of another organisation answers 404 like a missing one."""
    with audited(request, actor, action="read", resource_type="member", resource_id=member_key) as unit:
        row = access.find_member(unit.connection, actor, member_key)
        unit.touch([member_key])
    return to_member_out(row)


@router.get(
    "/members/{member_key}/{fact}",
    response_model=list[dict[str, Any]],
    responses={404: {"description": "OperationOutcome"}},
)
def read_member_facts(
    request: Request,
    actor: ActorDep,
    member_key: MEMBER_KEY,
    fact: Fact,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> list[dict[str, Any]]:
    """Rows of one kind of fact for one member, newest first."""
    table = FACT_TABLE[fact.value]
    with audited(request, actor, action="read", resource_type=table, resource_id=member_key) as unit:
        rows = access.read_member_rows(
            unit.connection, actor, member_key, table, order_by=FACT_ORDER[table], limit=limit
        )
        unit.touch([member_key])
    return [{name: value for name, value in row.items() if name not in HIDDEN_COLUMNS} for row in rows]
