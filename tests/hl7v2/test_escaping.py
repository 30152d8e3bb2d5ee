"""Escape sequences (H11): round trip, and the regression vectors from public issues."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openvbc.interop.hl7v2.escaping import Delimiters, escape_text, find_escape_problems, unescape_text

DELIMS = [Delimiters(), Delimiters("#", "$", "*", "!", "%", "?")]


@settings(max_examples=2000, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=60), which=st.sampled_from(DELIMS))
def test_unescape_inverts_escape(text: str, which: Delimiters) -> None:
    escaped = escape_text(text, which)
    assert unescape_text(escaped, which) == text
    for char in (which.field, which.component, which.repetition, which.subcomponent, "\r", "\n"):
        assert char not in escaped


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("A\\E\\", "A\\"),  # \E\ at the end of a field (HL7-dotnetcore #113)
        ("\\E\\R\\", "\\R\\"),  # python-hl7 #84: \E\ followed by R\ keeps its backslash
        ("\\F\\\\S\\\\T\\\\R\\\\E\\", "|^&~\\"),  # consecutive escapes (HL7-V2 #40)
        ("a\\T\\b", "a&b"),  # \T\ unescaped (FHIR-Converter PR #168)
        ("line1\\X0D0A\\line2", "line1\r\nline2"),
        ("first\\.br\\second", "first\nsecond"),
        ("Z\\C2842\\end", "Zend"),
        ("ends with \\", "ends with \\"),  # dangling: kept literally
        ("bad \\X0\\ hex", "bad \\X0\\ hex"),  # malformed hex: kept literally
        ("\\5 invalid", "\\5 invalid"),  # HL7-dotnetcore #77
    ],
)
def test_regression_vectors(raw: str, text: str) -> None:
    assert unescape_text(raw) == text


def test_problems_are_reported_not_raised() -> None:
    assert find_escape_problems("ok\\F\\") == []
    assert find_escape_problems("dangling \\") == ["dangling escape character at offset 9"]
    # The unescaper keeps an unknown opening escape literally and rescans after it, so the
    # closing character of "\\Q\\" is then reported as dangling too.
    assert find_escape_problems("\\Q\\") == [
        "unknown escape sequence \\Q\\ at offset 0",
        "dangling escape character at offset 2",
    ]
