"""One generated plan shared by the synth tests (20,000 members: a few seconds on 2 cores)."""

from __future__ import annotations

import pytest

from openvbc.synth.generator import generate_plan

from .generated import MEMBERS, YEAR, GeneratedPlan


@pytest.fixture(scope="session")
def plan(tmp_path_factory: pytest.TempPathFactory) -> GeneratedPlan:
    folder = tmp_path_factory.mktemp("synth_plan")
    manifest = generate_plan(folder, MEMBERS, seed=2024, year=YEAR, chunk_size=10_000)
    return GeneratedPlan(folder, manifest)
