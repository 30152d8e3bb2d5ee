"""A live server (uvicorn in a thread on a free loopback port) over the two-tenant world."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import Engine

from api.conftest import build_settings
from api.world import World, seed_world
from openvbc.api.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_configure(config: pytest.Config) -> None:
    # Registered here until pyproject.toml lists it (the shared file belongs to the lead).
    config.addinivalue_line("markers", "browser: drives Debian Chromium through Playwright")


def require_browser() -> None:
    if not Path(CHROMIUM).exists() and not os.environ.get("OPENVBC_REQUIRE_BROWSER"):
        pytest.skip("Debian chromium is not installed (set OPENVBC_REQUIRE_BROWSER to make this an error)")


@pytest.fixture
def live_world(sqlite_engine: Engine) -> World:
    return seed_world(sqlite_engine)


@pytest.fixture
def live_server(live_world: World, tmp_path: Path) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(build_settings(live_world.engine, live_world, tmp_path / "exports"), live_world.engine)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def artefacts() -> Path:
    folder = Path(__file__).resolve().parents[2] / "test-artefacts" / "web"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
