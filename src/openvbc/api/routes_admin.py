"""REST: people and roles (plan administrators), the audit log (auditors)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from openvbc.api.deps import ActorDep, audited, client_ip_of, engine_of, request_id_of, settings_of
from openvbc.services import access, identity
from openvbc.services.access import AccessDenied, Actor
from openvbc.services.audit import (
    REPORT_SORT_KEYS,
    AuditEntry,
    read_audit_report,
    record_event,
    verify_audit_chain,
)

router = APIRouter(prefix="/api", tags=["rest"])


def require_audited(request: Request, actor: Actor, permission: str, resource_type: str, action: str) -> None:
    """A refused privileged call is itself an auditable event."""
    try:
        access.require(actor, permission)
    except AccessDenied as error:
        entry = AuditEntry(
            **actor.audit_fields(),
            action=action,
            resource_type=resource_type,
            outcome="denied",
            detail=str(error),
            request_id=request_id_of(request),
            source_ip=client_ip_of(request),
        )
        record_event(engine_of(request), entry, clock=settings_of(request).clock)
        raise


class UserOut(BaseModel):
    username: str
    display_name: str
    role: str
    org_kind: str
    org_npi: str | None
    active: bool


class UserIn(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    display_name: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=24)
    org_npi: str | None = Field(default=None, pattern=r"^\d{10}$")
    password: str = Field(min_length=12, max_length=200)
    totp_secret: str | None = Field(default=None, pattern=r"^[A-Z2-7]{16,64}$")


class RoleIn(BaseModel):
    role: str = Field(min_length=1, max_length=24)
    org_npi: str | None = Field(default=None, pattern=r"^\d{10}$")


@router.get("/users", response_model=list[UserOut])
def list_users(request: Request, actor: ActorDep) -> list[dict[str, Any]]:
    require_audited(request, actor, access.USERS, "app_user", "read")
    with engine_of(request).connect() as connection:
        return identity.list_users(connection)


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(request: Request, actor: ActorDep, body: UserIn) -> dict[str, Any]:
    """Add a person (a privilege change, audited)."""
    require_audited(request, actor, access.USERS, "app_user", "privilege")
    settings = settings_of(request)
    with engine_of(request).begin() as connection:
        identity.create_user(
            connection,
            username=body.username,
            display_name=body.display_name,
            role=body.role,
            password=body.password,
            org_npi=body.org_npi,
            totp_secret=body.totp_secret,
            iterations=settings.password_iterations,
            by=actor,
            now=settings.clock(),
        )
        users = {row["username"]: row for row in identity.list_users(connection)}
    return users[body.username]


@router.put("/users/{username}/role", response_model=UserOut)
def change_role(
    request: Request, actor: ActorDep, username: Annotated[str, Path(max_length=64)], body: RoleIn
) -> dict[str, Any]:
    """Move a person to another role or organisation; their sessions end."""
    require_audited(request, actor, access.USERS, "app_user", "privilege")
    with engine_of(request).begin() as connection:
        identity.change_role(
            connection,
            username=username,
            role=body.role,
            org_npi=body.org_npi,
            by=actor,
            now=settings_of(request).clock(),
        )
        users = {row["username"]: row for row in identity.list_users(connection)}
    return users[username]


@router.get("/audit/events", response_model=list[dict[str, Any]])
def read_audit_events(
    request: Request,
    actor: ActorDep,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    sort: Annotated[str, Query(pattern="^(" + "|".join(REPORT_SORT_KEYS) + ")$")] = "recorded_at",
    descending: bool = False,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    """Audit report for a time range, sortable by every field (ONC 170.315(d)(3))."""
    require_audited(request, actor, access.AUDIT, "audit_event", "audit")
    with audited(request, actor, action="audit", resource_type="audit_event") as unit:
        return read_audit_report(
            unit.connection,
            start=_naive(start),
            end=_naive(end),
            sort_by=sort,
            descending=descending,
            limit=limit,
        )


@router.get("/audit/verify", response_model=dict[str, Any])
def verify_audit(request: Request, actor: ActorDep) -> dict[str, Any]:
    """Recompute the hash chain; names the first altered, deleted or reordered record."""
    require_audited(request, actor, access.AUDIT, "audit_event", "audit")
    with audited(request, actor, action="audit", resource_type="audit_event", resource_id="verify") as unit:
        return verify_audit_chain(unit.connection).as_dict()


def _naive(value: datetime | None) -> datetime | None:
    """Query times in the stored form: naive UTC."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)
