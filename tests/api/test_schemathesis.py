"""Schemathesis over the published OpenAPI: no generated request makes the server fail (§7.2 F5).

Bounded examples per operation keep the default suite fast; raise OPENVBC_SCHEMATHESIS_EXAMPLES
for a long run. Requests carry the plan administrator's API key so they reach the handlers.
The app is built at import (schemathesis parametrizes at collection) over its own temporary
migrated store."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from api.conftest import build_settings
from api.world import seed_world
from openvbc.api.app import create_app
from openvbc.store.database import open_engine
from openvbc.store.migrate import upgrade_schema

EXAMPLES = int(os.environ.get("OPENVBC_SCHEMATHESIS_EXAMPLES", "8"))

_folder = Path(tempfile.mkdtemp(prefix="openvbc-schemathesis-"))
_engine = open_engine(f"sqlite:///{_folder / 'openvbc.db'}")
upgrade_schema(_engine)
_world = seed_world(_engine)
_app = create_app(build_settings(_engine, _world, _folder / "exports"), _engine)
schema = schemathesis.openapi.from_asgi("/api/openapi.json", _app)


@pytest.fixture(scope="module", autouse=True)
def _program_year_computed() -> None:
    # Program routes answer 503 (transient) while the year is first computed; wait for it once.
    assert _app.state.program_views.wait(timeout=300) is not None


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call(headers={"X-API-Key": _world.api_keys["admin"]})
    case.validate_response(response, checks=[not_a_server_error])
