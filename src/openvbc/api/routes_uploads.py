"""REST: plan data uploads (CSV package files, FHIR JSON/NDJSON) through the import service.

A dry run validates and reports every problem by file, line and field without loading; a
real run loads atomically and idempotently (``services.imports.import_path``).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile

from openvbc.api.deps import ActorDep, audited, settings_of
from openvbc.api.routes_admin import require_audited
from openvbc.domain.errors import UserError
from openvbc.services import access
from openvbc.services.imports import import_path

router = APIRouter(prefix="/api", tags=["rest"])

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def save_uploads(files: list[UploadFile], folder: Path) -> list[str]:
    """Write uploads under their (sanitised) names; the import service recognises the kind by name."""
    names = []
    for upload in files:
        name = SAFE_NAME.sub("_", Path(upload.filename or "upload.csv").name)[:120] or "upload.csv"
        target = folder / name
        size = 0
        with target.open("wb") as out:
            while chunk := upload.file.read(1 << 20):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise UserError(f"{name} is larger than {MAX_UPLOAD_BYTES} bytes")
                out.write(chunk)
        names.append(name)
    return names


def run_upload(
    request: Request, actor: access.Actor, files: list[UploadFile], dry_run: bool
) -> dict[str, Any]:
    """Shared by the API and the Uploads page."""
    require_audited(request, actor, access.UPLOAD, "upload", "create")
    settings = settings_of(request)
    with tempfile.TemporaryDirectory(prefix="openvbc-upload-") as folder:
        names = save_uploads(files, Path(folder))
        action = "read" if dry_run else "create"
        with audited(
            request, actor, action=action, resource_type="upload", resource_id=",".join(names)[:200]
        ):
            report = import_path(
                request.app.state.engine, Path(folder), check_only=dry_run, today=settings.today().date()
            )
    return report.as_dict()


@router.post("/uploads", response_model=dict[str, Any])
def upload_files(
    request: Request,
    actor: ActorDep,
    files: Annotated[list[UploadFile], File(description="package CSV files or FHIR JSON/NDJSON")],
    dry_run: Annotated[bool, Query(description="validate only; nothing is loaded")] = True,
) -> dict[str, Any]:
    """Validate (and unless ``dry_run``, load) uploaded files; problems come back as an
    OperationOutcome with one issue per file, line and field."""
    return run_upload(request, actor, files, dry_run)
