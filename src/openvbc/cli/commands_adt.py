"""`openvbc adt import FILE... | process`: HL7 v2 ADT batch files into the store."""

from __future__ import annotations

import codecs
from dataclasses import asdict
from pathlib import Path

import typer

from openvbc.cli.context import console, emit_json, state_of
from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.interop.hl7v2.inbound import ReceivePolicy
from openvbc.services.adt import import_adt_file, process_received
from openvbc.services.store_admin import open_store


def check_codec(name: str) -> str:
    """The codec name, or exit 2 naming the option (shared with `openvbc mllp serve`)."""
    try:
        codecs.lookup(name)
    except LookupError:
        raise InvalidInput(
            [InputIssue("--default-encoding", None, None, f"unknown encoding {name!r}")]
        ) from None
    return name


def register(app: typer.Typer) -> None:
    adt = typer.Typer(help="Load HL7 v2 ADT messages and turn them into encounters.", no_args_is_help=True)

    @adt.command("import")
    def import_(
        ctx: typer.Context,
        files: list[Path] = typer.Argument(..., help="HL7 files (plain, or FHS/BHS batches)."),
        default_encoding: str = typer.Option("utf-8", help="Charset when MSH-18 is empty."),
    ) -> None:
        """Store every message of each file (all or nothing per file), then process them."""
        state = state_of(ctx)
        policy = ReceivePolicy(default_codec=check_codec(default_encoding))
        engine = open_store(state.settings())
        reports = [import_adt_file(engine, path, policy=policy) for path in files]
        if state.json_output:
            emit_json([asdict(report) for report in reports])
            return
        for report in reports:
            processing = report.processing
            console.print(
                f"{report.file}: {report.messages} message(s), {report.stored} new, "
                f"{report.duplicates} duplicate(s), {len(report.conflicts)} conflict(s); "
                f"processed {processing.processed} ({processing.matched} matched, "
                f"{processing.unmatched} unmatched), {processing.encounters} encounter(s) written"
            )
            for control_id in report.conflicts:
                console.print(f"  conflict: MSH-10 {control_id!r} was received before with a different body")

    @adt.command("process")
    def process(ctx: typer.Context) -> None:
        """Process stored messages not yet processed, and re-match unmatched events."""
        state = state_of(ctx)
        report = process_received(open_store(state.settings()))
        if state.json_output:
            emit_json(asdict(report))
        else:
            console.print(
                f"processed {report.processed} ({report.errors} error(s)), "
                f"re-matched {report.rematched}, {report.encounters} encounter(s) written"
            )

    app.add_typer(adt, name="adt")
