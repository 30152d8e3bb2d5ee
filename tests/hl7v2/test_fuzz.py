"""Fuzz (H7): no input makes the receive path raise; readable headers get their MSH-10 echoed.

Plain functions so atheris can drive ``receive_one`` too (long runs); in CI hypothesis does.
"""

from __future__ import annotations

from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from hl7v2.samples import make_adt
from openvbc.interop.hl7v2.ack import Outcome, build_ack, choose_ack_code
from openvbc.interop.hl7v2.framing import FrameDecoder
from openvbc.interop.hl7v2.inbound import Accepted, inspect_payload
from openvbc.interop.hl7v2.message import parse_message

SEED = make_adt("FUZZ1", extra_segments=("ZPI|1|\\E\\|x^y&z~w",)).encode()


def receive_one(data: bytes) -> None:
    """The whole pure path: frame scan, inspect, ACK build, and the ACK must parse."""
    FrameDecoder(max_frame_bytes=4096).feed(data)
    result = inspect_payload(data)
    if isinstance(result, Accepted):
        header, outcome = result.header, Outcome.ACCEPTED
    else:
        header, outcome = result.header, result.outcome
    code = choose_ack_code(header, outcome) or "AA"
    ack = build_ack(
        header, code, control_id="F", timestamp=datetime(2025, 1, 1), error=getattr(result, "error", None)
    )
    msa = parse_message(ack).segments[1]
    if header is not None:
        assert msa.value(2) == header.control_id


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    receive_one(data)


@settings(max_examples=1500, deadline=None)
@given(st.data())
def test_mutated_valid_message(data: st.DataObject) -> None:
    raw = bytearray(SEED)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.integers(0, 2))
        byte = data.draw(st.sampled_from(b"|^~\\&\r\n\x00\x0b\x1cA9\xff\xc3"))
        if op == 0:
            raw[pos] = byte
        elif op == 1:
            raw.insert(pos, byte)
        else:
            del raw[pos]
    receive_one(bytes(raw))
