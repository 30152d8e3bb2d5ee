"""Browser sessions for the pages: the cookie, CSRF tokens, audited page work.

The session cookie is HttpOnly, SameSite=Strict and (off loopback) Secure; it holds a random
token whose SHA-256 is the session key in the store. Every state-changing form carries the
session's CSRF token; the sign-in form, which has no session yet, uses a double-submit cookie.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Engine

from openvbc.services.access import Actor, NotAuthenticated
from openvbc.services.audit import READ_ACTIONS, AuditedUnit, AuditEntry, audited_read, audited_unit
from openvbc.services.identity import SessionInfo, resolve_session

SESSION_COOKIE = "openvbc_session"
LOGIN_CSRF_COOKIE = "openvbc_login_csrf"


class SignInRequired(NotAuthenticated):
    """No live session: the page answers with a redirect to the sign-in form."""


class CsrfFailure(Exception):
    """A form came back without the right token."""


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def page_session(request: Request) -> SessionInfo:
    """The signed-in session of a page request (idle sessions have ended: ONC (d)(5))."""
    token = request.cookies.get(SESSION_COOKIE)
    settings = request.app.state.settings
    info = None
    if token:
        info = resolve_session(
            engine_of(request), token, now=settings.clock(), idle_timeout=settings.idle_timeout
        )
    if info is None:
        raise SignInRequired("sign in first")
    return info


def check_csrf(expected: str, given: str | None) -> None:
    if not given or not hmac.compare_digest(expected, given):
        raise CsrfFailure("the form has expired; reload the page and try again")


def set_cookie(
    response: Response, request: Request, name: str, value: str, *, max_age: int | None = None
) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.secure_cookies,
        path="/",
        max_age=max_age,
    )


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


@contextmanager
def audited_page(
    request: Request, actor: Actor, *, action: str, resource_type: str, resource_id: str | None = None
) -> Iterator[AuditedUnit]:
    """Page work and its audit record in one transaction (see services.audit)."""
    entry = AuditEntry(
        **actor.audit_fields(),
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        detail=f"page {request.method} {request.url.path}",
        request_id=getattr(request.state, "request_id", None),
        source_ip=request.client.host if request.client else None,
    )
    clock = request.app.state.settings.clock
    writer = getattr(request.app.state, "audit_writer", None)
    if action in READ_ACTIONS and writer is not None:
        with audited_read(engine_of(request), entry, writer, clock=clock, failure_outcome=_classify) as unit:
            yield unit
        return
    with audited_unit(engine_of(request), entry, clock=clock, failure_outcome=_classify) as unit:
        yield unit


def _classify(error: BaseException) -> tuple[str, str] | None:
    from openvbc.services.access import AccessDenied, NotFound

    if isinstance(error, AccessDenied):
        return "denied", str(error)
    if isinstance(error, NotFound):
        return "failure", "not found"
    return "failure", type(error).__name__
