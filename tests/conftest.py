"""Shared fixtures: a migrated store on SQLite and on PostgreSQL, and one fixture over both.

PostgreSQL: a fresh database ``openvbc_test_<random>`` is created once per test session on
the server named by ``OPENVBC_TEST_POSTGRES_URL`` (default: local trust-auth postgres) and
dropped at the end; every test starts from empty tables. An unreachable server fails the
PostgreSQL tests (the test script guarantees a server) unless ``OPENVBC_SKIP_POSTGRES=1``.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError

from openvbc.config import normalize_database_url
from openvbc.store.database import open_engine
from openvbc.store.migrate import upgrade_schema
from openvbc.store.tables import metadata

DEFAULT_TEST_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file made once; each test gets a copy (migrating is the slow part)."""
    path = tmp_path_factory.mktemp("sqlite_template") / "openvbc.db"
    engine = open_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """A migrated SQLite store in a temporary file (WAL, busy timeout as in production)."""
    path = tmp_path / "openvbc.db"
    shutil.copyfile(sqlite_template, path)
    engine = open_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_session_engine() -> Iterator[Engine]:
    """A migrated PostgreSQL database that lives for the whole test session."""
    if os.environ.get("OPENVBC_SKIP_POSTGRES") == "1":
        pytest.skip("OPENVBC_SKIP_POSTGRES=1")
    server_url = normalize_database_url(
        os.environ.get("OPENVBC_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL)
    )
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"openvbc_test_{uuid.uuid4().hex[:12]}"
    try:
        _create_database(admin, name)
    except OperationalError as error:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL at {make_url(server_url).render_as_string(hide_password=True)} is not reachable "
            f"({error.orig}); start it or set OPENVBC_SKIP_POSTGRES=1"
        )
    database_url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = open_engine(database_url)
    try:
        upgrade_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _create_database(admin: Engine, name: str) -> None:
    # CREATE DATABASE copies template1 and fails while another session (a parallel test run
    # of another engineer, say) is doing the same; that is worth a few retries.
    for attempt in range(10):
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            return
        except DBAPIError as error:
            if "being accessed by other users" not in str(error) or attempt == 9:
                raise
            time.sleep(0.5 + attempt * 0.5)


@pytest.fixture
def postgres_engine(postgres_session_engine: Engine) -> Engine:
    """The session's PostgreSQL store with every table emptied and ids restarted.

    DELETE plus sequence resets rather than TRUNCATE: on the small tables of a test it is
    several times faster (TRUNCATE rewrites every table's files).
    """
    with postgres_session_engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
        for table in metadata.sorted_tables:
            keys = list(table.primary_key.columns)
            if len(keys) == 1 and keys[0].autoincrement in (True, "auto"):
                connection.execute(
                    text("SELECT setval(pg_get_serial_sequence(:t, :c), 1, false)"),
                    {"t": table.name, "c": keys[0].name},
                )
    return postgres_session_engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on both stores."""
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return engine


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect ``slow`` tests unless ``-m`` names ``slow`` or OPENVBC_SLOW_TESTS=1.

    Slow tests repeat, at larger size or on a second backend, what a default test already
    proves (for example the full eCQM decks on Spark, where the default run uses a subset).
    """
    if "slow" in str(config.getoption("markexpr") or "") or os.environ.get("OPENVBC_SLOW_TESTS") == "1":
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item not in slow]
