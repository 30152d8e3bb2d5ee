"""Use cases that manage the store itself."""

from __future__ import annotations

from sqlalchemy import Engine

from openvbc.config import Settings
from openvbc.store.database import open_engine
from openvbc.store.migrate import read_current_revision, read_head_revision, upgrade_schema


def open_store(settings: Settings, *, upgrade: bool = True) -> Engine:
    """Open the configured store, migrating it to the newest schema unless told not to."""
    engine = open_engine(settings.database_url)
    if upgrade:
        upgrade_schema(engine)
    return engine


def upgrade_store(settings: Settings) -> dict[str, str | None]:
    engine = open_engine(settings.database_url)
    before = read_current_revision(engine)
    upgrade_schema(engine)
    return {"before": before, "after": read_current_revision(engine), "head": read_head_revision()}


def describe_store(settings: Settings) -> dict[str, str | None]:
    engine = open_engine(settings.database_url)
    return {"current": read_current_revision(engine), "head": read_head_revision()}
