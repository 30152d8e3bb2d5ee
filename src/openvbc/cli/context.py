"""Shared state and output helpers for every command."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

import typer
from rich.console import Console

from openvbc.config import Settings, load_settings
from openvbc.domain.errors import InvalidInput, UserError

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    database_url: str | None
    json_output: bool

    def settings(self) -> Settings:
        return load_settings(self.database_url)


def state_of(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        return CliState(database_url=None, json_output=False)
    return obj


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def fail_with(error: UserError) -> NoReturn:
    """Print a user error without a traceback and exit 2."""
    if isinstance(error, InvalidInput) and "--json" in sys.argv:
        emit_json({"ok": False, "issues": [issue.as_dict() for issue in error.issues]})
    else:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False, markup=True)
    sys.exit(2)
