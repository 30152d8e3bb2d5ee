"""Benchmark (not a test): acknowledged MLLP messages per second with durable commits, beside
the disk's own fsync rate, and the batch ADT import rate. Prints one JSON line per figure.

    .venv/bin/python bench/mllp_bench.py [--messages 2000] [--connections 1,4] [--database-url URL]

Default store: a fresh SQLite file (WAL, synchronous=FULL) in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from openvbc.interop.hl7v2.framing import FrameDecoder, wrap_frame
from openvbc.services.adt import import_adt_file, process_received
from openvbc.store.database import open_engine
from openvbc.store.migrate import upgrade_schema


def make_message(control: str, number: int) -> bytes:
    return (
        f"MSH|^~\\&|BENCH|GENHOSP|OPENVBC|PLAN|20250301080000||ADT^A01^ADT_A01|{control}|P|2.5.1\r"
        f"EVN|A01|20250301080000\rPID|1||M{number % 1000}^^^PLAN^MB||DOE^JANE||19600101|F\r"
        f"PV1|1|I|4N^401^1^GENHOSP|||||||||||||||||V{number}\r"
    ).encode()


def measure_fsync(directory: Path, rounds: int = 200) -> float:
    """Raw fsyncs per second on the store's disk: the ceiling for one-commit-per-message."""
    path = directory / "fsync.probe"
    with open(path, "wb") as handle:
        began = time.perf_counter()
        for _ in range(rounds):
            handle.write(b"x" * 512)
            handle.flush()
            os.fsync(handle.fileno())
        elapsed = time.perf_counter() - began
    path.unlink()
    return rounds / elapsed


def wait_listening(port: int) -> None:
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("listener did not start")


def sender(port: int, controls: list[str], latencies: list[float]) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        decoder = FrameDecoder()
        for control in controls:
            began = time.perf_counter()
            conn.sendall(wrap_frame(make_message(control, int(control.split("-")[1]))))
            while not decoder.feed(conn.recv(65536)):
                pass
            latencies.append(time.perf_counter() - began)


def bench_listener(url: str, messages: int, connections: int, tag: str) -> dict[str, object]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "openvbc.mllp", "--database-url", url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_listening(port)
        controls = [f"{tag}-{i}" for i in range(messages)]
        latencies: list[float] = []
        threads = [
            threading.Thread(target=sender, args=(port, controls[i::connections], latencies))
            for i in range(connections)
        ]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait()
    latencies.sort()
    return {
        "figure": "mllp_acked_per_second",
        "connections": connections,
        "messages": messages,
        "rate": round(messages / elapsed, 1),
        "ack_p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "ack_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }


def bench_import(url: str, directory: Path, messages: int) -> dict[str, object]:
    path = directory / "batch.hl7"
    body = b"".join(make_message(f"IMP-{i}", i) for i in range(messages))
    path.write_bytes(b"FHS|^~\\&|BENCH\rBHS|^~\\&|BENCH\r" + body + b"BTS|1\rFTS|1\r")
    engine = open_engine(url)
    began = time.perf_counter()
    report = import_adt_file(engine, path)
    elapsed = time.perf_counter() - began
    began = time.perf_counter()
    process_received(engine)
    engine.dispose()
    return {
        "figure": "adt_import_per_second",
        "messages": report.messages,
        "rate_including_processing": round(messages / elapsed, 1),
        "processing_unmatched_s": round(time.perf_counter() - began, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", default="1,4")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        url = args.database_url or f"sqlite:///{directory / 'bench.db'}"
        upgrade_schema(open_engine(url))
        print(json.dumps({"figure": "disk_fsync_per_second", "rate": round(measure_fsync(directory), 1)}))
        for count in (int(c) for c in args.connections.split(",")):
            print(json.dumps(bench_listener(url, args.messages, count, f"C{count}")), flush=True)
        print(json.dumps(bench_import(url, directory, args.messages)), flush=True)


if __name__ == "__main__":
    main()
