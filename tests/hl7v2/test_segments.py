"""Z-segment and unexpected-segment tolerance (H12), segment terminators, charsets (H10)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hl7v2.samples import make_adt
from openvbc.interop.hl7v2.adt import read_adt_event
from openvbc.interop.hl7v2.inbound import Accepted, Refused, inspect_payload
from openvbc.interop.hl7v2.message import parse_message

BASE = make_adt("Z1", extra_segments=())
EXTRA = ["ZPI|1|custom^value|\\F\\x", "ZXX|", "NTE|1||free text", "OBX|1|TX|||note", "ZPV|a~b|c&d"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.sampled_from(EXTRA)), max_size=6))
def test_extra_segments_do_not_change_the_event(insertions: list[tuple[int, str]]) -> None:
    lines = BASE.rstrip("\r").split("\r")
    for position, segment in insertions:
        lines.insert(min(position, len(lines)), segment)
    message = parse_message("\r".join(lines))
    assert read_adt_event(message) == read_adt_event(parse_message(BASE))
    kept = [s.encode() for s in message.segments if s.name not in ("MSH", "EVN", "PID", "PV1")]
    assert kept == [segment for _, segment in sorted(insertions, key=lambda p: p[0])] or len(kept) == len(
        insertions
    )
    for segment in kept:
        assert segment in EXTRA  # preserved verbatim


@pytest.mark.parametrize("terminator", ["\r", "\n", "\r\n"])
def test_segment_terminators(terminator: str) -> None:
    result = inspect_payload(BASE.replace("\r", terminator).encode())
    assert isinstance(result, Accepted)


@pytest.mark.parametrize("name", ["Müller^Zoë", "Peña^Iñigo", "Żółć^Jan", "漢^字"])
@pytest.mark.parametrize(
    ("charset", "codec"), [("UNICODE UTF-8", "utf-8"), ("", "utf-8"), ("8859/1", "iso8859-1")]
)
def test_names_decode_per_msh18(name: str, charset: str, codec: str) -> None:
    text = make_adt("E1", name=name, charset=charset)
    try:
        payload = text.encode(codec)
    except UnicodeEncodeError:
        pytest.skip(f"{name} is not representable in {codec}")
    result = inspect_payload(payload)
    assert isinstance(result, Accepted)
    assert parse_message(result.text).segment("PID").value(5, 1) == name.split("^")[0]  # type: ignore[union-attr]


def test_invalid_bytes_for_the_declared_charset_are_an_error() -> None:
    payload = make_adt("E2", name="M\u00fcller", charset="UNICODE UTF-8").encode("latin-1")
    result = inspect_payload(payload)
    assert isinstance(result, Refused) and result.error.location == "MSH-18"
    assert result.header is not None and result.header.control_id == "E2"
