"""ADT messages to admission/discharge/transfer events (pure).

Source: HL7 v2.5.1 chapter 3 "Patient Administration" (ADT^A01 admit/visit, A02 transfer,
A03 discharge/end visit, A04 register, A08 update, A11 cancel admit/visit, A13 cancel
discharge, A40 merge patient identifier list), and domain-rules.md §A11 for the fields used:
EVN-2 recorded time (the event time, not MSH-7: FHIR-Converter #260), PID-3 identifiers,
PV1-2 patient class (HL7 table 0004), PV1-3 location, PV1-7 attending doctor, PV1-18
patient type, PV1-19 visit number, PV1-36 discharge disposition, PV1-44/45 admit and
discharge times, MRG-1 prior identifiers (A40).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from openvbc.domain.npi import is_valid_npi
from openvbc.interop.hl7v2.ack import AckError, MessageHeader, read_header
from openvbc.interop.hl7v2.message import Message, Segment

SUPPORTED_TRIGGERS = ("A01", "A02", "A03", "A04", "A08", "A11", "A13", "A40")
# HL7 table 0004 patient class.
PATIENT_CLASSES = frozenset("BCEINOPRU")
# PV1-18 patient type is user-defined (table 0018); these are the common spellings for an
# observation stay. Extend here when a sending facility uses another.
OBSERVATION_PATIENT_TYPES = frozenset({"OBS", "OBV", "OBSERVATION", "OB"})

_DTM = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d{1,4})?([+-]\d{4})?\Z")


class AdtContentError(ValueError):
    """The message is readable but its content cannot become an event (answered AE)."""

    def __init__(self, error: AckError) -> None:
        super().__init__(f"{error.location}: {error.text}")
        self.error = error


@dataclass(frozen=True)
class AdtEvent:
    """One ADT trigger event as the store needs it."""

    header: MessageHeader
    trigger: str
    event_at: datetime
    member_keys: tuple[str, ...]  # candidate identifiers, PID-3 repetitions then PID-2
    prior_member_keys: tuple[str, ...]  # MRG-1 (A40 only)
    patient_class: str | None
    patient_type: str | None
    admit_at: datetime | None
    discharge_at: datetime | None
    visit_number: str | None
    discharge_disposition: str | None
    facility_npi: str | None
    provider_npi: str | None
    location: str | None


def parse_hl7_datetime(value: str) -> datetime | None:
    """An HL7 DTM/TS value as a naive local datetime; None for empty or HL7 null (``""``).

    The UTC offset, when given, is dropped: ADT feeds are in the facility's local time and
    the worklists that use them count local business days. Raises ValueError when malformed.
    """
    text = value.strip()
    if not text or text == '""':
        return None
    match = _DTM.match(text)
    if not match:
        raise ValueError(f"not an HL7 date/time: {value!r}")
    year, month, day, hour, minute, second = (int(g) if g else None for g in match.groups()[:6])
    return datetime(year or 1, month or 1, day or 1, hour or 0, minute or 0, second or 0)


def format_event_key(application: str, facility: str, control_id: str) -> str:
    """The duplicate key (MSH-3, MSH-4, MSH-10) as one string, '|' separated with '|' escaped."""
    return "|".join(
        part.replace("\\", "\\\\").replace("|", "\\p") for part in (application, facility, control_id)
    )


def split_event_key(key: str) -> tuple[str, str, str]:
    """Inverse of ``format_event_key``."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(key)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            current.append("|" if nxt == "p" else nxt)
        elif char == "|":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    if len(parts) != 3:
        raise ValueError(f"not an event key: {key!r}")
    return parts[0], parts[1], parts[2]


def read_adt_event(message: Message) -> AdtEvent:
    """Map a parsed ADT message to an event; raises ``AdtContentError`` naming the field."""
    header = read_header(message)
    trigger = header.trigger or _value(message.segment("EVN"), 1)
    if not header.control_id:
        raise AdtContentError(AckError("101", "MSH-10", "message control id (MSH-10) is required"))
    if trigger not in SUPPORTED_TRIGGERS:
        raise AdtContentError(AckError("201", "MSH-9", f"unsupported ADT event {trigger!r}"))
    pid = message.segment("PID")
    if pid is None:
        raise AdtContentError(AckError("100", "PID", "PID segment is required"))
    member_keys = _identifiers(pid, 3) + _identifiers(pid, 2)
    if not member_keys:
        raise AdtContentError(AckError("101", "PID-3", "patient identifier (PID-3) is required"))
    evn = message.segment("EVN")
    event_at = _datetime(evn, 2, "EVN-2") if evn else None
    if event_at is None:
        event_at = _datetime(message.msh, 7, "MSH-7")
    if event_at is None:
        raise AdtContentError(AckError("101", "EVN-2", "event time (EVN-2, or MSH-7) is required"))
    prior: tuple[str, ...] = ()
    if trigger == "A40":
        prior = _identifiers(message.segment("MRG"), 1)
        if not prior:
            raise AdtContentError(AckError("101", "MRG-1", "prior patient identifier (MRG-1) is required"))
    pv1 = message.segment("PV1")
    if pv1 is None and trigger != "A40":
        raise AdtContentError(AckError("100", "PV1", f"PV1 segment is required for {trigger}"))
    patient_class = _value(pv1, 2).upper()
    patient_type = _value(pv1, 18).upper()
    return AdtEvent(
        header=header,
        trigger=trigger,
        event_at=event_at,
        member_keys=member_keys,
        prior_member_keys=prior,
        patient_class=patient_class if patient_class in PATIENT_CLASSES else None,
        patient_type=patient_type or None,
        admit_at=_datetime(pv1, 44, "PV1-44"),
        discharge_at=_datetime(pv1, 45, "PV1-45"),
        visit_number=(_value(pv1, 19) or None),
        discharge_disposition=(_value(pv1, 36)[:4] or None),
        facility_npi=_facility_npi(message),
        provider_npi=_provider_npi(pv1),
        location=(_value(pv1, 3, 4) or None),
    )


def _value(segment: Segment | None, number: int, component: int = 1) -> str:
    if segment is None:
        return ""
    text = segment.value(number, component).strip()
    return "" if text == '""' else text


def _datetime(segment: Segment | None, number: int, location: str) -> datetime | None:
    if segment is None:
        return None
    try:
        return parse_hl7_datetime(segment.value(number, 1))
    except ValueError as error:
        raise AdtContentError(AckError("102", location, str(error))) from None


def _identifiers(segment: Segment | None, number: int) -> tuple[str, ...]:
    if segment is None:
        return ()
    found = []
    for repetition in range(1, len(segment.repetitions(number)) + 1):
        ident = segment.value(number, 1, repetition).strip()
        if ident and ident != '""' and ident not in found:
            found.append(ident[:64])
    return tuple(found)


def _facility_npi(message: Message) -> str | None:
    # MSH-4 is an HD (namespace^universal id^universal id type); an NPI may sit in either.
    msh = message.msh
    if msh.value(4, 3).upper() == "NPI" and is_valid_npi(msh.value(4, 2)):
        return msh.value(4, 2)
    namespace = msh.value(4, 1)
    return namespace if is_valid_npi(namespace) else None


def _provider_npi(pv1: Segment | None) -> str | None:
    # PV1-7 attending doctor is an XCN; XCN-13 is the identifier type code.
    if pv1 is None:
        return None
    ident = pv1.value(7, 1)
    if is_valid_npi(ident) and pv1.value(7, 13).upper() in ("", "NPI"):
        return ident
    return None
