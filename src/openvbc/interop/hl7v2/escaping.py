"""HL7 v2 escape sequences (HL7 v2.5 chapter 2, section 2.7 "Use of escape sequences in text fields").

Inside a field the delimiters are written as escape sequences bracketed by the escape
character (``\\`` by default): ``\\F\\`` field separator, ``\\S\\`` component separator,
``\\T\\`` subcomponent separator, ``\\R\\`` repetition separator, ``\\E\\`` escape character,
``\\P\\`` truncation character (v2.7+), ``\\Xhh..\\`` hexadecimal data, and ``\\.br\\`` a line break
in formatted text. Other sequences (highlighting ``\\H\\``/``\\N\\``, character-set switches
``\\C..\\``/``\\M..\\``, locally defined ``\\Z..\\``) carry no text of their own.

Real feeds contain broken escapes (a dangling escape character, ``\\E\\`` at the end of a
field, invalid hex; reliability-plan.md §1.2). The unescaper never raises: a sequence it does
not understand is kept literally, so no data is lost, and ``find_escape_problems`` reports it.
"""

from __future__ import annotations

from dataclasses import dataclass

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True)
class Delimiters:
    """The five delimiters a message declares in MSH-1 and MSH-2."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str | None = None  # the optional fifth MSH-2 character (v2.7+)

    @property
    def encoding_characters(self) -> str:
        """The MSH-2 value that declares these delimiters."""
        return self.component + self.repetition + self.escape + self.subcomponent + (self.truncation or "")


DEFAULT_DELIMITERS = Delimiters()


def escape_text(text: str, delimiters: Delimiters = DEFAULT_DELIMITERS) -> str:
    """Write ``text`` so it can sit inside one field component without being split."""
    d = delimiters
    e = d.escape
    table = {
        d.escape: f"{e}E{e}",
        d.field: f"{e}F{e}",
        d.component: f"{e}S{e}",
        d.subcomponent: f"{e}T{e}",
        d.repetition: f"{e}R{e}",
        "\r": f"{e}X0D{e}",
        "\n": f"{e}X0A{e}",
    }
    if d.truncation:
        table[d.truncation] = f"{e}P{e}"
    return "".join(table.get(char, char) for char in text)


def unescape_text(value: str, delimiters: Delimiters = DEFAULT_DELIMITERS) -> str:
    """Resolve the escape sequences in one component value (never raises)."""
    e = delimiters.escape
    if e not in value:
        return value
    out: list[str] = []
    pos = 0
    while True:
        start = value.find(e, pos)
        if start < 0:
            out.append(value[pos:])
            break
        out.append(value[pos:start])
        close = value.find(e, start + 1)
        if close < 0:  # dangling escape character: keep the rest literally
            out.append(value[start:])
            break
        decoded = _decode_sequence(value[start + 1 : close], delimiters)
        if decoded is None:  # unknown or malformed: keep the opening escape, rescan after it
            out.append(e)
            pos = start + 1
            continue
        out.append(decoded)
        pos = close + 1
    return "".join(out)


def find_escape_problems(value: str, delimiters: Delimiters = DEFAULT_DELIMITERS) -> list[str]:
    """Describe the escape sequences in ``value`` that ``unescape_text`` keeps literally."""
    e = delimiters.escape
    problems: list[str] = []
    pos = 0
    while (start := value.find(e, pos)) >= 0:
        close = value.find(e, start + 1)
        if close < 0:
            problems.append(f"dangling escape character at offset {start}")
            break
        sequence = value[start + 1 : close]
        if _decode_sequence(sequence, delimiters) is None:
            problems.append(f"unknown escape sequence {e}{sequence}{e} at offset {start}")
            pos = start + 1
        else:
            pos = close + 1
    return problems


def _decode_sequence(sequence: str, d: Delimiters) -> str | None:
    simple = {"F": d.field, "S": d.component, "T": d.subcomponent, "R": d.repetition, "E": d.escape}
    if d.truncation:
        simple["P"] = d.truncation
    if sequence in simple:
        return simple[sequence]
    if sequence == ".br":
        return "\n"
    if sequence in ("H", "N") or sequence.startswith((".sp", ".in", ".ti", ".sk", ".ce", ".fi", ".nf")):
        return ""  # formatting instructions: no text of their own
    if sequence[:1] in ("C", "M") and len(sequence) in (5, 7) and set(sequence[1:]) <= _HEX_DIGITS:
        return ""  # character-set switch (ISO 2022); the text itself follows unescaped
    if sequence[:1] == "Z" and len(sequence) > 1:
        return ""  # locally defined escape: no portable meaning
    if sequence[:1] == "X":
        digits = sequence[1:]
        if not digits or len(digits) % 2 or not set(digits) <= _HEX_DIGITS:
            return None
        raw = bytes.fromhex(digits)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    return None
