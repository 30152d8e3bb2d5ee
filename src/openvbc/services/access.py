"""Who may do what, and to which members: the one place where member data is scoped.

Every query for member data in the web application and API goes through ``member_scope``
(DESIGN.md decision 7; OWASP API1 / ASVS 4.2.1), so a route cannot forget the actor's
organisation. A member outside the actor's organisation and a member that does not exist
look the same (``NotFound``), so the API is no oracle for who is enrolled.

Organisation rules (minimum necessary, 45 CFR 164.502(b)):

- plan staff (administrator, analyst) see every member of the plan;
- pharmacy staff see members attributed to their pharmacy in any attribution snapshot, and
  members whose prescriptions their pharmacy dispensed (a treatment relationship);
- practice staff (care manager, billing practitioner, registry user) see members attributed to
  their practice, members whose primary care clinician belongs to it, and members it enrolled
  in CCM or follows in a TCM case;
- auditors see the audit log and no member data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, false, func, or_, select, true

from openvbc.domain.errors import UserError
from openvbc.store.tables import (
    attribution_snapshot,
    ccm_enrollment,
    fill,
    member,
    provider,
    tcm_case,
)

ROLES = (
    "plan_admin",
    "plan_analyst",
    "pharmacy_staff",
    "care_manager",
    "billing_practitioner",
    "registry_user",
    "auditor",
)
ROLE_ORG_KIND = {
    "plan_admin": "plan",
    "plan_analyst": "plan",
    "auditor": "plan",
    "pharmacy_staff": "pharmacy",
    "care_manager": "practice",
    "billing_practitioner": "practice",
    "registry_user": "practice",
}
# Roles that cannot sign in without a second factor (ONC 170.315(d)(13)).
MFA_ROLES = frozenset({"plan_admin"})

# Permissions are coarse verbs; object-level checks are member_scope's job.
MEMBER_READ = "member.read"
MEMBER_WRITE = "member.write"
EXPORT = "export"
UPLOAD = "upload"
ANALYTICS = "analytics.read"
USERS = "users.manage"
AUDIT = "audit.read"

PERMISSIONS: dict[str, frozenset[str]] = {
    "plan_admin": frozenset({MEMBER_READ, MEMBER_WRITE, EXPORT, UPLOAD, ANALYTICS, USERS}),
    "plan_analyst": frozenset({MEMBER_READ, EXPORT, ANALYTICS}),
    "pharmacy_staff": frozenset({MEMBER_READ, MEMBER_WRITE, EXPORT}),
    "care_manager": frozenset({MEMBER_READ, MEMBER_WRITE, EXPORT}),
    "billing_practitioner": frozenset({MEMBER_READ, MEMBER_WRITE}),
    "registry_user": frozenset({MEMBER_READ}),
    "auditor": frozenset({AUDIT}),
}


class NotAuthenticated(UserError):
    """No valid credentials (HTTP 401)."""


class AccessDenied(UserError):
    """Authenticated, but the role may not do this at all (HTTP 403)."""


class NotFound(UserError):
    """No such object for this actor: missing, or outside the actor's organisation (HTTP 404)."""


@dataclass(frozen=True)
class Actor:
    """Whoever is asking: a signed-in person or a machine client."""

    kind: str  # user | client
    id: str  # username or client_id
    role: str
    org_kind: str
    org_npi: str | None
    # SMART scopes granted to a machine token; None = people and API keys (role decides).
    scopes: frozenset[str] | None = None

    @property
    def sees_whole_plan(self) -> bool:
        return self.org_kind == "plan"

    def audit_fields(self) -> dict[str, Any]:
        return {"actor_kind": self.kind, "actor_id": self.id, "role": self.role, "org_npi": self.org_npi}


def require(actor: Actor, permission: str) -> None:
    """Refuse an action the role does not have (function-level authorisation, OWASP API5)."""
    if permission not in PERMISSIONS.get(actor.role, frozenset()):
        raise AccessDenied(f"role {actor.role} may not {permission}")


def require_scope(actor: Actor, resource_type: str, interaction: str) -> None:
    """SMART v2 (``system/Patient.rs``) and v1 (``system/Patient.read``) scope check.

    ``interaction`` is one letter of ``cruds``; v1 ``read`` covers r and s, ``write`` c, u, d.
    """
    if actor.scopes is None:
        return
    for scope in actor.scopes:
        context, _, rest = scope.partition("/")
        if context not in ("system", "user") or "." not in rest:
            continue
        kind, _, verbs = rest.partition(".")
        if kind not in ("*", resource_type):
            continue
        if verbs in ("*", "all") or (verbs == "read" and interaction in "rs"):
            return
        if verbs == "write" and interaction in "cud":
            return
        if verbs and set(verbs) <= set("cruds") and interaction in verbs:
            return
    raise AccessDenied(f"token scopes do not allow {resource_type}.{interaction}")


