"""Crash soak (reliability-plan.md §7.1 H1), short CI form: SIGKILL the listener while senders stream.

Senders resend every message without an ACK (at-least-once, like real engines). At the end:
every acknowledged message is stored, every message is stored exactly once, the database is
intact, and replaying the processing yields one event per message. Emits one JSON line.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select, text

from hl7v2.samples import make_adt
from openvbc.interop.hl7v2.framing import FrameDecoder, wrap_frame
from openvbc.interop.hl7v2.message import parse_message
from openvbc.services.adt import process_received
from openvbc.store.database import open_engine
from openvbc.store.migrate import upgrade_schema
from openvbc.store.tables import adt_event, hl7_message

MESSAGES = 300
SENDERS = 3
KILLS = 3
DEADLINE = 40.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(url: str, port: int) -> tuple[subprocess.Popen[bytes], float]:
    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "openvbc.mllp", "--database-url", url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while time.monotonic() - began < 20:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, time.monotonic() - began
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("listener did not start")


def send_all(port: int, ids: list[str], acked: set[str], lock: threading.Lock, stop_at: float) -> None:
    pending = list(ids)
    while pending and time.monotonic() < stop_at:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2.0) as conn:
                conn.settimeout(2.0)
                decoder = FrameDecoder()
                while pending:
                    control = pending[0]
                    number = int(control[1:])
                    conn.sendall(
                        wrap_frame(
                            make_adt(control, visit=f"V{number}", member_key=f"M{number % 20}").encode()
                        )
                    )
                    frames: list[object] = []
                    while not frames:
                        data = conn.recv(65536)
                        if not data:
                            raise ConnectionError("closed")
                        frames = decoder.feed(data)  # type: ignore[assignment]
                    msa = parse_message(frames[0].payload.decode()).segment("MSA")  # type: ignore[attr-defined]
                    assert msa is not None and msa.value(2) == control and msa.value(1) == "AA"
                    with lock:
                        acked.add(control)
                    pending.pop(0)
        except OSError:
            time.sleep(0.05)  # server down: back off and resend what was not acknowledged


def test_crash_soak(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'soak.db'}"
    engine = open_engine(url)
    upgrade_schema(engine)
    port = free_port()
    ids = [f"K{i}" for i in range(MESSAGES)]
    acked: set[str] = set()
    lock = threading.Lock()
    started = time.monotonic()
    stop_at = started + DEADLINE
    server, _ = start_server(url, port)
    threads = [
        threading.Thread(target=send_all, args=(port, ids[i::SENDERS], acked, lock, stop_at))
        for i in range(SENDERS)
    ]
    for thread in threads:
        thread.start()
    rng = random.Random(20250301)
    restarts: list[float] = []
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.3, 1.0))
            server.kill()  # SIGKILL, by this test's own child pid
            server.wait()
            server, took = start_server(url, port)
            restarts.append(took)
        for thread in threads:
            thread.join(timeout=max(0.0, stop_at - time.monotonic()))
    finally:
        server.terminate()
        server.wait(timeout=10)
    elapsed = time.monotonic() - started
    with engine.connect() as connection:
        stored = list(connection.execute(select(hl7_message.c.control_id)).scalars())
        assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    assert acked == set(ids), f"{len(ids) - len(acked)} never acknowledged"
    assert sorted(stored) == sorted(ids)  # every message exactly once, nothing extra
    process_received(engine)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(adt_event)).scalar_one() == MESSAGES
    engine.dispose()
    print(
        json.dumps(
            {
                "test": "mllp_crash_soak",
                "msgs": MESSAGES,
                "kills": KILLS,
                "lost": 0,
                "dup": 0,
                "seconds": round(elapsed, 2),
                "restart_max_s": round(max(restarts), 2),
            }
        )
    )
