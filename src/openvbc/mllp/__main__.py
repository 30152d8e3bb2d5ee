"""``python -m openvbc.mllp``: the listener without the CLI (used by the crash soak and bench)."""

from __future__ import annotations

import argparse
import logging
import sys

from openvbc.config import load_settings
from openvbc.interop.hl7v2.framing import DEFAULT_MAX_FRAME_BYTES
from openvbc.interop.hl7v2.inbound import ReceivePolicy
from openvbc.mllp.server import ListenerConfig, run_listener
from openvbc.services.store_admin import open_store


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m openvbc.mllp", description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2575)
    parser.add_argument("--max-frame-bytes", type=int, default=DEFAULT_MAX_FRAME_BYTES)
    parser.add_argument("--default-encoding", default="utf-8")
    parser.add_argument("--idle-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    engine = open_store(load_settings(args.database_url))
    config = ListenerConfig(
        host=args.host,
        port=args.port,
        max_frame_bytes=args.max_frame_bytes,
        idle_timeout=args.idle_timeout,
        policy=ReceivePolicy(default_codec=args.default_encoding),
    )

    def ready(host: str, port: int) -> None:
        print(f"listening on {host}:{port}", flush=True)

    run_listener(engine, config, ready)


if __name__ == "__main__":
    main()
