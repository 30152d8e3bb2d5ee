"""ASGI entry for ``uvicorn --factory openvbc.api.asgi:build_app`` (multi-worker serving).

Each worker process builds its own app from the environment-backed settings of
``openvbc.config`` (the database URL); web-only settings take their production defaults.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from openvbc.api.app import create_app
from openvbc.api.settings import WebSettings
from openvbc.config import load_settings


def build_app() -> FastAPI:
    settings = load_settings()
    # OPENVBC_AUDIT_GROUP_COMMIT=0 turns the group-commit audit writer off (benchmark baseline).
    group = os.environ.get("OPENVBC_AUDIT_GROUP_COMMIT", "1") != "0"
    return create_app(
        WebSettings(
            database_url=settings.database_url,
            export_dir=Path("exports").resolve(),
            audit_group_commit=group,
        )
    )
