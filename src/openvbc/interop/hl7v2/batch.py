"""Split an HL7 batch file into messages (HL7 v2.5 chapter 2, section 2.10.3 "HL7 batch protocol").

A file is ``[FHS] { [BHS] { MSH ... } [BTS] } [FTS]``; plain concatenated messages without
wrappers are accepted too. Works on bytes so each message is decoded by its own MSH-18.
Structural faults (a segment outside any message, a nested BHS or FHS) are reported with the
line number, following python-hl7's ``parse_file`` on the same samples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE_BREAKS = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class BatchMessage:
    line: int  # line (segment) number of the MSH in the file, 1-based
    payload: bytes  # the message's segments joined by CR


@dataclass(frozen=True)
class BatchProblem:
    line: int
    segment: str
    message: str


def split_batch(data: bytes) -> tuple[list[BatchMessage], list[BatchProblem]]:
    """Messages in file order, plus every structural problem found."""
    messages: list[BatchMessage] = []
    problems: list[BatchProblem] = []
    current: list[bytes] = []
    start_line = 0
    file_open = batch_open = False
    seen_file_header = False

    def close_message() -> None:
        nonlocal current
        if current:
            messages.append(BatchMessage(start_line, b"\r".join(current) + b"\r"))
        current = []

    for number, line in enumerate(_LINE_BREAKS.split(data.lstrip(b"\xef\xbb\xbf")), start=1):
        if not line.strip(b" \t\x00\x1a"):
            continue
        name = line[:3].decode("latin-1")
        if name == "FHS":
            close_message()
            if file_open or seen_file_header:
                problems.append(BatchProblem(number, name, "FHS inside a file that already has a header"))
            file_open = seen_file_header = True
        elif name == "BHS":
            close_message()
            if batch_open:
                problems.append(BatchProblem(number, name, "BHS before the previous batch's BTS"))
            batch_open = True
        elif name == "BTS":
            close_message()
            batch_open = False
        elif name == "FTS":
            close_message()
            file_open = False
        elif name == "MSH":
            close_message()
            current, start_line = [line], number
        elif current:
            current.append(line)
        else:
            problems.append(
                BatchProblem(number, name, f"{name} segment outside any message (no MSH before it)")
            )
    close_message()
    return messages, problems
