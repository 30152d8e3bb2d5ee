"""asyncio MLLP listener: acknowledge an HL7 message only after it is committed.

Flow per connection: bytes -> ``FrameDecoder`` -> frames -> the commit queue -> ACK frames, in
the order the frames arrived. The commit queue is shared by all connections and stores
whatever is waiting in one transaction (group commit), on one worker thread, so a slow fsync
is paid once per group rather than once per message, and SQLite sees a single writer.

Guarantees (reliability-plan.md §1):
- no AA/CA is written before the message's transaction commits; if storing fails the
  connection is closed with no ACK, and the sender resends (Mirth 3 behaviour, connect#2027);
- on start, messages stored but not yet processed are processed before the port opens
  (a crash between store and processing is repaired first; connect#3366);
- processing of newly stored messages runs on its own thread after each commit, never
  delaying ACKs beyond the shared SQLite write lock.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from openvbc.interop.hl7v2.ack import AckError, Outcome, build_ack, choose_ack_code, salvage_header
from openvbc.interop.hl7v2.framing import DEFAULT_MAX_FRAME_BYTES, Frame, FrameDecoder, wrap_frame
from openvbc.interop.hl7v2.inbound import ReceivePolicy
from openvbc.services.adt import Reply, process_received, receive_payloads

log = logging.getLogger("openvbc.mllp")


@dataclass(frozen=True)
class ListenerConfig:
    host: str = "127.0.0.1"
    port: int = 2575
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    idle_timeout: float = 300.0  # seconds without a byte before the connection is closed
    max_connections: int = 64
    max_group: int = 200  # messages per group commit
    policy: ReceivePolicy = field(default_factory=ReceivePolicy)
    identity: tuple[str, str] = ("OPENVBC", "")  # MSH-3/MSH-4 of our ACKs when the sender left MSH-5/6 empty


class CommitQueue:
    """Stores messages from every connection in groups on one writer thread."""

    def __init__(self, engine: Engine, config: ListenerConfig, on_commit: Callable[[], None]) -> None:
        self._engine = engine
        self._config = config
        self._on_commit = on_commit
        self._queue: asyncio.Queue[tuple[bytes, asyncio.Future[Reply]]] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hl7-store")

    async def submit(self, payload: bytes) -> Reply:
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        await self._queue.put((payload, future))
        return await future

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            group = [await self._queue.get()]
            while len(group) < self._config.max_group and not self._queue.empty():
                group.append(self._queue.get_nowait())
            payloads = [payload for payload, _ in group]
            try:
                replies = await loop.run_in_executor(self._executor, self._store, payloads)
            except Exception as error:  # the whole group failed before any commit
                log.error("storing %d message(s) failed: %s", len(group), error)
                replies = [Reply("", Outcome.ERROR, None, failed=True) for _ in group]
            for (_, future), reply in zip(group, replies, strict=True):
                if not future.done():
                    future.set_result(reply)
            self._on_commit()

    def _store(self, payloads: list[bytes]) -> list[Reply]:
        config = self._config
        return receive_payloads(self._engine, payloads, policy=config.policy, identity=config.identity)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class MllpListener:
    def __init__(self, engine: Engine, config: ListenerConfig) -> None:
        self.engine = engine
        self.config = config
        self._connections = 0
        self._work = asyncio.Event()
        self._processor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hl7-process")

    async def serve(self, stop: asyncio.Event, ready: Callable[[str, int], None] | None = None) -> None:
        """Replay unprocessed messages, then listen until ``stop`` is set."""
        loop = asyncio.get_running_loop()
        report = await loop.run_in_executor(self._processor, process_received, self.engine)
        log.info("replayed %d stored message(s) before listening", report.processed)
        queue = CommitQueue(self.engine, self.config, self._work.set)
        tasks = [asyncio.create_task(queue.run()), asyncio.create_task(self._process_forever())]
        server = await asyncio.start_server(self._handle, self.config.host, self.config.port, limit=2**16)
        self._queue = queue
        host, port = server.sockets[0].getsockname()[:2]
        if ready:
            ready(host, port)
        try:
            await stop.wait()
        finally:
            server.close()
            await server.wait_closed()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            queue.close()
            self._processor.shutdown(wait=True)

    async def _process_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._work.wait()
            self._work.clear()
            try:
                await loop.run_in_executor(self._processor, process_received, self.engine)
            except Exception as error:  # stored messages stay 'received' and are retried
                log.error("processing failed, will retry: %s", error)
                await asyncio.sleep(1.0)
                self._work.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if self._connections >= self.config.max_connections:
            log.warning("refusing %s: %d connections open", peer, self._connections)
            writer.close()
            return
        self._connections += 1
        decoder = FrameDecoder(self.config.max_frame_bytes)
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(65536), self.config.idle_timeout)
                except TimeoutError:
                    if decoder.has_partial_frame:
                        log.warning("closing %s: idle with a truncated frame", peer)
                    break
                if not data:
                    if decoder.has_partial_frame:
                        log.warning("%s closed in the middle of a frame; nothing stored", peer)
                    break
                items = decoder.feed(data)
                # Submit every frame of this read before waiting, so they share a group commit;
                # the ACKs still go out in frame order.
                pending = [
                    asyncio.ensure_future(self._queue.submit(item.payload))
                    if isinstance(item, Frame)
                    else item
                    for item in items
                ]
                for entry in pending:
                    if isinstance(entry, asyncio.Future):
                        reply = await entry
                        if reply.failed:
                            log.error("closing %s without ACK: message %r not stored", peer, reply.control_id)
                            return
                        if reply.ack is not None:
                            writer.write(wrap_frame(self._encode(reply.ack)))
                    else:
                        self._answer_rejected_frame(entry.reason, entry.head, writer, peer)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            log.info("connection %s ended: %s", peer, error)
        finally:
            self._connections -= 1
            writer.close()

    def _answer_rejected_frame(
        self, reason: str, head: bytes, writer: asyncio.StreamWriter, peer: object
    ) -> None:
        header = salvage_header(head.decode("latin-1"))
        log.warning("rejected frame from %s: %s (control id %r)", peer, reason, header and header.control_id)
        if header is None or "cut short" in reason:
            return
        code = choose_ack_code(header, Outcome.REJECTED)
        if code:
            ack = build_ack(
                header,
                code,
                control_id="R" + header.control_id[:19],
                timestamp=datetime.now(),
                error=AckError("104", "MSH", reason),
                receiving_application=self.config.identity[0],
            )
            writer.write(wrap_frame(self._encode(ack)))

    @staticmethod
    def _encode(ack: str) -> bytes:
        # ACK text echoes only fields of the original, which decoded from its charset; UTF-8 is
        # a safe superset for the ASCII header fields we send back.
        return ack.encode("utf-8")


def run_listener(
    engine: Engine, config: ListenerConfig, ready: Callable[[str, int], None] | None = None
) -> None:
    """Run until SIGINT/SIGTERM (blocking); the CLI and ``python -m openvbc.mllp`` call this."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await MllpListener(engine, config).serve(stop, ready)

    asyncio.run(main())
