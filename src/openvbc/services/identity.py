"""People and machine clients: passwords, second factor, sessions, API keys, SMART tokens.

- Passwords: PBKDF2-HMAC-SHA256 (NIST SP 800-132; FIPS 140 approved, which ONC
  170.315(d)(12) asks for), 600,000 iterations by default (OWASP Password Storage Cheat
  Sheet, 2023 figure for PBKDF2-HMAC-SHA256). The iteration count is stored with each hash,
  so raising it later leaves old hashes verifiable.
- Second factor: TOTP, RFC 6238 (HMAC-SHA1, 30-second steps, 6 digits), one step of clock
  drift either way; a step once accepted is refused again (no replay).
- Sessions, API keys and bearer tokens are random 256-bit secrets; only their SHA-256 is
  stored, so a copy of the database does not let anyone in.
- SMART Backend Services (SMART App Launch 2.x, "client-confidential-asymmetric"): the client
  signs a JWT (RS384 or ES384) with iss = sub = client_id, aud = the token URL, exp at most
  five minutes ahead and a single-use jti; the answer is a short-lived bearer token carrying
  the granted ``system/*`` scopes.

Every sign-in (failed too), sign-out and privilege change writes an audit record.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from openvbc.domain.errors import UserError
from openvbc.services.access import MFA_ROLES, ROLE_ORG_KIND, ROLES, Actor, NotAuthenticated
from openvbc.services.audit import AuditEntry, append_audit
from openvbc.store.tables import access_token, api_client, app_session, app_user, client_assertion

PRODUCTION_PBKDF2_ITERATIONS = 600_000
TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
LOCKOUT_THRESHOLD = 5
LOCKOUT_DURATION = timedelta(minutes=15)
# Writing last_seen on every request would make every page view a write; a session's
# idle clock is therefore refreshed at most this often (the time-out is that much coarser).
SESSION_TOUCH_INTERVAL = timedelta(seconds=30)
ASSERTION_ALGORITHMS = ["RS384", "ES384"]
ASSERTION_MAX_LIFETIME = timedelta(minutes=5)
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


# --- secrets --------------------------------------------------------------------------------


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def hash_password(password: str, *, iterations: int = PRODUCTION_PBKDF2_ITERATIONS) -> str:
    """``pbkdf2_sha256$<iterations>$<salt b64>$<digest b64>`` with a 16-byte random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"pbkdf2_sha256${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time comparison against a stored hash; malformed hashes never match."""
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.pbkdf2_hmac(
            "sha256", password.encode("utf-8"), base64.b64decode(salt), int(iterations)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected, actual)


# --- TOTP (RFC 6238 over RFC 4226 HOTP) ----------------------------------------------------


def generate_totp_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def compute_hotp(key: bytes, counter: int, digits: int = TOTP_DIGITS) -> str:
    """RFC 4226 §5.3: HMAC-SHA1 of the 8-byte counter, dynamic truncation, modulo 10^digits."""
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(code % 10**digits).zfill(digits)


def totp_step(at: datetime) -> int:
    # Stored and injected times are naive UTC; say so, or timestamp() would assume local time.
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return int(aware.timestamp()) // TOTP_STEP_SECONDS


def compute_totp(secret_b32: str, at: datetime) -> str:
    return compute_hotp(base64.b32decode(secret_b32), totp_step(at))


