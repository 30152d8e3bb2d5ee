"""The application factory: one FastAPI app with the REST API, the FHIR API and the pages."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openvbc.api import routes_admin, routes_auth, routes_members, routes_program, routes_uploads
from openvbc.api.deps import as_api_error
from openvbc.api.fhir import routes_export, routes_fhir, routes_measures
from openvbc.api.outcomes import FHIR_JSON, ApiError, operation_outcome
from openvbc.api.settings import WebSettings
from openvbc.domain.errors import UserError
from openvbc.services.audit import AuditGroupWriter
from openvbc.services.web_views import ProgramViews
from openvbc.store.database import open_engine
from openvbc.web import STATIC_DIR
from openvbc.web.pages import build_page_router, render_error_page

API_PREFIXES = ("/api/", "/fhir", "/auth/", "/.well-known/")
# Scripts only from our own origin, and no eval: charts use vega-interpreter (VENDORED.md).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)

STATUS_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    412: "multiple-matches",
    413: "too-long",
    415: "not-supported",
    422: "processing",
}


class SecurityHeaders:
    """Headers every answer carries; ``no-store`` on everything but static files, so neither
    member pages nor API answers stay in a browser or proxy cache (ONC 170.315(d)(7))."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        is_static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = [
                    (b"x-request-id", request_id.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                ]
                if not is_static and b"cache-control" not in names:
                    extra += [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
                if self.hsts:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")[:64]
            return text if text.replace("-", "").isalnum() else None
    return None


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def error_response(request: Request, error: ApiError) -> Response:
    if not is_api_path(request.url.path):
        return render_error_page(request, error.status, error.text)
    media = FHIR_JSON if request.url.path.startswith("/fhir") else "application/json"
    return JSONResponse(
        operation_outcome(error), status_code=error.status, headers=error.headers, media_type=media
    )


def create_app(settings: WebSettings, engine: Engine | None = None) -> FastAPI:
    """Build the service over a migrated store (``openvbc db upgrade`` first)."""
    app = FastAPI(
        title="openvbc",
        version="0.1.0",
        description="REST API of openvbc's own objects and FHIR R4 endpoints. Errors are OperationOutcome.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine or open_engine(settings.database_url)
    Path(settings.export_dir).mkdir(parents=True, exist_ok=True)
    app.state.audit_writer = (
        AuditGroupWriter(app.state.engine, clock=settings.clock) if settings.audit_group_commit else None
    )
    app.state.program_views = (
        ProgramViews(
            app.state.engine,
            settings.program_id,
            today=lambda: settings.today().date(),
            now=settings.clock,
            year=settings.program_year,
        )
        if settings.program_id
        else None
    )

    async def handle_api_error(request: Request, error: Exception) -> Response:
        return error_response(request, as_api_error(error))

    async def handle_validation(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        expressions = [".".join(str(part) for part in item.get("loc", ())) for item in error.errors()]
        text = "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', ()))}: {item.get('msg')}" for item in error.errors()
        )
        return error_response(request, ApiError("invalid", text[:1000] or "invalid request", expressions))

    async def handle_http(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        code = STATUS_CODES.get(error.status_code, "exception" if error.status_code >= 500 else "invalid")
        api_error = ApiError(code, str(error.detail), headers=dict(error.headers or {}))
        if api_error.status != error.status_code:
            body: dict[str, Any] = operation_outcome(api_error)
            if not is_api_path(request.url.path):
                return render_error_page(request, error.status_code, str(error.detail))
            return JSONResponse(body, status_code=error.status_code, headers=error.headers)
        return error_response(request, api_error)

    async def handle_unexpected(request: Request, error: Exception) -> Response:
        return error_response(request, ApiError("exception", "internal error"))

    app.add_exception_handler(ApiError, handle_api_error)
    app.add_exception_handler(UserError, handle_api_error)
    app.add_exception_handler(RequestValidationError, handle_validation)
    app.add_exception_handler(StarletteHTTPException, handle_http)
    app.add_exception_handler(Exception, handle_unexpected)

    app.include_router(routes_auth.router)
    app.include_router(routes_members.router)
    app.include_router(routes_uploads.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_program.router)
    app.include_router(routes_fhir.router)
    app.include_router(routes_export.router)
    app.include_router(routes_measures.router)
    app.include_router(build_page_router())
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(SecurityHeaders, hsts=settings.secure_cookies)
    return app
