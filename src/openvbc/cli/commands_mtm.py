"""`openvbc mtm record FILE`: document an MTM encounter from a JSON (or YAML) file."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.markup import escape

from openvbc.cli.context import CliState, console, emit_json, err_console, state_of
from openvbc.domain.errors import InputIssue, InvalidInput, UserError
from openvbc.services.mtm_documentation import record_mtm_documentation
from openvbc.services.store_admin import open_store


@contextmanager
def reporting_invalid_input(state: CliState) -> Iterator[None]:
    """Print every issue (escaped: issue text holds "[field]", which Rich reads as markup); exit 2."""
    try:
        yield
    except InvalidInput as error:
        if state.json_output:
            emit_json({"ok": False, "issues": [issue.as_dict() for issue in error.issues]})
        else:
            err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(2) from error


def read_document(path: Path) -> dict[str, Any]:
    """A JSON or YAML object from a file; a syntax error names the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read {path}: {error}") from error
    loader: Callable[[str], Any] = json.loads if path.suffix.lower() == ".json" else yaml.safe_load
    try:
        data = loader(text)
    except json.JSONDecodeError as error:
        raise InvalidInput([InputIssue(str(path), error.lineno, None, f"not JSON: {error.msg}")]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InvalidInput([InputIssue(str(path), line, None, f"not YAML: {error}")]) from None
    if not isinstance(data, dict):
        raise InvalidInput([InputIssue(str(path), 1, None, "must hold one object (the encounter)")])
    return data


def register(app: typer.Typer) -> None:
    mtm = typer.Typer(help="Medication therapy management documentation.", no_args_is_help=True)

    @mtm.command("record")
    def record(
        ctx: typer.Context,
        file: Path = typer.Argument(
            ..., help="The encounter as JSON or YAML (see docs/pharmacist-workflow.md)."
        ),
    ) -> None:
        """Validate and store one MTM encounter; nothing is stored when anything is wrong (exit 2)."""
        state = state_of(ctx)
        with reporting_invalid_input(state):
            document = read_document(file)
            engine = open_store(state.settings())
            result = record_mtm_documentation(engine, document, source=str(file))
        if state.json_output:
            emit_json({"ok": True, **result.as_dict()})
            return
        console.print(
            f"recorded {result.mtm_key} for {result.member_key}: {result.minutes} min, "
            f"{result.patient_status} patient, {result.observations} observation(s)"
        )
        if result.uncoded_problems:
            console.print(f"problems without a SNOMED CT code: {', '.join(result.uncoded_problems)}")

    app.add_typer(mtm, name="mtm")
