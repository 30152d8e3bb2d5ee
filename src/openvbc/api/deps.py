"""Request plumbing shared by every API route: settings, store, the caller, audited work.

This is the only module that turns credentials into an ``Actor``; routes declare
``ActorDep`` and never read headers themselves. API callers authenticate with a bearer token
(SMART backend services) or an API key; browser sessions belong to the pages
(``openvbc.web.session``), so the API needs no CSRF defence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from openvbc.api.outcomes import ApiError
from openvbc.api.settings import WebSettings
from openvbc.domain.errors import InvalidInput, UserError
from openvbc.services.access import AccessDenied, Actor, NotAuthenticated, NotFound
from openvbc.services.audit import READ_ACTIONS, AuditedUnit, AuditEntry, audited_read, audited_unit
from openvbc.services.identity import resolve_api_key, resolve_bearer_token

bearer_scheme = HTTPBearer(auto_error=False, description="SMART backend-services access token")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key of a machine client")


def settings_of(request: Request) -> WebSettings:
    settings: WebSettings = request.app.state.settings
    return settings


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def client_ip_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def api_actor(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Actor:
    """The machine client behind a request, or 401 with an OperationOutcome."""
    engine, settings = engine_of(request), settings_of(request)
    actor: Actor | None = None
    if bearer is not None and bearer.scheme.lower() == "bearer":
        actor = resolve_bearer_token(engine, bearer.credentials, now=settings.clock())
    elif api_key:
        actor = resolve_api_key(engine, api_key)
    if actor is None:
        raise ApiError(
            "login",
            "authentication required: a valid bearer token or API key",
            headers={"WWW-Authenticate": 'Bearer realm="openvbc"'},
        )
    return actor


ActorDep = Annotated[Actor, Depends(api_actor)]


def classify_failure(error: BaseException) -> tuple[str, str] | None:
    """How a failed action is written to the audit log (outcome, detail)."""
    if isinstance(error, AccessDenied):
        return "denied", str(error)
    if isinstance(error, NotFound):
        return "failure", "not found"
    if isinstance(error, ApiError):
        return ("denied" if error.status in (401, 403) else "failure"), f"{error.code}: {error.text}"[:500]
    if isinstance(error, UserError):
        return "failure", str(error)[:500]
    return "failure", type(error).__name__


@contextmanager
def audited(
    request: Request,
    actor: Actor,
    *,
    action: str,
    resource_type: str,
    resource_id: str | None = None,
) -> Iterator[AuditedUnit]:
    """Do the work of a route in one transaction with its audit record (see services.audit)."""
    entry = AuditEntry(
        **actor.audit_fields(),
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        detail=f"{request.method} {request.url.path}",
        request_id=request_id_of(request),
        source_ip=client_ip_of(request),
    )
    clock: Callable[[], datetime] = settings_of(request).clock
    writer = getattr(request.app.state, "audit_writer", None)
    if action in READ_ACTIONS and writer is not None:
        with audited_read(
            engine_of(request), entry, writer, clock=clock, failure_outcome=classify_failure
        ) as unit:
            yield unit
        return
    with audited_unit(engine_of(request), entry, clock=clock, failure_outcome=classify_failure) as unit:
        yield unit


def as_api_error(error: Exception) -> ApiError:
    """Service errors in the OperationOutcome vocabulary (one mapping for every route)."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, NotAuthenticated):
        return ApiError("login", str(error), headers={"WWW-Authenticate": 'Bearer realm="openvbc"'})
    if isinstance(error, AccessDenied):
        return ApiError("forbidden", str(error))
    if isinstance(error, NotFound):
        return ApiError("not-found", str(error))
    if isinstance(error, InvalidInput):
        return ApiError("invalid", f"{len(error.issues)} problem(s) in the input", issues=error.issues)
    if isinstance(error, UserError):
        return ApiError("invalid", str(error))
    return ApiError("exception", "internal error")
