"""Character sets: decode a message per MSH-18 before parsing it.

MSH-18 names the character set (HL7 table 0211). It is read from the raw bytes of the first
segment, which is ASCII in every charset we accept; the message is then decoded with it, or
with the listener's configured default when MSH-18 is empty (the standard's own default is
ASCII; we default to UTF-8, a superset, and let operators choose). Undecodable bytes are an
error the caller answers with AE — never a hang or a silent replacement (python-hl7 #54,
Camel PR #10880; reliability-plan.md §1.2).
"""

from __future__ import annotations

from dataclasses import dataclass

# HL7 table 0211 values (v2.5-v2.8) mapped to Python codecs. UTF-16/32 are left out on purpose:
# their bytes contain the MLLP block characters, so they cannot be framed safely.
_TABLE_0211 = {
    "ASCII": "ascii",
    "ISO IR6": "ascii",
    "8859/1": "iso8859-1",
    "ISO IR100": "iso8859-1",
    "8859/2": "iso8859-2",
    "8859/3": "iso8859-3",
    "8859/4": "iso8859-4",
    "8859/5": "iso8859-5",
    "8859/6": "iso8859-6",
    "8859/7": "iso8859-7",
    "8859/8": "iso8859-8",
    "8859/9": "iso8859-9",
    "8859/15": "iso8859-15",
    "UNICODE UTF-8": "utf-8",
    "ISO IR192": "utf-8",
    "UTF-8": "utf-8",  # seen in the field although not in table 0211
    "BIG-5": "big5",
    "CNS 11643-1992": "big5",
    "GB 18030-2000": "gb18030",
    "KS X 1001": "euc_kr",
    "ISO IR87": "iso2022_jp",
    "ISO IR159": "iso2022_jp_2",
}


class CharsetError(ValueError):
    """MSH-18 names an unsupported character set, or the bytes do not decode with it."""


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str  # the MSH-18 value, or "default:<codec>" when MSH-18 was empty


def read_charset_field(payload: bytes) -> str:
    """MSH-18 (first repetition) read straight from the bytes of the MSH segment."""
    if not payload.startswith(b"MSH") or len(payload) < 4:
        return ""
    first = payload.split(b"\r", 1)[0].split(b"\n", 1)[0]
    separator = first[3:4]
    if not separator:  # "MSH" alone on its line: no delimiters, the parser reports it
        return ""
    fields = first.split(separator)
    # fields[0] is "MSH" and fields[1] is MSH-2, so MSH-n is fields[n - 1].
    if len(fields) < 18:
        return ""
    value = fields[17].decode("ascii", errors="replace")
    encoding_chars = fields[1].decode("ascii", errors="replace")
    repetition = encoding_chars[1:2] or "~"
    return value.split(repetition, 1)[0].strip()


def lookup_codec(charset: str) -> str:
    """The Python codec for an HL7 table 0211 value; raises ``CharsetError`` when unknown."""
    codec = _TABLE_0211.get(charset.strip().upper())
    if codec is None:
        raise CharsetError(f"unsupported character set in MSH-18: {charset!r}")
    return codec


def decode_payload(payload: bytes, default_codec: str = "utf-8") -> DecodedText:
    """Decode a message's bytes per its MSH-18, else ``default_codec``."""
    charset = read_charset_field(payload)
    codec = lookup_codec(charset) if charset else default_codec
    try:
        text = payload.decode(codec)
    except UnicodeDecodeError as error:
        raise CharsetError(
            f"bytes {error.start}-{error.end} are not valid {charset or codec}: {error.reason}"
        ) from None
    return DecodedText(text, charset or f"default:{codec}")
