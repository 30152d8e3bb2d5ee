"""`openvbc measures` (filled in by its capability)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Register the commands of this noun."""
