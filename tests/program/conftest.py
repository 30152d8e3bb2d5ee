"""Backends for the program-year tests: DuckDB always, PostgreSQL and PySpark when marked."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openvbc.domain.contract import ProgramContract
from openvbc.rules.loader import parse_program_contract

CONTRACT_FILE = Path(__file__).resolve().parents[1] / "data" / "program" / "test-contract.yaml"


@pytest.fixture(scope="session")
def test_contract() -> ProgramContract:
    return parse_program_contract(
        CONTRACT_FILE.read_text(encoding="utf-8"), "tests/data/program/test-contract.yaml"
    )


@pytest.fixture(scope="module")
def postgres_ibis() -> Iterator[Any]:
    import ibis
    import psycopg

    if os.environ.get("OPENVBC_SKIP_POSTGRES") == "1":
        pytest.skip("OPENVBC_SKIP_POSTGRES=1")
    url = os.environ.get("OPENVBC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"openvbc_program_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(url, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    con = ibis.connect(urlunparse(urlparse(url)._replace(path=f"/{name}")))
    try:
        yield con
    finally:
        con.disconnect()
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(
    params=[
        "duckdb",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("spark", marks=[pytest.mark.spark, pytest.mark.slow]),
    ]
)
def engine_con(request: pytest.FixtureRequest) -> Any:
    """An Ibis backend: the same tests run on DuckDB, PostgreSQL and PySpark."""
    if request.param == "duckdb":
        from openvbc.engine.backends import connect_duckdb

        return connect_duckdb()
    if request.param == "postgres":
        return request.getfixturevalue("postgres_ibis")
    from openvbc.engine.backends import connect_spark

    return connect_spark()


def load_tables(con: Any, tables: dict[str, Any]) -> dict[str, Any]:
    """Arrow tables into the backend (temporary views on PySpark, see services.attribution.upload_arrow)."""
    from openvbc.services.attribution import upload_arrow

    return {name: upload_arrow(con, name, data) for name, data in tables.items()}
