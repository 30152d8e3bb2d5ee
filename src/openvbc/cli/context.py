"""Shared state and output helpers for every command."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

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


def fail_with(error: UserError, *, json_output: bool | None = None) -> NoReturn:
    """Print a user error without a traceback and exit 2.

    Issue text contains ``[field]`` and similar brackets, which Rich would read as markup, so
    the message is escaped. ``json_output`` comes from the command's state; ``--json`` in argv
    is only the fallback for errors raised before the state exists.
    """
    as_json = ("--json" in sys.argv) if json_output is None else json_output
    if as_json:
        issues = [issue.as_dict() for issue in error.issues] if isinstance(error, InvalidInput) else []
        emit_json({"ok": False, "error": str(error) if not issues else None, "issues": issues})
    else:
        err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
    sys.exit(2)
