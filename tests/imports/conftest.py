"""Fixtures for the import tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from import_helpers import PACKAGE


@pytest.fixture
def package_dir(tmp_path: Path) -> Path:
    """A copy of tests/data/imports/package that a test may edit."""
    target = tmp_path / "package"
    shutil.copytree(PACKAGE, target)
    return target