def member_scope(actor: Actor) -> ColumnElement[bool]:
    """A condition on ``member.member_id`` that keeps only the actor's members."""
    if MEMBER_READ not in PERMISSIONS.get(actor.role, frozenset()):
        return false()
    if actor.sees_whole_plan:
        return true()
    npi = actor.org_npi
    if not npi:
        return false()
    if actor.org_kind == "pharmacy":
        attributed = select(attribution_snapshot.c.member_id).where(
            attribution_snapshot.c.provider_kind == "pharmacy", attribution_snapshot.c.provider_npi == npi
        )
        dispensed = select(fill.c.member_id).where(fill.c.pharmacy_npi == npi)
        return or_(member.c.member_id.in_(attributed), member.c.member_id.in_(dispensed))
    if actor.org_kind == "practice":
        attributed = select(attribution_snapshot.c.member_id).where(
            attribution_snapshot.c.provider_kind == "practice", attribution_snapshot.c.provider_npi == npi
        )
        clinicians = select(provider.c.npi).where(provider.c.parent_npi == npi)
        enrolled = select(ccm_enrollment.c.member_id).where(ccm_enrollment.c.practice_npi == npi)
        followed = select(tcm_case.c.member_id).where(tcm_case.c.practice_npi == npi)
        return or_(
            member.c.member_id.in_(attributed),
            member.c.pcp_npi == npi,
            member.c.pcp_npi.in_(clinicians),
            member.c.member_id.in_(enrolled),
            member.c.member_id.in_(followed),
        )
    return false()


def scoped_members(actor: Actor) -> Select[Any]:
    """``SELECT member.*`` limited to the actor's members (the base of every member query)."""
    return select(member).where(member_scope(actor))


def find_member(connection: Connection, actor: Actor, member_key: str) -> dict[str, Any]:
    """One member the actor may see, by the plan's member id; ``NotFound`` otherwise."""
    require(actor, MEMBER_READ)
    row = (
        connection.execute(scoped_members(actor).where(member.c.member_key == member_key)).mappings().first()
    )
    if row is None:
        raise NotFound(f"no member {member_key}")
    return dict(row)


def search_members(
    connection: Connection,
    actor: Actor,
    *,
    text: str | None = None,
    birth_date: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Members the actor may see, optionally matching a name or member id prefix."""
    require(actor, MEMBER_READ)
    query = scoped_members(actor)
    if text:
        pattern = text.strip().lower() + "%"
        query = query.where(
            or_(
                member.c.member_key.like(text.strip() + "%"),
                member.c.last_name.ilike(pattern),
                member.c.first_name.ilike(pattern),
            )
        )
    if birth_date:
        query = query.where(member.c.birth_date == birth_date)
    query = query.order_by(member.c.member_id).limit(max(1, min(limit, 500))).offset(max(0, offset))
    return [dict(row) for row in connection.execute(query).mappings()]


def read_member_rows(
    connection: Connection,
    actor: Actor,
    member_key: str,
    table_name: str,
    *,
    order_by: Sequence[str] = (),
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Rows of any member-keyed table for one member the actor may see (the chart's facts)."""
    found = find_member(connection, actor, member_key)
    table = member.metadata.tables[table_name]
    if "member_id" not in table.c:
        raise ValueError(f"{table_name} is not member data")
    query = select(table).where(table.c.member_id == found["member_id"])
    for name in order_by:
        column = table.c[name.lstrip("-")]
        query = query.order_by(column.desc() if name.startswith("-") else column)
    return [dict(row) for row in connection.execute(query.limit(limit)).mappings()]


def check_group_access(actor: Actor, group_npi: str) -> None:
    """A Group (attribution list) is the member list of one pharmacy or practice: plan staff
    may read any, others only their own organisation's (foreign groups look missing)."""
    require(actor, MEMBER_READ)
    if actor.sees_whole_plan:
        return
    if actor.org_npi != group_npi:
        raise NotFound(f"no group {group_npi}")


def read_group_members(connection: Connection, actor: Actor, npi: str) -> tuple[dict[str, Any], list[str]]:
    """A pharmacy's or practice's attribution list at its latest snapshot, within the actor's scope."""
    check_group_access(actor, npi)
    org = (
        connection.execute(
            select(provider.c.npi, provider.c.kind, provider.c.name).where(
                provider.c.npi == npi, provider.c.kind.in_(("pharmacy", "practice"))
            )
        )
        .mappings()
        .first()
    )
    if org is None:
        raise NotFound(f"no group {npi}")
    latest = (
        select(func.max(attribution_snapshot.c.as_of))
        .where(
            attribution_snapshot.c.provider_npi == npi, attribution_snapshot.c.provider_kind == org["kind"]
        )
        .scalar_subquery()
    )
    attributed = select(attribution_snapshot.c.member_id).where(
        attribution_snapshot.c.provider_npi == npi,
        attribution_snapshot.c.provider_kind == org["kind"],
        attribution_snapshot.c.as_of == latest,
    )
    query = (
        select(member.c.member_key)
        .where(member.c.member_id.in_(attributed), member_scope(actor))
        .order_by(member.c.member_id)
    )
    return dict(org), [str(key) for key in connection.execute(query).scalars()]


def find_members(connection: Connection, actor: Actor, member_keys: Sequence[str]) -> list[dict[str, Any]]:
    """Several members by key, silently keeping only those the actor may see."""
    require(actor, MEMBER_READ)
    if not member_keys:
        return []
    query = (
        scoped_members(actor).where(member.c.member_key.in_(list(member_keys))).order_by(member.c.member_id)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def read_rows_of_members(
    connection: Connection, actor: Actor, member_ids: Sequence[int], table_name: str
) -> list[dict[str, Any]]:
    """Rows of a member-keyed table for members already obtained through this module's scope."""
    require(actor, MEMBER_READ)
    table = member.metadata.tables[table_name]
    query = select(table).where(
        table.c.member_id.in_(list(member_ids)),
        table.c.member_id.in_(select(member.c.member_id).where(member_scope(actor))),
    )
    return [dict(row) for row in connection.execute(query).mappings()]
