"""Acknowledgements (HL7 v2.5 chapter 2, sections 2.9 "Message processing rules" and 2.15.8 MSA/ERR).

Mode: when MSH-15 (accept acknowledgement type) and MSH-16 (application acknowledgement type)
are both empty the sender uses *original mode* and gets one ACK with MSA-1 = AA (accepted),
AE (error in content) or AR (rejected: unsupported type, event, processing id or version).
When either is valued the sender uses *enhanced mode*: the receiver's accept acknowledgement
says CA ("committed to safe storage, no need to resend"), CE or CR, and is sent or not per
MSH-15 (HL7 table 0155: AL always, NE never, ER only on error/reject, SU only on success).
An empty MSH-15 in enhanced mode is treated as AL (our choice: a sender that asked for an
application ACK is waiting on the socket for something). Application acknowledgements
(MSH-16) would be a separate message we initiate; this receiver does not send them.

MSA-2 always echoes the original MSH-10, and ERR explains AE/AR/CE/CR with a code from
HL7 table 0357. ERR-1 (v2.3-v2.4 layout) and ERR-2/3/4 (v2.5+) are both filled so older and
newer senders can read it. Sources: HL7 v2.5.1 ch. 2; tables 0008, 0155, 0357 (see
docs/hl7-adt.md for links).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from openvbc.interop.hl7v2.escaping import DEFAULT_DELIMITERS, Delimiters, escape_text
from openvbc.interop.hl7v2.message import Message, MessageError, Segment, read_delimiters, split_segments


class Outcome(Enum):
    """What the receiver did with a message, before it is turned into an ACK code."""

    ACCEPTED = "accepted"  # stored (or already stored with the same body)
    ERROR = "error"  # content, encoding or duplicate-conflict problem: AE / CE
    REJECTED = "rejected"  # unreadable header or unsupported type/event/processing id/version: AR / CR


_ORIGINAL = {Outcome.ACCEPTED: "AA", Outcome.ERROR: "AE", Outcome.REJECTED: "AR"}
_ENHANCED = {Outcome.ACCEPTED: "CA", Outcome.ERROR: "CE", Outcome.REJECTED: "CR"}

# HL7 table 0357 descriptions of the codes we send.
ERROR_TEXT = {
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "104": "Value too long",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "205": "Duplicate key identifier",
    "207": "Application internal error",
}


@dataclass(frozen=True)
class AckError:
    """One ERR segment: HL7 table 0357 code, where (``PID-3``, ``MSH-9``, ``segment 4``) and why."""

    code: str
    location: str
    text: str


@dataclass(frozen=True)
class MessageHeader:
    """The MSH fields an ACK and the duplicate check need (raw, still escaped)."""

    delimiters: Delimiters
    sending_application: str  # MSH-3
    sending_facility: str  # MSH-4
    receiving_application: str  # MSH-5
    receiving_facility: str  # MSH-6
    message_type: str  # MSH-9.1
    trigger: str  # MSH-9.2
    control_id: str  # MSH-10
    processing_id: str  # MSH-11.1
    version: str  # MSH-12.1
    accept_ack_type: str  # MSH-15
    app_ack_type: str  # MSH-16
    charset: str  # MSH-18

    @property
    def enhanced_mode(self) -> bool:
        return bool(self.accept_ack_type or self.app_ack_type)


def read_header(message: Message) -> MessageHeader:
    """Pull the header fields out of a parsed message."""
    msh = message.msh
    return MessageHeader(
        delimiters=message.delimiters,
        sending_application=msh.field(3),
        sending_facility=msh.field(4),
        receiving_application=msh.field(5),
        receiving_facility=msh.field(6),
        message_type=msh.value(9, 1).strip(),
        trigger=msh.value(9, 2).strip(),
        control_id=msh.value(10).strip(),
        processing_id=msh.value(11, 1).strip(),
        version=msh.value(12, 1).strip(),
        accept_ack_type=msh.value(15).strip().upper(),
        app_ack_type=msh.value(16).strip().upper(),
        charset=msh.value(18).strip(),
    )


def salvage_header(text: str) -> MessageHeader | None:
    """Best-effort header of a message that failed to parse, so a reject can echo MSH-10."""
    lines = split_segments(text.lstrip("\x00 \t\r\n"))
    if not lines:
        return None
    try:
        delimiters = read_delimiters(lines[0])
    except MessageError:
        return None
    line = lines[0]
    fields = ("MSH", delimiters.field, *line[4:].split(delimiters.field))
    return read_header(Message(delimiters, (Segment(fields, delimiters),)))


def choose_ack_code(header: MessageHeader | None, outcome: Outcome) -> str | None:
    """The MSA-1 code to send, or None when the sender asked for no acknowledgement."""
    if header is None or not header.enhanced_mode:
        return _ORIGINAL[outcome]
    condition = header.accept_ack_type or "AL"
    code = _ENHANCED[outcome]
    if condition == "NE":
        return None
    if condition == "ER" and outcome is Outcome.ACCEPTED:
        return None
    if condition == "SU" and outcome is not Outcome.ACCEPTED:
        return None
    return code


def build_ack(
    header: MessageHeader | None,
    code: str,
    *,
    control_id: str,
    timestamp: datetime,
    error: AckError | None = None,
    receiving_application: str = "OPENVBC",
    receiving_facility: str = "",
) -> str:
    """An ACK message (CR-terminated segments) answering ``header`` with MSA-1 = ``code``.

    Sender and receiver are swapped; the original's delimiters are reused so its raw MSH
    fields can be echoed as they are. With no readable header (not even MSH) the ACK uses
    the default delimiters and an empty MSA-2.
    """
    d = header.delimiters if header else DEFAULT_DELIMITERS
    f = d.field
    when = timestamp.strftime("%Y%m%d%H%M%S")
    if header:
        to_app, to_facility = header.sending_application, header.sending_facility
        from_app = header.receiving_application or escape_text(receiving_application, d)
        from_facility = header.receiving_facility or escape_text(receiving_facility, d)
        message_type = f"ACK{d.component}{escape_text(header.trigger, d)}{d.component}ACK"
        processing, version = escape_text(header.processing_id or "P", d), escape_text(header.version, d)
        charset = escape_text(header.charset, d)
        original_id = escape_text(header.control_id, d)
    else:
        to_app = to_facility = ""
        from_app, from_facility = escape_text(receiving_application, d), escape_text(receiving_facility, d)
        message_type, processing, version, charset, original_id = "ACK", "P", "2.5.1", "", ""
    msh = [
        "MSH",
        d.encoding_characters,
        from_app,
        from_facility,
        to_app,
        to_facility,
        when,
        "",
        message_type,
        escape_text(control_id, d),
        processing,
        version,
    ]
    enhanced = header is not None and header.enhanced_mode
    if enhanced or charset:
        # ACKs are never acknowledged: say so explicitly to enhanced-mode senders.
        never = "NE" if enhanced else ""
        msh += ["", "", never, never]
        if charset:
            msh += ["", charset]
    msa_text = escape_text(error.text, d)[:80] if error else ""
    segments = [f.join(msh), f.join(["MSA", code, original_id, msa_text])]
    if error:
        segment, _, position = error.location.partition("-")
        table_text = escape_text(ERROR_TEXT.get(error.code, ""), d)
        c, s = d.component, d.subcomponent
        err1 = f"{segment}{c}1{c}{position}{c}{error.code}{s}{table_text}{s}HL70357"
        err2 = f"{segment}{c}1{c}{position}"
        err3 = f"{error.code}{c}{table_text}{c}HL70357"
        segments.append(f.join(["ERR", err1, err2, err3, "E", "", "", "", escape_text(error.text, d)]))
    return "\r".join(segments) + "\r"
