"""Machine sign-in: SMART Backend Services token endpoint and its discovery document.

SMART App Launch 2.x, "Backend Services": POST form with ``grant_type=client_credentials``,
``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``,
``client_assertion`` (a JWT signed with the client's registered key) and ``scope``.
Errors follow RFC 6749 §5.2 (``{"error": "invalid_client", ...}``, HTTP 400/401).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from openvbc.api.deps import ActorDep, client_ip_of, engine_of, settings_of
from openvbc.services.identity import CLIENT_ASSERTION_TYPE, InvalidClient, issue_backend_token

router = APIRouter(tags=["auth"])


def token_url_of(request: Request) -> str:
    base = settings_of(request).public_base_url or str(request.base_url).rstrip("/")
    return f"{base.rstrip('/')}/auth/token"


class TokenAnswer(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


class OAuthError(BaseModel):
    error: str
    error_description: str


@router.post(
    "/auth/token",
    response_model=TokenAnswer,
    responses={400: {"model": OAuthError}, 401: {"model": OAuthError}},
)
def issue_token(
    request: Request,
    grant_type: Annotated[str, Form()],
    client_assertion_type: Annotated[str, Form()],
    client_assertion: Annotated[str, Form()],
    scope: Annotated[str, Form()] = "",
) -> Any:
    """Exchange a signed client assertion for a short-lived bearer token."""
    if grant_type != "client_credentials":
        return JSONResponse(
            {"error": "unsupported_grant_type", "error_description": "use client_credentials"},
            status_code=400,
        )
    if client_assertion_type != CLIENT_ASSERTION_TYPE:
        return JSONResponse(
            {"error": "invalid_request", "error_description": "unsupported client_assertion_type"},
            status_code=400,
        )
    settings = settings_of(request)
    try:
        issued = issue_backend_token(
            engine_of(request),
            assertion=client_assertion,
            requested_scope=scope,
            token_url=token_url_of(request),
            now=settings.clock(),
            lifetime=settings.token_lifetime,
            source_ip=client_ip_of(request),
        )
    except InvalidClient as error:
        status = 401 if error.error == "invalid_client" else 400
        return JSONResponse({"error": error.error, "error_description": str(error)}, status_code=status)
    return issued.as_dict()


@router.get("/.well-known/smart-configuration")
@router.get("/fhir/.well-known/smart-configuration", include_in_schema=False)
def smart_configuration(request: Request) -> dict[str, Any]:
    """Discovery document for SMART backend services (SMART App Launch 2.x §Conformance)."""
    return {
        "token_endpoint": token_url_of(request),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "scopes_supported": [
            "system/*.rs",
            "system/Patient.rs",
            "system/Observation.rs",
            "system/Observation.c",
            "system/Group.rs",
            "system/MeasureReport.rs",
        ],
        "capabilities": ["client-confidential-asymmetric"],
    }


class Me(BaseModel):
    kind: str
    id: str
    role: str
    org_kind: str
    org_npi: str | None
    scopes: list[str] | None


@router.get("/api/me", response_model=Me, tags=["rest"])
def read_me(actor: ActorDep) -> Me:
    """Who the credentials belong to."""
    return Me(
        kind=actor.kind,
        id=actor.id,
        role=actor.role,
        org_kind=actor.org_kind,
        org_npi=actor.org_npi,
        scopes=sorted(actor.scopes) if actor.scopes is not None else None,
    )
