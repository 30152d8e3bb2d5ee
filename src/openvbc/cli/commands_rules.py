"""`openvbc rules check|list`: validate the rule files and show what is loaded."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from openvbc.cli.context import console, emit_json, err_console, state_of
from openvbc.domain.errors import InvalidInput
from openvbc.rules.loader import list_value_sets
from openvbc.rules.tree import TreeReport
from openvbc.services.rules_catalog import check_rules

PATH_OPTION = typer.Option(None, "--path", help="Also validate the rule files in this folder (same layout).")
JSON_OPTION = typer.Option(False, "--json", help="Machine-readable JSON output.")


def _render_table(report: TreeReport) -> None:
    table = Table(title="Rule files")
    # Narrow terminals fold the long columns rather than truncating kind, version or count.
    table.add_column("kind", no_wrap=True)
    table.add_column("id", overflow="fold")
    table.add_column("version", no_wrap=True)
    table.add_column("effective", overflow="fold")
    table.add_column("source", overflow="fold", max_width=36)
    table.add_column("count", justify="right", no_wrap=True)
    for rule in report.loaded:
        effective = f"{rule.effective_start} → {rule.effective_end}" if rule.effective_start else "-"
        table.add_row(rule.kind, rule.id, rule.version, effective, rule.source, str(rule.count))
    console.print(table)


def _finish(report: TreeReport, as_json: bool) -> None:
    """Print the report; exit 2 listing every problem (file, line, field) when anything is invalid."""
    if as_json:
        emit_json(
            {
                "ok": report.ok,
                "loaded": [rule.as_dict() for rule in report.loaded],
                "issues": [issue.as_dict() for issue in report.issues],
            }
        )
    else:
        _render_table(report)
        for issue in report.issues:
            err_console.print(f"[bold red]error:[/] {issue.render()}", highlight=False, markup=True)
        if report.ok:
            console.print(f"{len(report.loaded)} rule file(s) valid")
    if not report.ok:
        if not as_json:
            err_console.print(f"{len(report.issues)} problem(s) in the rule files")
        raise typer.Exit(2)


def _run_check(ctx: typer.Context, path: Path | None, json_flag: bool) -> tuple[TreeReport, bool]:
    as_json = json_flag or state_of(ctx).json_output
    try:
        return check_rules(path), as_json
    except InvalidInput as error:
        if as_json:
            emit_json({"ok": False, "loaded": [], "issues": [issue.as_dict() for issue in error.issues]})
        else:
            err_console.print(f"[bold red]error:[/] {error}", highlight=False, markup=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    rules = typer.Typer(help="Validate and list the rule files (value sets, measures, drugs, calendars).")

    @rules.command("check")
    def check(ctx: typer.Context, path: Path | None = PATH_OPTION, json_flag: bool = JSON_OPTION) -> None:
        """Validate every rule file; exit 2 listing each problem by file, line and field."""
        report, as_json = _run_check(ctx, path, json_flag)
        _finish(report, as_json)

    @rules.command("list")
    def list_rules(
        ctx: typer.Context,
        path: Path | None = PATH_OPTION,
        json_flag: bool = JSON_OPTION,
        value_sets: bool = typer.Option(False, "--value-sets", help="List every shipped value set instead."),
    ) -> None:
        """List the loaded rule files (or, with --value-sets, every value set)."""
        as_json = json_flag or state_of(ctx).json_output
        if value_sets:
            infos = list_value_sets()
            if as_json:
                emit_json([info.__dict__ for info in infos])
                return
            table = Table(title="Value sets")
            for column in ("oid", "name", "version", "codes"):
                table.add_column(column, overflow="fold")
            for info in infos:
                table.add_row(info.oid, info.name, info.version, str(info.codes))
            console.print(table)
            return
        report, as_json = _run_check(ctx, path, json_flag)
        _finish(report, as_json)

    app.add_typer(rules, name="rules")
