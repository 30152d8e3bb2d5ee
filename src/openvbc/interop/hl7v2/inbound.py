"""Receiving one message: bytes in, either an accepted event or a refusal with its ACK reason.

This is the pure half of the listener and of ``openvbc adt import``: decode per MSH-18, parse,
check the header against what this receiver supports, map the ADT content. Storage (and so the
duplicate/conflict decision) happens afterwards in ``openvbc.services.adt``; the ACK is built
only once the outcome is known.

Reject (AR/CR) vs error (AE/CE) follows HL7 table 0357's grouping: 2xx "rejection" codes for an
unsupported message type, event, processing id or version, and for a header we cannot read at
all; 1xx "error" codes for content and encoding problems.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from openvbc.interop.hl7v2.ack import AckError, MessageHeader, Outcome, read_header, salvage_header
from openvbc.interop.hl7v2.adt import AdtContentError, AdtEvent, format_event_key, read_adt_event
from openvbc.interop.hl7v2.charset import CharsetError, decode_payload
from openvbc.interop.hl7v2.message import MessageError, parse_message

# HL7 v2.x versions whose ADT structure we read (PID/PV1/EVN/MRG fields used are stable
# from 2.1 through 2.8).
SUPPORTED_VERSIONS = (
    "2.1",
    "2.2",
    "2.3",
    "2.3.1",
    "2.4",
    "2.5",
    "2.5.1",
    "2.6",
    "2.7",
    "2.7.1",
    "2.8",
    "2.8.1",
    "2.8.2",
)


@dataclass(frozen=True)
class ReceivePolicy:
    """What this receiver accepts; one per listener or import run."""

    default_codec: str = "utf-8"
    processing_ids: tuple[str, ...] = ("P", "T", "D")  # HL7 table 0103: production, training, debugging
    versions: tuple[str, ...] = SUPPORTED_VERSIONS


@dataclass(frozen=True)
class Accepted:
    """A message to store: its decoded text, digest and the event it carries."""

    event: AdtEvent
    text: str
    encoding: str
    sha256: str

    @property
    def header(self) -> MessageHeader:
        return self.event.header


@dataclass(frozen=True)
class Refused:
    """A message not stored: why, and the header (when readable) for the ACK."""

    header: MessageHeader | None
    outcome: Outcome
    error: AckError


def inspect_payload(payload: bytes, policy: ReceivePolicy = ReceivePolicy()) -> Accepted | Refused:
    """Decide whether one framed message can be stored. Never raises on bad input."""
    try:
        decoded = decode_payload(payload, policy.default_codec)
    except CharsetError as error:
        header = salvage_header(payload.decode("latin-1"))
        return Refused(header, Outcome.ERROR, AckError("102", "MSH-18", str(error)))
    try:
        message = parse_message(decoded.text)
    except MessageError as error:
        header = salvage_header(decoded.text)
        outcome = Outcome.REJECTED if error.location.startswith("MSH") or header is None else Outcome.ERROR
        return Refused(header, outcome, AckError(error.code, error.location, str(error)))
    header = read_header(message)
    rejection = check_header(header, policy)
    if rejection is not None:
        return Refused(header, Outcome.REJECTED, rejection)
    try:
        event = read_adt_event(message)
    except AdtContentError as error:
        outcome = Outcome.REJECTED if error.error.code.startswith("2") else Outcome.ERROR
        return Refused(header, outcome, error.error)
    too_long = check_lengths(event)
    if too_long is not None:
        return Refused(header, Outcome.ERROR, too_long)
    digest = hashlib.sha256(decoded.text.encode("utf-8")).hexdigest()
    return Accepted(event, decoded.text, decoded.encoding, digest)


def check_header(header: MessageHeader, policy: ReceivePolicy) -> AckError | None:
    """The reject reason for an unsupported message type, processing id or version."""
    if header.message_type != "ADT":
        shown = header.message_type + (f"^{header.trigger}" if header.trigger else "")
        return AckError("200", "MSH-9", f"unsupported message type {shown!r}; this receiver takes ADT")
    if header.processing_id not in policy.processing_ids:
        return AckError("202", "MSH-11", f"unsupported processing id {header.processing_id!r}")
    if header.version not in policy.versions:
        return AckError("203", "MSH-12", f"unsupported HL7 version {header.version!r}")
    return None


# Column widths of the store's duplicate key (hl7_message, adt_event.event_key); a longer value
# is answered AE 104 rather than truncated, because truncation could merge two messages.
# (PV1-19 is not limited here: the encounter key is built from the raw message, and the
# informational adt_event.visit_number copy is cut to its 40 characters.)
_LIMITS = (("MSH-3", 180), ("MSH-4", 180), ("MSH-10", 199))


def check_lengths(event: AdtEvent) -> AckError | None:
    """The error for a key field longer than the store keeps."""
    header = event.header
    values = (header.sending_application, header.sending_facility, header.control_id)
    for (location, limit), value in zip(_LIMITS, values, strict=True):
        if len(value) > limit:
            return AckError("104", location, f"{location} is longer than {limit} characters")
    key = format_event_key(header.sending_application, header.sending_facility, header.control_id)
    if len(key) > 200:
        return AckError("104", "MSH-10", "MSH-3, MSH-4 and MSH-10 together are longer than 200 characters")
    return None