def match_totp(secret_b32: str, code: str, at: datetime, last_step: int | None) -> int | None:
    """The step a code belongs to (now ± 1 step), or None; steps at or before ``last_step``
    are refused so an observed code cannot be replayed."""
    code = code.strip()
    if not code.isdigit():
        return None
    key = base64.b32decode(secret_b32)
    now_step = totp_step(at)
    for step in (now_step - 1, now_step, now_step + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(compute_hotp(key, step), code):
            return step
    return None


# --- people ----------------------------------------------------------------------------------


def _check_role(role: str, org_npi: str | None) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    org_kind = ROLE_ORG_KIND[role]
    if org_kind != "plan" and not org_npi:
        raise UserError(f"role {role} works for a {org_kind}: give its NPI")
    return org_kind


def create_user(
    connection: Connection,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    org_npi: str | None = None,
    totp_secret: str | None = None,
    iterations: int = PRODUCTION_PBKDF2_ITERATIONS,
    by: Actor | None = None,
    now: datetime,
) -> int:
    """Add a person; the grant of a role is a privilege change and is audited."""
    org_kind = _check_role(role, org_npi)
    if len(password) < 12:
        raise UserError("passwords must have at least 12 characters")
    if role in MFA_ROLES and not totp_secret:
        raise UserError(f"role {role} requires a second factor: give a TOTP secret")
    try:
        inserted = connection.execute(
            app_user.insert().values(
                username=username,
                display_name=display_name,
                role=role,
                org_kind=org_kind,
                org_npi=org_npi if org_kind != "plan" else None,
                password_hash=hash_password(password, iterations=iterations),
                totp_secret=totp_secret,
                failed_logins=0,
                active=True,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key
    except IntegrityError:
        raise UserError(f"user {username} already exists") from None
    assert inserted is not None
    user_id = inserted[0]
    _audit_privilege(connection, by, username, f"created with role {role} at {org_npi or 'plan'}", now)
    return int(user_id)


def change_role(
    connection: Connection, *, username: str, role: str, org_npi: str | None, by: Actor | None, now: datetime
) -> None:
    """Move a person to another role or organisation (audited); their sessions end."""
    org_kind = _check_role(role, org_npi)
    found = connection.execute(
        select(app_user.c.app_user_id, app_user.c.role, app_user.c.org_npi).where(
            app_user.c.username == username
        )
    ).first()
    if found is None:
        raise UserError(f"no user {username}")
    connection.execute(
        update(app_user)
        .where(app_user.c.app_user_id == found[0])
        .values(role=role, org_kind=org_kind, org_npi=org_npi if org_kind != "plan" else None, updated_at=now)
    )
    connection.execute(
        update(app_session)
        .where(app_session.c.app_user_id == found[0], app_session.c.ended_at.is_(None))
        .values(ended_at=now)
    )
    _audit_privilege(
        connection, by, username, f"role {found[1]}@{found[2] or 'plan'} -> {role}@{org_npi or 'plan'}", now
    )


def set_user_active(
    connection: Connection, *, username: str, active: bool, by: Actor | None, now: datetime
) -> None:
    found = connection.execute(select(app_user.c.app_user_id).where(app_user.c.username == username)).first()
    if found is None:
        raise UserError(f"no user {username}")
    connection.execute(
        update(app_user).where(app_user.c.app_user_id == found[0]).values(active=active, updated_at=now)
    )
    if not active:
        connection.execute(
            update(app_session)
            .where(app_session.c.app_user_id == found[0], app_session.c.ended_at.is_(None))
            .values(ended_at=now)
        )
    _audit_privilege(connection, by, username, "activated" if active else "deactivated", now)


def _audit_privilege(
    connection: Connection, by: Actor | None, username: str, detail: str, now: datetime
) -> None:
    fields = by.audit_fields() if by else {"actor_kind": "system", "actor_id": "cli"}
    append_audit(
        connection,
        AuditEntry(
            **fields, action="privilege", resource_type="app_user", resource_id=username, detail=detail
        ),
        now=now,
    )


def list_users(connection: Connection) -> list[dict[str, Any]]:
    columns = [
        app_user.c[name] for name in ("username", "display_name", "role", "org_kind", "org_npi", "active")
    ]
    return [
        dict(row) for row in connection.execute(select(*columns).order_by(app_user.c.username)).mappings()
    ]


@dataclass(frozen=True)
class SignIn:
    """A new session: the cookie value and the CSRF token of its forms."""

    token: str
    csrf_token: str
    actor: Actor


def sign_in(
    engine: Engine,
    *,
    username: str,
    password: str,
    totp_code: str | None,
    now: datetime,
    source_ip: str | None = None,
) -> SignIn:
    """Check password (and TOTP for MFA roles), open a session; every attempt is audited.

    Failures give one message whatever the cause, so sign-in reveals nothing about which
    accounts exist; after LOCKOUT_THRESHOLD failures the account waits LOCKOUT_DURATION.
    """
    with engine.begin() as connection:
        row = connection.execute(select(app_user).where(app_user.c.username == username)).mappings().first()
        reason = _refusal(row, password, totp_code, now)
        base: dict[str, Any] = {
            "action": "login",
            "resource_type": "session",
            "resource_id": username,
            "source_ip": source_ip,
        }
        if reason is not None:
            if row is not None:
                failures = int(row["failed_logins"]) + 1
                values: dict[str, Any] = {"failed_logins": failures}
                if failures >= LOCKOUT_THRESHOLD:
                    values["locked_until"] = now + LOCKOUT_DURATION
                    values["failed_logins"] = 0
                connection.execute(
                    update(app_user).where(app_user.c.app_user_id == row["app_user_id"]).values(**values)
                )
            who: dict[str, Any] = {"actor_kind": "anonymous", "actor_id": username[:64]}
            if row is not None:
                who.update(actor_kind="user", role=row["role"], org_npi=row["org_npi"])
            append_audit(connection, AuditEntry(**who, **base, outcome="failure", detail=reason), now=now)
            outcome: SignIn | None = None
        else:
            assert row is not None
            actor = actor_of_user(row)
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            connection.execute(
                app_session.insert().values(
                    token_sha256=sha256_hex(token),
                    app_user_id=row["app_user_id"],
                    csrf_token=csrf,
                    mfa_passed=row["role"] in MFA_ROLES,
                    created_at=now,
                    last_seen_at=now,
                )
            )
            connection.execute(
                update(app_user)
                .where(app_user.c.app_user_id == row["app_user_id"])
                .values(
                    failed_logins=0, locked_until=None, totp_last_step=_accepted_step(row, totp_code, now)
                )
            )
            append_audit(connection, AuditEntry(**actor.audit_fields(), **base), now=now)
            outcome = SignIn(token, csrf, actor)
    if outcome is None:
        raise NotAuthenticated("unknown user name, wrong password or wrong code")
    return outcome


def _accepted_step(row: Any, code: str | None, now: datetime) -> int | None:
    if row["role"] in MFA_ROLES and row["totp_secret"] and code:
        return match_totp(row["totp_secret"], code, now, row["totp_last_step"])
    return row["totp_last_step"]  # type: ignore[no-any-return]


def _refusal(row: Any, password: str, code: str | None, now: datetime) -> str | None:
    if row is None:
        # Spend the same time as a real check so timing does not reveal unknown accounts.
        verify_password(password, hash_password("x", iterations=1000))
        return "unknown user"
    if not row["active"]:
        return "account inactive"
    if row["locked_until"] is not None and row["locked_until"] > now:
        return "account locked after repeated failures"
    if not verify_password(password, row["password_hash"]):
        return "wrong password"
    if row["role"] in MFA_ROLES:
        if not row["totp_secret"] or not code:
            return "second factor required"
        if match_totp(row["totp_secret"], code, now, row["totp_last_step"]) is None:
            return "wrong or reused second-factor code"
    return None


def actor_of_user(row: Any) -> Actor:
    return Actor("user", str(row["username"]), str(row["role"]), str(row["org_kind"]), row["org_npi"])


@dataclass(frozen=True)
class SessionInfo:
    actor: Actor
    csrf_token: str
    session_id: int


def resolve_session(
    engine: Engine, token: str, *, now: datetime, idle_timeout: timedelta
) -> SessionInfo | None:
    """The session of a cookie, or None when unknown, ended or idle too long (which ends it:
    ONC 170.315(d)(5) automatic access time-out)."""
    query = (
        select(app_session.c.app_session_id, app_session.c.csrf_token, app_session.c.last_seen_at, app_user)
        .join(app_user, app_user.c.app_user_id == app_session.c.app_user_id)
        .where(app_session.c.token_sha256 == sha256_hex(token), app_session.c.ended_at.is_(None))
    )
    with engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    if row is None or not row["active"]:
        return None
    idle = now - row["last_seen_at"]
    if idle > idle_timeout:
        with engine.begin() as connection:
            connection.execute(
                update(app_session)
                .where(app_session.c.app_session_id == row["app_session_id"])
                .values(ended_at=now)
            )
        return None
    if idle > SESSION_TOUCH_INTERVAL:
        with engine.begin() as connection:
            connection.execute(
                update(app_session)
                .where(app_session.c.app_session_id == row["app_session_id"])
                .values(last_seen_at=now)
            )
    return SessionInfo(actor_of_user(row), str(row["csrf_token"]), int(row["app_session_id"]))


def sign_out(engine: Engine, token: str, *, now: datetime, source_ip: str | None = None) -> None:
    """End the session and record the sign-out."""
    with engine.begin() as connection:
        row = (
            connection.execute(
                select(app_session.c.app_session_id, app_user)
                .join(app_user, app_user.c.app_user_id == app_session.c.app_user_id)
                .where(app_session.c.token_sha256 == sha256_hex(token), app_session.c.ended_at.is_(None))
            )
            .mappings()
            .first()
        )
        if row is None:
            return
        connection.execute(
            update(app_session)
            .where(app_session.c.app_session_id == row["app_session_id"])
            .values(ended_at=now)
        )
        entry = AuditEntry(
            **actor_of_user(row).audit_fields(),
            action="logout",
            resource_type="session",
            resource_id=str(row["username"]),
            source_ip=source_ip,
        )
        append_audit(connection, entry, now=now)


# --- machine clients ------------------------------------------------------------------------------


def create_api_key(
    connection: Connection,
    *,
    client_id: str,
    name: str,
    role: str,
    org_npi: str | None,
    by: Actor | None,
    now: datetime,
) -> str:
    """Register an API-key client; returns the secret (shown once, stored only as a hash)."""
    org_kind = _check_role(role, org_npi)
    secret = f"ovk_{secrets.token_urlsafe(32)}"
    try:
        connection.execute(
            api_client.insert().values(
                client_id=client_id,
                auth_kind="api_key",
                name=name,
                role=role,
                org_kind=org_kind,
                org_npi=org_npi if org_kind != "plan" else None,
                key_sha256=sha256_hex(secret),
                scopes="system/*.cruds",
                active=True,
                created_at=now,
            )
        )
    except IntegrityError:
        raise UserError(f"client {client_id} already exists") from None
    _audit_privilege(
        connection, by, client_id, f"API key issued with role {role} at {org_npi or 'plan'}", now
    )
    return secret


def register_smart_client(
    connection: Connection,
    *,
    client_id: str,
    name: str,
    role: str,
    org_npi: str | None,
    public_key_pem: str,
    scopes: str,
    by: Actor | None,
    now: datetime,
) -> None:
    """Register a SMART backend-services client by its public key and allowed scopes."""
    org_kind = _check_role(role, org_npi)
    try:
        connection.execute(
            api_client.insert().values(
                client_id=client_id,
                auth_kind="smart",
                name=name,
                role=role,
                org_kind=org_kind,
                org_npi=org_npi if org_kind != "plan" else None,
                public_key_pem=public_key_pem,
                scopes=scopes,
                active=True,
                created_at=now,
            )
        )
    except IntegrityError:
        raise UserError(f"client {client_id} already exists") from None
    _audit_privilege(connection, by, client_id, f"SMART client registered: {scopes}", now)


def _actor_of_client(row: Any, scopes: frozenset[str] | None) -> Actor:
    return Actor(
        "client", str(row["client_id"]), str(row["role"]), str(row["org_kind"]), row["org_npi"], scopes
    )


def resolve_api_key(engine: Engine, secret: str) -> Actor | None:
    with engine.connect() as connection:
        row = (
            connection.execute(
                select(api_client).where(
                    api_client.c.key_sha256 == sha256_hex(secret),
                    api_client.c.auth_kind == "api_key",
                    api_client.c.active.is_(True),
                )
            )
            .mappings()
            .first()
        )
    return None if row is None else _actor_of_client(row, None)


def resolve_bearer_token(engine: Engine, token: str, *, now: datetime) -> Actor | None:
    with engine.connect() as connection:
        row = (
            connection.execute(
                select(access_token.c.scopes.label("granted"), access_token.c.expires_at, api_client)
                .join(api_client, api_client.c.api_client_id == access_token.c.api_client_id)
                .where(access_token.c.token_sha256 == sha256_hex(token), api_client.c.active.is_(True))
            )
            .mappings()
            .first()
        )
    if row is None or row["expires_at"] <= now:
        return None
    return _actor_of_client(row, frozenset(str(row["granted"]).split()))


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }


class InvalidClient(UserError):
    """OAuth ``invalid_client`` / ``invalid_grant`` / ``invalid_scope`` (RFC 6749 §5.2)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error


def issue_backend_token(
    engine: Engine,
    *,
    assertion: str,
    requested_scope: str,
    token_url: str,
    now: datetime,
    lifetime: timedelta = timedelta(minutes=5),
    source_ip: str | None = None,
) -> IssuedToken:
    """Verify a SMART client assertion and issue a bearer token; refusals are audited too."""
    try:
        return _issue_backend_token(
            engine,
            assertion=assertion,
            requested_scope=requested_scope,
            token_url=token_url,
            now=now,
            lifetime=lifetime,
        )
    except InvalidClient as error:
        with engine.begin() as connection:
            entry = AuditEntry(
                actor_kind="anonymous",
                actor_id=_claimed_issuer(assertion),
                action="login",
                resource_type="access_token",
                outcome="failure",
                detail=str(error),
                source_ip=source_ip,
            )
            append_audit(connection, entry, now=now)
        raise


def _claimed_issuer(assertion: str) -> str:
    try:
        return str(jwt.decode(assertion, options={"verify_signature": False}).get("iss", "?"))[:64]
    except jwt.PyJWTError:
        return "?"


def _issue_backend_token(
    engine: Engine,
    *,
    assertion: str,
    requested_scope: str,
    token_url: str,
    now: datetime,
    lifetime: timedelta = timedelta(minutes=5),
) -> IssuedToken:
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
        client_id = str(unverified.get("iss", ""))
    except jwt.PyJWTError as error:
        raise InvalidClient("invalid_client", f"client assertion is not a JWT: {error}") from None
    with engine.begin() as connection:
        row = (
            connection.execute(
                select(api_client).where(
                    api_client.c.client_id == client_id,
                    api_client.c.auth_kind == "smart",
                    api_client.c.active.is_(True),
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise InvalidClient("invalid_client", "unknown client")
        try:
            claims = jwt.decode(
                assertion,
                row["public_key_pem"],
                algorithms=ASSERTION_ALGORITHMS,
                audience=token_url,
                issuer=client_id,
                options={"require": ["exp", "iss", "sub", "aud", "jti"], "verify_exp": False},
            )
        except jwt.PyJWTError as error:
            raise InvalidClient("invalid_client", f"client assertion rejected: {error}") from None
        expires = datetime.fromtimestamp(int(claims["exp"]), tz=UTC).replace(tzinfo=None)
        # Expiry is judged by the injected clock (not the library's), like every other time rule here.
        if expires <= now:
            raise InvalidClient("invalid_client", "client assertion has expired")
        if claims["sub"] != client_id or expires - now > ASSERTION_MAX_LIFETIME:
            raise InvalidClient("invalid_client", "sub must equal iss and exp be at most 5 minutes ahead")
        try:
            with connection.begin_nested():
                connection.execute(
                    client_assertion.insert().values(
                        api_client_id=row["api_client_id"], jti=str(claims["jti"])[:200], expires_at=expires
                    )
                )
        except IntegrityError:
            raise InvalidClient("invalid_client", "client assertion jti was already used") from None
        registered = set(str(row["scopes"]).split())
        granted = [scope for scope in requested_scope.split() if scope in registered]
        if not granted:
            raise InvalidClient("invalid_scope", "none of the requested scopes is registered for this client")
        token = secrets.token_urlsafe(32)
        connection.execute(
            access_token.insert().values(
                token_sha256=sha256_hex(token),
                api_client_id=row["api_client_id"],
                scopes=" ".join(granted),
                issued_at=now,
                expires_at=now + lifetime,
            )
        )
        actor = _actor_of_client(row, frozenset(granted))
        append_audit(
            connection,
            AuditEntry(
                **actor.audit_fields(),
                action="login",
                resource_type="access_token",
                resource_id=client_id,
                detail=" ".join(granted),
            ),
            now=now,
        )
    return IssuedToken(token, int(lifetime.total_seconds()), " ".join(granted))
