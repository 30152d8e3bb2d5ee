"""Authentication: passwords (PBKDF2), TOTP (RFC 6238), lockout, idle time-out, API keys,
SMART backend-services tokens, and the audit of every attempt. (§7.3 S6, S7, S8.)"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.test_route_matrix import sign_in_cookies
from api.world import NOW, PASSWORD, PHARMACY_A, TOTP_SECRET, World
from openvbc.services import identity
from openvbc.store.tables import audit_event


def test_rfc6238_appendix_b_vectors() -> None:
    """RFC 6238 Appendix B, SHA-1, seed '12345678901234567890', 8 digits."""
    key = b"12345678901234567890"
    for unix_time, expected in (
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ):
        assert identity.compute_hotp(key, unix_time // 30, digits=8) == expected


def test_password_hash_is_pbkdf2_and_verifies() -> None:
    stored = identity.hash_password("s3cret-s3cret", iterations=1000)
    assert stored.startswith("pbkdf2_sha256$1000$")
    assert identity.verify_password("s3cret-s3cret", stored)
    assert not identity.verify_password("s3cret-s3creT", stored)
    assert not identity.verify_password("x", "garbage")


def test_no_plaintext_secrets_in_the_database_file(client: TestClient, world: World) -> None:
    raw = open(world.engine.url.database or "", "rb").read()  # noqa: SIM115
    for secret in (PASSWORD, *world.api_keys.values()):
        assert secret.encode() not in raw


def _login(client: TestClient, username: str, password: str = PASSWORD, code: str = "") -> int:
    client.cookies.clear()
    token = client.get("/login").text.split('name="login_csrf" value="')[1].split('"')[0]
    response = client.post(
        "/login",
        data={"username": username, "password": password, "login_csrf": token, "code": code},
        follow_redirects=False,
    )
    client.cookies.clear()
    return response.status_code


def test_admin_needs_a_fresh_totp_code(client: TestClient, world: World) -> None:
    assert _login(client, "admin") == 401
    code = identity.compute_totp(TOTP_SECRET, world.clock())
    assert _login(client, "admin", code=code) == 303
    assert _login(client, "admin", code=code) == 401  # the same step cannot be replayed


def test_lockout_after_repeated_failures(client: TestClient, world: World) -> None:
    for _ in range(identity.LOCKOUT_THRESHOLD):
        assert _login(client, "cm_c", password="wrong password!") == 401
    assert _login(client, "cm_c") == 401  # locked even with the right password
    world.advance(identity.LOCKOUT_DURATION + timedelta(seconds=1))
    assert _login(client, "cm_c") == 303
    with world.engine.connect() as connection:
        outcomes = (
            connection.execute(
                select(audit_event.c.outcome).where(
                    audit_event.c.action == "login", audit_event.c.resource_id == "cm_c"
                )
            )
            .scalars()
            .all()
        )
    assert outcomes.count("failure") == identity.LOCKOUT_THRESHOLD + 1 and outcomes[-1] == "success"


def test_unknown_users_are_audited_and_get_the_same_answer(client: TestClient, world: World) -> None:
    assert _login(client, "nobody") == 401
    with world.engine.connect() as connection:
        row = (
            connection.execute(select(audit_event).where(audit_event.c.actor_id == "nobody")).mappings().one()
        )
    assert (row["actor_kind"], row["outcome"]) == ("anonymous", "failure")


def test_idle_session_times_out_and_activity_extends_it(client: TestClient, world: World) -> None:
    cookies = sign_in_cookies(client, "pharm_a")
    for _ in range(3):
        world.advance(timedelta(minutes=14))
        assert client.get("/members", cookies=cookies, follow_redirects=False).status_code == 200
    world.advance(timedelta(minutes=15, seconds=31))
    answer = client.get("/members", cookies=cookies, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_session_cookie_flags_and_csrf(client: TestClient, world: World) -> None:
    client.cookies.clear()
    token = client.get("/login").text.split('name="login_csrf" value="')[1].split('"')[0]
    answer = client.post(
        "/login",
        data={"username": "pharm_a", "password": PASSWORD, "login_csrf": token},
        follow_redirects=False,
    )
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert (
        client.post(
            "/login",
            data={"username": "pharm_a", "password": PASSWORD, "login_csrf": "forged"},
            cookies={"openvbc_login_csrf": "other"},
            follow_redirects=False,
        ).status_code
        == 403
    )
    session = {"openvbc_session": answer.cookies["openvbc_session"]}
    client.cookies.clear()
    assert (
        client.post(
            "/logout", data={"csrf_token": "forged"}, cookies=session, follow_redirects=False
        ).status_code
        == 403
    )
    page = client.get("/members", cookies=session)
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    out = client.post("/logout", data={"csrf_token": csrf}, cookies=session, follow_redirects=False)
    assert out.status_code == 303 and "storage" in out.headers["clear-site-data"]
    assert client.get("/members", cookies=session, follow_redirects=False).status_code == 303


def _smart_client(world: World, scopes: str) -> tuple[str, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP384R1())
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    client_id = f"smart-{uuid.uuid4().hex[:8]}"
    with world.engine.begin() as connection:
        identity.register_smart_client(
            connection,
            client_id=client_id,
            name="EHR",
            role="pharmacy_staff",
            org_npi=PHARMACY_A,
            public_key_pem=pem,
            scopes=scopes,
            by=None,
            now=world.clock(),
        )
    return client_id, key


def _assertion(
    client_id: str,
    key: ec.EllipticCurvePrivateKey,
    jti: str | None = None,
    aud: str | None = None,
    now: datetime = NOW,
) -> str:
    stamp = int(now.replace(tzinfo=UTC).timestamp())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud or "http://testserver/auth/token",
        "exp": stamp + 240,
        "jti": jti or uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm="ES384")


def _token(client: TestClient, assertion: str, scope: str) -> tuple[int, dict[str, object]]:
    answer = client.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "scope": scope,
            "client_assertion": assertion,
            "client_assertion_type": identity.CLIENT_ASSERTION_TYPE,
        },
    )
    return answer.status_code, answer.json()


def test_smart_backend_services_token_and_scopes(client: TestClient, world: World) -> None:
    client_id, key = _smart_client(world, "system/Patient.rs system/Group.rs")
    status, body = _token(client, _assertion(client_id, key), "system/Patient.rs system/Observation.rs")
    assert status == 200 and body["scope"] == "system/Patient.rs"
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/fhir/Patient/A1", headers=bearer).status_code == 200
    assert client.get("/fhir/Patient/B1", headers=bearer).status_code == 404  # org scoping still applies
    denied = client.get("/fhir/Observation?patient=A1", headers=bearer)
    assert denied.status_code == 403 and denied.json()["resourceType"] == "OperationOutcome"
    world.advance(timedelta(minutes=6))
    assert client.get("/fhir/Patient/A1", headers=bearer).status_code == 401


def test_smart_assertions_are_single_use_and_bound_to_the_token_url(client: TestClient, world: World) -> None:
    client_id, key = _smart_client(world, "system/*.rs")
    assertion = _assertion(client_id, key, jti="once")
    assert _token(client, assertion, "system/*.rs")[0] == 200
    status, body = _token(client, assertion, "system/*.rs")
    assert status == 401 and body["error"] == "invalid_client"
    assert _token(client, _assertion(client_id, key, aud="https://elsewhere/token"), "system/*.rs")[0] == 401
    other_key = ec.generate_private_key(ec.SECP384R1())
    assert _token(client, _assertion(client_id, other_key), "system/*.rs")[0] == 401
    assert _token(client, _assertion(client_id, key), "user/*.cruds")[0] == 400
    with world.engine.connect() as connection:
        failures = (
            connection.execute(
                select(audit_event.c.outcome).where(
                    audit_event.c.resource_type == "access_token", audit_event.c.outcome == "failure"
                )
            )
            .scalars()
            .all()
        )
    assert len(failures) == 4


def test_privilege_change_is_audited_and_ends_sessions(client: TestClient, world: World) -> None:
    cookies = sign_in_cookies(client, "reg_c")
    admin = {"X-API-Key": world.api_keys["admin"]}
    changed = client.put("/api/users/reg_c/role", json={"role": "plan_analyst"}, headers=admin)
    assert changed.status_code == 200 and changed.json()["role"] == "plan_analyst"
    assert client.get("/members", cookies=cookies, follow_redirects=False).status_code == 303
    refused = client.put(
        "/api/users/reg_c/role", json={"role": "plan_admin"}, headers={"X-API-Key": world.api_keys["pharm_a"]}
    )
    assert refused.status_code == 403
    with world.engine.connect() as connection:
        rows = connection.execute(
            select(audit_event.c.actor_id, audit_event.c.outcome).where(audit_event.c.action == "privilege")
        ).all()
    assert ("key-admin", "success") in rows and ("key-pharm_a", "denied") in rows


def test_unused_base64_import_guard() -> None:
    assert base64.b32decode(TOTP_SECRET)
