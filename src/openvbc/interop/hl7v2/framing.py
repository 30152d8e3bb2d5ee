"""MLLP framing: find HL7 messages in a TCP byte stream.

The Minimal Lower Layer Protocol (HL7 v2.5 Implementation Guide, appendix C "MLLP"; also
HL7 Version 3 Standard: Transport Specification - MLLP, Release 2) wraps each message as
``<VT> message <FS><CR>`` with VT = 0x0B, FS = 0x1C, CR = 0x0D. TCP delivers bytes, not
messages, so a read may hold several frames, part of one, or junk between frames (NULs,
stray CRs, bytes before the start block). Framing bugs are the largest class of MLLP bugs
in the field (reliability-plan.md §1.2), so this decoder:

- works on bytes, before any text decoding (the charset is only known after MSH-18 is read);
- buffers across reads and returns every complete frame, front to back;
- skips junk outside frames, and a truncated frame when a new start block appears;
- enforces a maximum frame size and drops the oversize frame's remainder without buffering it.

Pure: no sockets here; the listener in ``openvbc.mllp`` feeds it.
"""

from __future__ import annotations

from dataclasses import dataclass

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c"
CARRIAGE_RETURN = b"\x0d"
DEFAULT_MAX_FRAME_BYTES = 1024 * 1024
# Bytes of an oversize frame kept so a reject ACK can still echo MSH-10.
_OVERSIZE_HEAD_BYTES = 4096


@dataclass(frozen=True)
class Frame:
    """The payload of one complete frame (the bytes between VT and FS)."""

    payload: bytes


@dataclass(frozen=True)
class FrameRejected:
    """A frame that could not be delivered: too large, or cut short by a new start block."""

    reason: str
    head: bytes  # the first bytes of the frame, enough to read MSH for a reject ACK


def wrap_frame(payload: bytes) -> bytes:
    """Frame ``payload`` for sending."""
    return START_BLOCK + payload + END_BLOCK + CARRIAGE_RETURN


class FrameDecoder:
    """Incremental MLLP frame scanner: ``feed`` bytes as they arrive, get frames back."""

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < 16:
            raise ValueError("max_frame_bytes must allow at least an MSH segment")
        self.max_frame_bytes = max_frame_bytes
        self._frame = bytearray()
        self._in_frame = False
        self._discarding = False  # inside an oversize frame: drop bytes until its end
        self.junk_bytes = 0  # bytes skipped outside frames (diagnostics)

    @property
    def has_partial_frame(self) -> bool:
        """True while a frame has started and not ended (a truncated message if the peer stops)."""
        return self._in_frame

    def feed(self, data: bytes) -> list[Frame | FrameRejected]:
        """Consume ``data`` and return the frames (and rejections) it completes, in order."""
        out: list[Frame | FrameRejected] = []
        view = memoryview(data)
        pos = 0
        size = len(data)
        while pos < size:
            if not self._in_frame:
                start = data.find(START_BLOCK, pos)
                if start < 0:
                    self.junk_bytes += size - pos
                    break
                self.junk_bytes += start - pos
                pos = start + 1
                self._in_frame = True
                self._discarding = False
                self._frame.clear()
                continue
            end = data.find(END_BLOCK, pos)
            restart = data.find(START_BLOCK, pos)
            if restart >= 0 and (end < 0 or restart < end):
                # A start block inside a frame: the sender gave up on the previous frame
                # (it cannot contain VT in any supported charset). Report and resync.
                if not self._discarding:
                    self._frame += view[pos:restart]
                    out.append(FrameRejected("frame cut short by a new start block", self._head()))
                self._frame.clear()
                self._discarding = False
                pos = restart + 1
                continue
            stop = end if end >= 0 else size
            if not self._discarding:
                # Copy at most one byte past the limit so a huge read cannot balloon memory.
                room = self.max_frame_bytes + 1 - len(self._frame)
                self._frame += view[pos : min(stop, pos + room)]
                if len(self._frame) > self.max_frame_bytes:
                    out.append(FrameRejected(f"frame larger than {self.max_frame_bytes} bytes", self._head()))
                    self._discarding = True
                    self._frame.clear()
            if end < 0:
                break
            if not self._discarding:
                out.append(Frame(bytes(self._frame)))
            self._frame.clear()
            self._in_frame = False
            self._discarding = False
            # The CR after FS is part of the trailer; if it arrives later it is skipped as
            # inter-frame junk, which is harmless.
            pos = end + 1
            if pos < size and data[pos : pos + 1] == CARRIAGE_RETURN:
                pos += 1
        return out

    def _head(self) -> bytes:
        return bytes(self._frame[:_OVERSIZE_HEAD_BYTES])
