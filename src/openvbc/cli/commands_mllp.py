"""`openvbc mllp serve`: the HL7 v2 MLLP listener."""

from __future__ import annotations

import logging
import sys

import typer

from openvbc.cli.commands_adt import check_codec
from openvbc.cli.context import console, state_of
from openvbc.interop.hl7v2.framing import DEFAULT_MAX_FRAME_BYTES
from openvbc.interop.hl7v2.inbound import ReceivePolicy
from openvbc.mllp.server import ListenerConfig, run_listener
from openvbc.services.store_admin import open_store


def register(app: typer.Typer) -> None:
    mllp = typer.Typer(help="Receive HL7 v2 messages over MLLP.", no_args_is_help=True)

    @mllp.command("serve")
    def serve(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(2575, help="TCP port (0 picks a free one)."),
        max_frame_bytes: int = typer.Option(DEFAULT_MAX_FRAME_BYTES, help="Largest message accepted."),
        default_encoding: str = typer.Option("utf-8", help="Charset when MSH-18 is empty."),
        idle_timeout: float = typer.Option(300.0, help="Seconds of silence before a connection is closed."),
        max_connections: int = typer.Option(64, help="Concurrent connections."),
    ) -> None:
        """Listen for ADT messages; ACK each only after it is committed to the store."""
        state = state_of(ctx)
        policy = ReceivePolicy(default_codec=check_codec(default_encoding))
        logging.basicConfig(
            level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
        )
        engine = open_store(state.settings())
        config = ListenerConfig(
            host=host,
            port=port,
            max_frame_bytes=max_frame_bytes,
            idle_timeout=idle_timeout,
            max_connections=max_connections,
            policy=policy,
        )

        def ready(bound_host: str, bound_port: int) -> None:
            console.print(f"listening on {bound_host}:{bound_port} (MLLP); Ctrl-C to stop")

        run_listener(engine, config, ready)

    app.add_typer(mllp, name="mllp")
