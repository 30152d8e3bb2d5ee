"""FHIR R4 REST: metadata, Patient, Observation (submit clinical data), Group.

Reads and searches are scoped by ``services.access``; creates go through the import service
(``services.imports.import_path``), so a FHIR submission is validated, mapped and loaded by
exactly the code that loads bulk files. Conditional create and ``Idempotency-Key`` rest on
unique constraints (the natural key of the row, and ``api_idempotency``), so concurrent
identical requests create one resource; the import report tells created (201) from already
present (200).
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from openvbc.api.deps import ActorDep, audited, engine_of, settings_of
from openvbc.api.fhir.render import render_group, render_observation, render_patient, render_searchset
from openvbc.api.outcomes import FHIR_JSON, ApiError
from openvbc.services import access
from openvbc.services.access import Actor
from openvbc.services.imports import import_path
from openvbc.store.tables import api_idempotency, member, observation

router = APIRouter(prefix="/fhir", tags=["fhir"])

FHIR_ID = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\-\.]{1,64}$")]
RESOURCE_BODY = {
    "content": {
        FHIR_JSON: {"schema": {"type": "object"}},
        "application/json": {"schema": {"type": "object"}},
    },
    "required": True,
}


def fhir_response(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return max(0, int(base64.urlsafe_b64decode(cursor.encode()).decode()))
    except (ValueError, UnicodeDecodeError):
        raise ApiError("invalid", "unknown paging cursor", ["_cursor"]) from None


def _next_url(request: Request, count: int, returned: int, offset: int) -> str | None:
    if returned < count:
        return None
    return str(request.url.include_query_params(_cursor=_encode_cursor(offset + count)))


# --- metadata -----------------------------------------------------------------------------------


@router.get("/metadata", response_model=dict[str, Any])
def read_capability_statement(request: Request) -> JSONResponse:
    """The CapabilityStatement (what this server supports); no authentication needed."""
    search = [
        {"name": n, "type": t}
        for n, t in (("identifier", "token"), ("name", "string"), ("birthdate", "date"), ("_count", "number"))
    ]
    resources = [
        {
            "type": "Patient",
            "interaction": [{"code": c} for c in ("read", "search-type", "create")],
            "searchParam": search,
            "conditionalCreate": True,
        },
        {
            "type": "Observation",
            "interaction": [{"code": c} for c in ("read", "search-type", "create")],
            "searchParam": [
                {"name": "patient", "type": "reference"},
                {"name": "code", "type": "token"},
                {"name": "_count", "type": "number"},
            ],
            "conditionalCreate": True,
        },
        {
            "type": "Group",
            "interaction": [{"code": "read"}],
            "operation": [
                {
                    "name": "export",
                    "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
                }
            ],
        },
    ]
    return fhir_response(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-11-25",
            "kind": "instance",
            "software": {"name": "openvbc", "version": "0.1.0"},
            "fhirVersion": "4.0.1",
            "format": ["application/fhir+json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "service": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                        "code": "SMART-on-FHIR",
                                    }
                                ]
                            }
                        ],
                        "extension": [
                            {
                                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                                "extension": [
                                    {"url": "token", "valueUri": str(request.base_url) + "auth/token"}
                                ],
                            }
                        ],
                    },
                    "resource": resources,
                }
            ],
        }
    )


# --- Patient --------------------------------------------------------------------------------------


@router.get("/Patient/{resource_id}", response_model=dict[str, Any])
def read_patient(request: Request, actor: ActorDep, resource_id: FHIR_ID) -> JSONResponse:
    access.require_scope(actor, "Patient", "r")
    with audited(request, actor, action="read", resource_type="Patient", resource_id=resource_id) as unit:
        row = access.find_member(unit.connection, actor, resource_id)
        unit.touch([resource_id])
    return fhir_response(render_patient(row))


@router.get("/Patient", response_model=dict[str, Any])
def search_patients(
    request: Request,
    actor: ActorDep,
    identifier: Annotated[str | None, Query(max_length=200)] = None,
    name: Annotated[str | None, Query(max_length=64)] = None,
    birthdate: Annotated[str | None, Query(pattern=r"^(eq)?\d{4}-\d{2}-\d{2}$")] = None,
    count: Annotated[int, Query(alias="_count", ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(alias="_cursor", max_length=40)] = None,
) -> JSONResponse:
    """Search the caller's members; paging by an opaque ``next`` link."""
    access.require_scope(actor, "Patient", "s")
    offset = _decode_cursor(cursor)
    with audited(
        request, actor, action="search", resource_type="Patient", resource_id=identifier or name
    ) as unit:
        if identifier is not None:
            key = identifier.split("|", 1)[-1]
            rows = access.find_members(unit.connection, actor, [key]) if offset == 0 else []
        else:
            rows = access.search_members(
                unit.connection,
                actor,
                text=name,
                birth_date=birthdate.removeprefix("eq") if birthdate else None,
                limit=count,
                offset=offset,
            )
        unit.touch([str(row["member_key"]) for row in rows])
    body = render_searchset(
        [render_patient(row) for row in rows], str(request.url), _next_url(request, count, len(rows), offset)
    )
    return fhir_response(body)


