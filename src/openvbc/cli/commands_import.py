"""`openvbc import PATH [--check] [--today YYYY-MM-DD]`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from openvbc.cli.context import console, emit_json, err_console, state_of
from openvbc.domain.errors import InvalidInput, UserError
from openvbc.services.imports import ImportReport, import_path
from openvbc.services.store_admin import open_store


def register(app: typer.Typer) -> None:
    """Register the commands of this noun."""

    @app.command("import")
    def import_command(
        ctx: typer.Context,
        path: Path = typer.Argument(..., help="Package directory, one package file, or FHIR .json/.ndjson."),
        check: bool = typer.Option(False, "--check", help="Validate and report without writing."),
        today: str | None = typer.Option(
            None, "--today", help="Date that counts as today for 'no future dates' (YYYY-MM-DD)."
        ),
    ) -> None:
        """Validate and load plan data; every problem is listed by file, line and field (exit 2)."""
        state = state_of(ctx)
        as_of = parse_today(today)
        try:
            report = run_import(ctx, path, check=check, today=as_of)
        except InvalidInput as error:
            # Rendered here rather than by the shared handler: issue text holds "[field]",
            # which Rich would take for markup, and --json must work under CliRunner too.
            if state.json_output:
                emit_json({"ok": False, "issues": [issue.as_dict() for issue in error.issues]})
            else:
                err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
            raise typer.Exit(2) from error
        if state.json_output:
            emit_json(report.as_dict())
        else:
            render_report(report)


def run_import(ctx: typer.Context, path: Path, *, check: bool, today: date) -> ImportReport:
    """Open the store and import, with a progress bar unless the output is JSON."""
    state = state_of(ctx)
    engine = open_store(state.settings())
    try:
        if state.json_output:
            return import_path(engine, path, check_only=check, today=today)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("import", total=None)

            def advance(label: str, done: int, total: int) -> None:
                progress.update(task, description=escape(label), completed=done, total=total)

            return import_path(engine, path, check_only=check, today=today, on_progress=advance)
    finally:
        engine.dispose()


def parse_today(value: str | None) -> date:
    """The --today option, or the clock (read here, in the shell, never in the rules)."""
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise UserError(f"--today {value!r} is not a date in the form YYYY-MM-DD") from error


def render_report(report: ImportReport) -> None:
    title = "checked, nothing written" if report.check_only else "imported"
    table = Table(title=f"{report.path}: {title}", box=box.SIMPLE_HEAD, pad_edge=False)
    # File names are what a user looks for: never cut them; the numbers are short.
    table.add_column("file", no_wrap=True)
    for heading in ("rows", "inserted", "updated", "unchanged", "unverified\nNDCs"):
        table.add_column(heading, justify="right", no_wrap=True)
    for item in report.files:
        if item.status == "already loaded":
            table.add_row(f"{item.file} *", str(item.rows), "-", "-", "-", "-")
        else:
            counts = (item.rows, item.inserted, item.updated, item.unchanged, item.unverified_ndcs)
            table.add_row(item.file, *(str(number) for number in counts))
    console.print(table)
    if any(item.status == "already loaded" for item in report.files):
        console.print("* already loaded (same kind and SHA-256): skipped")
