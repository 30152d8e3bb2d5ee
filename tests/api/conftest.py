"""Fixtures: the two-tenant world on a migrated store, the app, and signed-in callers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.world import World, seed_world
from openvbc.api.app import create_app
from openvbc.api.settings import WebSettings


def build_settings(engine: Engine, world: World, export_dir: Path) -> WebSettings:
    return WebSettings(
        database_url=str(engine.url),
        export_dir=export_dir,
        password_iterations=1000,
        secure_cookies=False,
        clock=world.clock,
        today=world.clock,
    )


@pytest.fixture
def world(sqlite_engine: Engine) -> World:
    return seed_world(sqlite_engine)


@pytest.fixture
def client(world: World, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(build_settings(world.engine, world, tmp_path / "exports"), world.engine)
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def key_headers(world: World, username: str) -> dict[str, str]:
    return {"X-API-Key": world.api_keys[username]}