@router.post(
    "/Patient", status_code=201, response_model=dict[str, Any], openapi_extra={"requestBody": RESOURCE_BODY}
)
async def create_patient(
    request: Request,
    actor: ActorDep,
    if_none_exist: Annotated[str | None, Header(max_length=200)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Enrol a member from a Patient (plan administrators; Coverage-less members get an
    unknown line of business, as in a FHIR import)."""
    access.require(actor, access.UPLOAD)
    access.require_scope(actor, "Patient", "c")
    resource = await _read_resource(request, "Patient")
    return _create(request, actor, resource, "Patient", if_none_exist, idempotency_key)


# --- Observation --------------------------------------------------------------------------------


@router.get("/Observation/{resource_id}", response_model=dict[str, Any])
def read_observation(request: Request, actor: ActorDep, resource_id: FHIR_ID) -> JSONResponse:
    access.require_scope(actor, "Observation", "r")
    with audited(request, actor, action="read", resource_type="Observation", resource_id=resource_id) as unit:
        access.require(actor, access.MEMBER_READ)
        found = (
            unit.connection.execute(
                select(observation, member.c.member_key)
                .join(member, member.c.member_id == observation.c.member_id)
                .where(
                    observation.c.observation_key.in_([resource_id, f"Observation/{resource_id}"]),
                    access.member_scope(actor),
                )
            )
            .mappings()
            .first()
        )
        if found is None:
            raise access.NotFound(f"no Observation {resource_id}")
        unit.touch([str(found["member_key"])])
    return fhir_response(render_observation(dict(found), str(found["member_key"])))


@router.get("/Observation", response_model=dict[str, Any])
def search_observations(
    request: Request,
    actor: ActorDep,
    patient: Annotated[str, Query(min_length=1, max_length=80, description="Patient/<id> or <id>")],
    code: Annotated[str | None, Query(max_length=120)] = None,
    count: Annotated[int, Query(alias="_count", ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(alias="_cursor", max_length=40)] = None,
) -> JSONResponse:
    """One member's observations, newest first (a patient is required: no plan-wide scans)."""
    access.require_scope(actor, "Observation", "s")
    member_key = patient.removeprefix("Patient/")
    offset = _decode_cursor(cursor)
    with audited(
        request, actor, action="search", resource_type="Observation", resource_id=member_key
    ) as unit:
        rows = access.read_member_rows(
            unit.connection,
            actor,
            member_key,
            "observation",
            order_by=("-effective_at",),
            limit=offset + count,
        )
        unit.touch([member_key])
    if code:
        wanted = code.split("|", 1)[-1]
        rows = [row for row in rows if row["code"] == wanted]
    page = rows[offset : offset + count]
    body = render_searchset(
        [render_observation(row, member_key) for row in page],
        str(request.url),
        _next_url(request, count, len(page), offset),
    )
    return fhir_response(body)


@router.post(
    "/Observation",
    status_code=201,
    response_model=dict[str, Any],
    openapi_extra={"requestBody": RESOURCE_BODY},
)
async def create_observation(
    request: Request,
    actor: ActorDep,
    if_none_exist: Annotated[str | None, Header(max_length=200)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Submit a clinical observation (BP, A1c, ...) for a member the caller serves."""
    access.require(actor, access.MEMBER_WRITE)
    access.require_scope(actor, "Observation", "c")
    resource = await _read_resource(request, "Observation")
    subject = resource.get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else None
    if not isinstance(reference, str) or not reference.startswith("Patient/"):
        raise ApiError(
            "required", "Observation.subject must reference Patient/<member id>", ["Observation.subject"]
        )
    with engine_of(request).connect() as connection:
        try:
            access.find_member(connection, actor, reference.removeprefix("Patient/"))
        except access.NotFound:
            raise ApiError("not-found", f"no {reference} for this caller", ["Observation.subject"]) from None
    return _create(request, actor, resource, "Observation", if_none_exist, idempotency_key)


# --- Group ----------------------------------------------------------------------------------------


@router.get("/Group/{resource_id}", response_model=dict[str, Any])
def read_group(request: Request, actor: ActorDep, resource_id: FHIR_ID) -> JSONResponse:
    """The attribution list of a pharmacy or practice (id = its NPI)."""
    access.require_scope(actor, "Group", "r")
    with audited(request, actor, action="read", resource_type="Group", resource_id=resource_id) as unit:
        org, keys = access.read_group_members(unit.connection, actor, resource_id)
        unit.touch(keys)
    return fhir_response(render_group(resource_id, str(org["kind"]), org.get("name"), keys))


# --- create plumbing --------------------------------------------------------------------------------


async def _read_resource(request: Request, resource_type: str) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > 1_000_000:
        raise ApiError("too-long", "resource larger than 1 MB")
    try:
        resource = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ApiError("structure", f"body is not JSON: {error}") from None
    if not isinstance(resource, dict) or resource.get("resourceType") != resource_type:
        raise ApiError(
            "invalid", f"body must be a {resource_type} resource", [f"{resource_type}.resourceType"]
        )
    if not isinstance(resource.get("id"), str) or not resource["id"]:
        # Ids are the natural keys that make a repeated submission a no-op; ask for one.
        raise ApiError(
            "required", f"{resource_type}.id is required (the submitter's stable id)", [f"{resource_type}.id"]
        )
    return resource


def _existing_id(request: Request, actor: Actor, resource_type: str, condition: str) -> str | None:
    """Conditional create (``If-None-Exist``): the id of the one match, None when none."""
    name, _, value = condition.partition("=")
    if name not in ("identifier", "_id") or not value:
        raise ApiError(
            "invalid", "If-None-Exist supports identifier=[system|]value and _id=value", ["If-None-Exist"]
        )
    key = value.split("|", 1)[-1]
    with engine_of(request).connect() as connection:
        if resource_type == "Patient":
            return key if access.find_members(connection, actor, [key]) else None
        found = connection.execute(
            select(observation.c.observation_key)
            .join(member, member.c.member_id == observation.c.member_id)
            .where(observation.c.observation_key.in_([key, f"Observation/{key}"]), access.member_scope(actor))
        ).first()
    return None if found is None else key


def _create(
    request: Request,
    actor: Actor,
    resource: dict[str, Any],
    resource_type: str,
    if_none_exist: str | None,
    idempotency_key: str | None,
) -> JSONResponse:
    resource_id = str(resource["id"])
    location = {"Location": f"{request.base_url}fhir/{resource_type}/{resource_id}"}
    if if_none_exist and _existing_id(request, actor, resource_type, if_none_exist) is not None:
        return fhir_response(resource, 200, location)
    body_sha = hashlib.sha256(json.dumps(resource, sort_keys=True).encode()).hexdigest()
    if idempotency_key:
        _reserve_idempotency_key(request, actor, idempotency_key, body_sha, resource_type, resource_id)
    with audited(
        request, actor, action="create", resource_type=resource_type, resource_id=resource_id
    ) as unit:
        with tempfile.TemporaryDirectory(prefix="openvbc-fhir-") as folder:
            path = FilePath(folder) / f"{resource_type}.ndjson"
            path.write_text(json.dumps(resource) + "\n", encoding="utf-8")
            report = import_path(
                engine_of(request), path, check_only=False, today=settings_of(request).today().date()
            )
        created = sum(item.inserted for item in report.files)
        changed = sum(item.updated for item in report.files)
        member_key = (
            resource_id
            if resource_type == "Patient"
            else str(resource["subject"]["reference"]).split("/")[-1]
        )
        unit.touch([member_key])
        unit.entry.action = "create" if created else ("update" if changed else "read")
    return fhir_response(resource, 201 if created else 200, location)


def _reserve_idempotency_key(
    request: Request, actor: Actor, key: str, body_sha: str, resource_type: str, resource_id: str
) -> None:
    """First use of a key records it; a repeat with the same body proceeds (the create is
    idempotent by natural key); a repeat with another body is refused."""
    try:
        with engine_of(request).begin() as connection:
            connection.execute(
                api_idempotency.insert().values(
                    actor_id=actor.id,
                    idempotency_key=key,
                    request_sha256=body_sha,
                    resource_type=resource_type,
                    resource_id=resource_id,
                    created_at=settings_of(request).clock(),
                )
            )
    except IntegrityError:
        with engine_of(request).connect() as connection:
            earlier = connection.execute(
                select(api_idempotency.c.request_sha256).where(
                    api_idempotency.c.actor_id == actor.id, api_idempotency.c.idempotency_key == key
                )
            ).scalar()
        if earlier != body_sha:
            raise ApiError(
                "duplicate", "Idempotency-Key was already used with a different request", ["Idempotency-Key"]
            ) from None
