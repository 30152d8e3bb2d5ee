"""The asyncio listener over loopback: framing over the wire, ACK order, no ACK without commit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from hl7v2.samples import make_adt
from openvbc.interop.hl7v2.framing import Frame, FrameDecoder, wrap_frame
from openvbc.interop.hl7v2.message import parse_message
from openvbc.mllp.server import ListenerConfig, MllpListener
from openvbc.store.tables import hl7_message


def run_with_listener(engine: Engine, client: Callable[[int], Awaitable[None]], **config: object) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        listener = MllpListener(engine, ListenerConfig(port=0, **config))  # type: ignore[arg-type]
        task = asyncio.create_task(listener.serve(stop, lambda _h, p: ready.set_result(p)))
        port = await asyncio.wait_for(ready, 10)
        try:
            await asyncio.wait_for(client(port), 20)
        finally:
            stop.set()
            await task

    asyncio.run(main())


async def read_acks(reader: asyncio.StreamReader, count: int) -> list[tuple[str, str]]:
    decoder, acks = FrameDecoder(), []
    while len(acks) < count:
        data = await reader.read(65536)
        if not data:
            break
        for frame in decoder.feed(data):
            assert isinstance(frame, Frame)
            msa = parse_message(frame.payload.decode()).segment("MSA")
            assert msa is not None
            acks.append((msa.value(1), msa.value(2)))
    return acks


def test_several_frames_per_write_and_byte_at_a_time(sqlite_engine: Engine) -> None:
    batch = b"\x00\r\n".join(wrap_frame(make_adt(f"W{i}").encode()) for i in range(10))
    bad = wrap_frame(make_adt("W99").replace("ADT^A01", "ORU^R01").encode())

    async def client(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(batch + bad)
        assert await read_acks(reader, 11) == [("AA", f"W{i}") for i in range(10)] + [("AR", "W99")]
        one = wrap_frame(make_adt("B1").encode())
        for i in range(len(one)):
            writer.write(one[i : i + 1])
            await writer.drain()
        assert await read_acks(reader, 1) == [("AA", "B1")]
        writer.close()

    run_with_listener(sqlite_engine, client)
    with sqlite_engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(hl7_message)).scalar_one() == 11


def test_oversize_frame_gets_ar_and_the_connection_goes_on(sqlite_engine: Engine) -> None:
    huge = make_adt("H1", extra_segments=("OBX|1|TX|||" + "x" * 5000,)).encode()

    async def client(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(wrap_frame(huge) + wrap_frame(make_adt("H2").encode()))
        assert await read_acks(reader, 2) == [("AR", "H1"), ("AA", "H2")]
        writer.close()

    run_with_listener(sqlite_engine, client, max_frame_bytes=2000)


def test_no_ack_when_the_store_fails(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import openvbc.services.adt as service

    def broken(*_args: object, **_kwargs: object) -> list[str]:
        raise OSError("injected commit failure")

    monkeypatch.setattr(service, "store_accepted", broken)

    async def client(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(wrap_frame(make_adt("N1").encode()))
        assert await reader.read(65536) == b""  # closed, nothing sent
        writer.close()

    run_with_listener(sqlite_engine, client)
