"""FHIR Bulk Data export of an attribution Group (Bulk Data Access IG 2.0, async pattern).

Kick-off ``GET|POST /fhir/Group/[id]/$export`` with ``Prefer: respond-async`` answers 202 and a
``Content-Location`` status URL; polling it answers 202 with ``X-Progress`` until the job is
done, then 200 and the manifest (``transactionTime``, ``request``, ``requiresAccessToken``,
``output[{type, url, count}]``, ``error``). Files are NDJSON, one per resource type, each with
its SHA-256 in the manifest (ONC 170.315(d)(8) integrity). Only the requester may poll or
download, and the member list is fixed and scoped at kick-off.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy import Engine, select, update

from openvbc.api.deps import ActorDep, audited, engine_of, settings_of
from openvbc.api.fhir.render import render_observation, render_patient
from openvbc.api.outcomes import ApiError
from openvbc.services import access
from openvbc.services.access import Actor
from openvbc.store.tables import bulk_export_job

router = APIRouter(prefix="/fhir", tags=["fhir"])

EXPORT_TYPES = ("Patient", "Observation")
NDJSON = "application/fhir+ndjson"
JOB_ID = Annotated[str, Path(pattern=r"^[0-9a-f\-]{36}$")]


@router.api_route(
    "/Group/{group_id}/$export",
    methods=["GET", "POST"],
    status_code=202,
    responses={202: {"description": "accepted; poll Content-Location"}},
)
def kick_off_group_export(
    request: Request,
    actor: ActorDep,
    background: BackgroundTasks,
    group_id: Annotated[str, Path(pattern=r"^\d{10}$")],
    prefer: Annotated[str | None, Header(max_length=100)] = None,
    type_: Annotated[str | None, Query(alias="_type", max_length=200)] = None,
    since: Annotated[datetime | None, Query(alias="_since")] = None,
    output_format: Annotated[str | None, Query(alias="_outputFormat", max_length=60)] = None,
) -> Response:
    access.require_scope(actor, "Group", "r")
    access.require(actor, access.EXPORT)
    if not prefer or "respond-async" not in prefer:
        raise ApiError("invalid", "bulk export requires 'Prefer: respond-async'", ["Prefer"])
    if output_format not in (None, NDJSON, "application/ndjson", "ndjson"):
        raise ApiError("not-supported", f"_outputFormat {output_format} is not supported", ["_outputFormat"])
    types = [t for t in (type_ or ",".join(EXPORT_TYPES)).split(",") if t]
    unknown = [t for t in types if t not in EXPORT_TYPES]
    if unknown:
        raise ApiError(
            "not-supported",
            f"cannot export {', '.join(unknown)}; supported: {', '.join(EXPORT_TYPES)}",
            ["_type"],
        )
    for kind in types:
        access.require_scope(actor, kind, "r")
    job_id = str(uuid.uuid4())
    settings = settings_of(request)
    with audited(request, actor, action="export", resource_type="Group", resource_id=group_id) as unit:
        _org, keys = access.read_group_members(unit.connection, actor, group_id)
        unit.touch(keys)
        unit.connection.execute(
            bulk_export_job.insert().values(
                bulk_export_job_id=job_id,
                actor_id=actor.id,
                role=actor.role,
                org_npi=actor.org_npi,
                group_id=group_id,
                resource_types=",".join(types),
                since=since.replace(tzinfo=None) if since else None,
                status="accepted",
                requested_at=settings.clock(),
            )
        )
    background.add_task(
        run_export_job,
        engine_of(request),
        actor,
        job_id,
        keys,
        types,
        FilePath(settings.export_dir),
        settings.clock,
    )
    status_url = f"{request.base_url}fhir/$export-status/{job_id}"
    return Response(status_code=202, headers={"Content-Location": status_url})


def run_export_job(
    engine: Engine,
    actor: Actor,
    job_id: str,
    member_keys: list[str],
    types: list[str],
    export_dir: FilePath,
    clock: Any,
) -> None:
    """Write one NDJSON file per type; record the manifest or the failure."""
    folder = export_dir / job_id
    folder.mkdir(parents=True, exist_ok=True)
    _set_job(engine, job_id, status="in-progress")
    try:
        outputs = []
        with engine.connect() as connection:
            members = access.find_members(connection, actor, member_keys)
            key_of = {int(row["member_id"]): str(row["member_key"]) for row in members}
            for kind in types:
                path = folder / f"{kind}.ndjson"
                count = 0
                with path.open("w", encoding="utf-8") as out:
                    if kind == "Patient":
                        for row in members:
                            out.write(json.dumps(render_patient(row), separators=(",", ":")) + "\n")
                            count += 1
                    else:
                        for start in range(0, len(key_of), 500):
                            ids = list(key_of)[start : start + 500]
                            for row in access.read_rows_of_members(connection, actor, ids, "observation"):
                                resource = render_observation(row, key_of[int(row["member_id"])])
                                out.write(json.dumps(resource, separators=(",", ":")) + "\n")
                                count += 1
                outputs.append(
                    {
                        "type": kind,
                        "file": path.name,
                        "count": count,
                        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                    }
                )
        _set_job(engine, job_id, status="completed", finished_at=clock(), manifest=json.dumps(outputs))
    except Exception as error:  # a failed job is reported through its status URL
        _set_job(
            engine, job_id, status="failed", finished_at=clock(), error=f"{type(error).__name__}: {error}"
        )


def _set_job(engine: Engine, job_id: str, **values: Any) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(bulk_export_job).where(bulk_export_job.c.bulk_export_job_id == job_id).values(**values)
        )


def _job_of(request: Request, actor: Actor, job_id: str) -> dict[str, Any]:
    with engine_of(request).connect() as connection:
        row = (
            connection.execute(
                select(bulk_export_job).where(
                    bulk_export_job.c.bulk_export_job_id == job_id, bulk_export_job.c.actor_id == actor.id
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise access.NotFound(f"no export job {job_id}")
    return dict(row)


@router.get(
    "/$export-status/{job_id}",
    responses={202: {"description": "in progress"}, 200: {"description": "manifest"}},
)
def read_export_status(request: Request, actor: ActorDep, job_id: JOB_ID) -> Response:
    job = _job_of(request, actor, job_id)
    if job["status"] in ("accepted", "in-progress"):
        return Response(status_code=202, headers={"X-Progress": job["status"], "Retry-After": "1"})
    if job["status"] == "failed":
        raise ApiError("exception", f"export failed: {job['error']}")
    base = f"{request.base_url}fhir/$export-file/{job_id}/"
    files = json.loads(job["manifest"] or "[]")
    manifest = {
        "transactionTime": job["requested_at"].isoformat() + "Z",
        "request": f"{request.base_url}fhir/Group/{job['group_id']}/$export",
        "requiresAccessToken": True,
        "output": [
            {
                "type": item["type"],
                "url": base + item["file"],
                "count": item["count"],
                "extension": {"sha256": item["sha256"]},
            }
            for item in files
        ],
        "error": [],
    }
    return JSONResponse(manifest)


@router.delete("/$export-status/{job_id}", status_code=202)
def cancel_export(request: Request, actor: ActorDep, job_id: JOB_ID) -> Response:
    """Delete a job's files (a finished job is removed; Bulk Data 'delete a bulk data request')."""
    job = _job_of(request, actor, job_id)
    shutil.rmtree(FilePath(settings_of(request).export_dir) / job["bulk_export_job_id"], ignore_errors=True)
    _set_job(
        engine_of(request),
        job_id,
        status="failed",
        error="cancelled by the requester",
        finished_at=settings_of(request).clock(),
    )
    return Response(status_code=202)


@router.get(
    "/$export-file/{job_id}/{file_name}",
    response_class=FileResponse,
    responses={200: {"content": {NDJSON: {}}}},
)
def download_export_file(
    request: Request,
    actor: ActorDep,
    job_id: JOB_ID,
    file_name: Annotated[str, Path(pattern=r"^(Patient|Observation)\.ndjson$")],
) -> Response:
    with audited(
        request, actor, action="export", resource_type="Binary", resource_id=f"{job_id}/{file_name}"
    ):
        job = _job_of(request, actor, job_id)
        if job["status"] != "completed":
            raise access.NotFound("export file not ready")
        path = FilePath(settings_of(request).export_dir) / job_id / file_name
        if not path.is_file():
            raise access.NotFound(f"no file {file_name}")
    return FileResponse(path, media_type=NDJSON, headers={"Cache-Control": "no-store"})
