"""MLLP framing (reliability-plan.md §7.1 H5): every message recovered, in order, whatever the splits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hl7v2.samples import make_adt
from openvbc.interop.hl7v2.framing import Frame, FrameDecoder, FrameRejected, wrap_frame

MESSAGES = [make_adt(f"C{i}").encode() for i in range(5)]


def feed_all(decoder: FrameDecoder, chunks: list[bytes]) -> list[Frame | FrameRejected]:
    out: list[Frame | FrameRejected] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    return out


def test_several_frames_in_one_read_with_nuls_between() -> None:
    stream = b"\x00\x00" + wrap_frame(MESSAGES[0]) + b"\x00\r\n" + wrap_frame(MESSAGES[1])
    frames = FrameDecoder().feed(stream)
    assert frames == [Frame(MESSAGES[0]), Frame(MESSAGES[1])]


def test_one_byte_at_a_time() -> None:
    stream = wrap_frame(MESSAGES[0]) + wrap_frame(MESSAGES[1])
    decoder = FrameDecoder()
    frames = feed_all(decoder, [stream[i : i + 1] for i in range(len(stream))])
    assert frames == [Frame(MESSAGES[0]), Frame(MESSAGES[1])]
    assert not decoder.has_partial_frame


def test_end_block_and_cr_in_separate_reads() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"\x0b" + MESSAGES[0]) == []
    assert decoder.has_partial_frame
    assert decoder.feed(b"\x1c") == [Frame(MESSAGES[0])]
    assert decoder.feed(b"\r" + wrap_frame(MESSAGES[1])) == [Frame(MESSAGES[1])]


def test_oversize_frame_is_rejected_and_the_next_frame_still_arrives() -> None:
    decoder = FrameDecoder(max_frame_bytes=1000)
    huge = MESSAGES[0] + b"OBX|1|TX|||" + b"x" * 5000 + b"\r"
    out = feed_all(decoder, [wrap_frame(huge)[i : i + 700] for i in range(0, len(huge) + 3, 700)])
    out += decoder.feed(wrap_frame(MESSAGES[1]))
    assert isinstance(out[0], FrameRejected) and out[0].head.startswith(b"MSH|")
    assert out[1:] == [Frame(MESSAGES[1])]


def test_new_start_block_inside_a_frame_reports_the_truncated_one() -> None:
    out = FrameDecoder().feed(b"\x0b" + MESSAGES[0][:40] + wrap_frame(MESSAGES[1]))
    assert isinstance(out[0], FrameRejected)
    assert out[1:] == [Frame(MESSAGES[1])]


junk = st.binary(max_size=8).map(lambda b: b.replace(b"\x0b", b"").replace(b"\x1c", b""))


@settings(max_examples=300, deadline=None)
@given(
    picks=st.lists(st.integers(0, len(MESSAGES) - 1), min_size=1, max_size=8),
    gaps=st.lists(junk, min_size=9, max_size=9),
    cuts=st.lists(st.integers(1, 4000), max_size=30),
)
def test_random_splits_and_junk_recover_every_message_in_order(
    picks: list[int], gaps: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(gaps[i] + wrap_frame(MESSAGES[p]) for i, p in enumerate(picks)) + gaps[-1]
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    frames = feed_all(FrameDecoder(), chunks)
    assert frames == [Frame(MESSAGES[p]) for p in picks]
