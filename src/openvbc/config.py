"""Run-time settings: the only place that reads the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///openvbc.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL


def load_settings(database_url: str | None = None) -> Settings:
    """Settings from an explicit value, else ``OPENVBC_DATABASE_URL``, else the embedded default."""
    url = database_url or os.environ.get("OPENVBC_DATABASE_URL") or DEFAULT_DATABASE_URL
    return Settings(database_url=normalize_database_url(url))


def normalize_database_url(url: str) -> str:
    """Accept the common ``postgres://`` and ``postgresql://`` spellings and use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url
