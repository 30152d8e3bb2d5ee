"""Settings of the web service, passed in by the shell (``openvbc serve``) or by tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openvbc.services.identity import PRODUCTION_PBKDF2_ITERATIONS


def utc_now() -> datetime:
    """Naive UTC, the form every timestamp column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class WebSettings:
    database_url: str
    export_dir: Path
    # Lower only in tests: each sign-in costs one PBKDF2 derivation at this count.
    password_iterations: int = PRODUCTION_PBKDF2_ITERATIONS
    idle_timeout: timedelta = timedelta(minutes=15)  # ONC 170.315(d)(5)
    token_lifetime: timedelta = timedelta(minutes=5)
    # Secure cookies need HTTPS; on loopback development they would never be sent back.
    secure_cookies: bool = True
    public_base_url: str | None = None  # e.g. https://vbc.example.org; None = from the request
    clock: Callable[[], datetime] = field(default=utc_now)
    today: Callable[[], datetime] = field(default=utc_now)
    # The program year the pharmacy, analyst and measure pages show (rules/programs/<id>/<year>.yaml);
    # None = no program pages (the year defaults to today's).
    program_id: str | None = "pie"
    program_year: int | None = None
    # Group-commit the audit records of reads (services.audit.AuditGroupWriter); False = one
    # transaction per read with its record (the behaviour measured as "before" in benchmarks.md).
    audit_group_commit: bool = True
