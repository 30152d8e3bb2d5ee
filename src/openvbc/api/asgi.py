"""ASGI entry for ``uvicorn --factory openvbc.api.asgi:build_app`` (multi-worker serving).

Each worker process builds its own app from the environment-backed settings of
``openvbc.config`` (the database URL); web-only settings take their production defaults.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from openvbc.api.app import create_app
from openvbc.api.settings import WebSettings
from openvbc.config import load_settings


def build_app() -> FastAPI:
    settings = load_settings()
    return create_app(WebSettings(database_url=settings.database_url, export_dir=Path("exports").resolve()))
