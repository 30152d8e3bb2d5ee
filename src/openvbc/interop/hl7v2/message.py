"""HL7 v2 message parsing: text to segments and fields, with delimiters read from MSH-1/MSH-2.

Written for this project rather than wrapping python-hl7: we need byte-level MSH-18 decoding
before parsing, errors that name the field for the ERR segment, and speed for back-loading
(performance-notes.md §3: a split-based extractor is ~100x faster than an object tree).

Rules followed (HL7 v2.5 chapter 2, sections 2.5-2.6 and 2.14.9):

- the message starts with MSH; MSH-1 is the character after "MSH" (the field separator) and
  MSH-2 holds the component, repetition, escape and subcomponent characters, plus an optional
  truncation character from v2.7. Delimiters must be distinct, non-alphanumeric and not CR/LF;
- segments end with CR; LF and CRLF are accepted too, since files and some senders use them
  (nHapi #99/#73);
- fields are numbered from 1 after the segment id; for MSH, field 1 is the separator itself,
  so ``segment.field(n)`` means MSH-n for every segment;
- unknown and Z segments are kept verbatim; looking up PID or PV1 is unaffected by them.

Fields are stored raw (still escaped); ``Segment.value`` unescapes one component on demand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from openvbc.interop.hl7v2.escaping import Delimiters, unescape_text

_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}\Z")
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


class MessageError(ValueError):
    """A message that cannot be read; ``location`` is the field (e.g. ``MSH-2``) or segment."""

    def __init__(self, message: str, location: str, code: str = "100") -> None:
        super().__init__(message)
        self.location = location
        self.code = code  # HL7 table 0357 message error condition code


@dataclass(frozen=True)
class Segment:
    """One segment: ``fields[0]`` is the segment id, ``fields[n]`` the raw text of field n."""

    fields: tuple[str, ...]
    delimiters: Delimiters

    @property
    def name(self) -> str:
        return self.fields[0]

    def field(self, number: int) -> str:
        """Raw (escaped) text of field ``number``; empty when absent."""
        return self.fields[number] if 0 <= number < len(self.fields) else ""

    def repetitions(self, number: int) -> list[str]:
        """Raw repetitions of field ``number`` (MSH-2 is never split)."""
        raw = self.field(number)
        if not raw or (self.name == "MSH" and number <= 2):
            return [raw] if raw else []
        return raw.split(self.delimiters.repetition)

    def value(self, number: int, component: int = 1, repetition: int = 1, subcomponent: int = 1) -> str:
        """Unescaped text of one subcomponent of one component of one repetition (1-based)."""
        d = self.delimiters
        raw = self.field(number)
        if self.name == "MSH" and number <= 2:
            return raw
        reps = raw.split(d.repetition)
        if repetition > len(reps):
            return ""
        comps = reps[repetition - 1].split(d.component)
        if component > len(comps):
            return ""
        subs = comps[component - 1].split(d.subcomponent)
        if subcomponent > len(subs):
            return ""
        return unescape_text(subs[subcomponent - 1], d)

    def encode(self) -> str:
        """The segment as text (no terminator)."""
        if self.name == "MSH":
            return "MSH" + self.delimiters.field + self.delimiters.field.join(self.fields[2:])
        return self.delimiters.field.join(self.fields)


@dataclass(frozen=True)
class Message:
    """A parsed message: its delimiters and segments in order."""

    delimiters: Delimiters
    segments: tuple[Segment, ...]

    @property
    def msh(self) -> Segment:
        return self.segments[0]

    def segment(self, name: str) -> Segment | None:
        """The first segment called ``name``, if any."""
        for segment in self.segments:
            if segment.name == name:
                return segment
        return None

    def segments_named(self, name: str) -> list[Segment]:
        return [segment for segment in self.segments if segment.name == name]

    def encode(self) -> str:
        """The message as text with CR segment terminators."""
        return "\r".join(segment.encode() for segment in self.segments) + "\r"


def split_segments(text: str) -> list[str]:
    """Split on CR, LF or CRLF and drop empty lines (trailing terminators, blank lines in files)."""
    return [line for line in _LINE_BREAKS.split(text) if line.strip()]


def read_delimiters(msh_line: str) -> Delimiters:
    """Read and check the delimiters declared by an MSH segment's first characters."""
    if not msh_line.startswith("MSH"):
        raise MessageError("message does not start with an MSH segment", "MSH", "100")
    if len(msh_line) < 8:
        raise MessageError("MSH segment too short to declare delimiters", "MSH-2", "102")
    field_sep = msh_line[3]
    end = msh_line.find(field_sep, 4)
    encoding = msh_line[4:] if end < 0 else msh_line[4:end]
    if len(encoding) not in (4, 5):
        raise MessageError(
            f"MSH-2 must hold 4 or 5 encoding characters, found {len(encoding)}", "MSH-2", "102"
        )
    chars = [field_sep, *encoding]
    if len(set(chars)) != len(chars):
        raise MessageError("MSH-1/MSH-2 delimiters are not distinct", "MSH-2", "102")
    if any(char.isalnum() or char in "\r\n " for char in chars):
        raise MessageError("MSH-1/MSH-2 delimiters must be punctuation", "MSH-2", "102")
    return Delimiters(
        field=field_sep,
        component=encoding[0],
        repetition=encoding[1],
        escape=encoding[2],
        subcomponent=encoding[3],
        truncation=encoding[4] if len(encoding) == 5 else None,
    )


def parse_message(text: str) -> Message:
    """Parse one message. Raises ``MessageError`` naming the first structural problem."""
    lines = split_segments(text.lstrip("\x00 \t\r\n"))
    if not lines:
        raise MessageError("empty message", "MSH", "100")
    delimiters = read_delimiters(lines[0])
    field_sep = delimiters.field
    segments: list[Segment] = []
    for index, line in enumerate(lines, start=1):
        name = line[:3]
        if not _SEGMENT_ID.match(name) or (len(line) > 3 and line[3] != field_sep):
            raise MessageError(f"segment {index} has no valid segment id: {line[:8]!r}", f"segment {index}")
        if index > 1 and name == "MSH":
            raise MessageError(f"segment {index} starts a second message", f"segment {index}")
        if index == 1:
            # MSH-1 is the separator itself; keep it as field 1 so MSH-n is fields[n].
            fields = ("MSH", field_sep, *line[4:].split(field_sep))
        else:
            fields = tuple(line.split(field_sep))
        segments.append(Segment(fields, delimiters))
    return Message(delimiters, tuple(segments))
