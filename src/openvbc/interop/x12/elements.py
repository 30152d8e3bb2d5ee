"""Data-element limits for the X12 elements the 837P builder writes, and the checks that use them.

Types and lengths are those of the ASC X12 005010 data element dictionary as carried by pyx12's
``map/dataele.xml`` (azoner/pyx12, BSD-3-Clause), keyed here by segment position. A value that
does not fit becomes an :class:`InputIssue` naming the element, so nothing is written or stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from openvbc.domain.errors import InputIssue

# Delimiters the builder uses; they may never appear inside a value.
ELEMENT_SEPARATOR = "*"
COMPONENT_SEPARATOR = ":"
REPETITION_SEPARATOR = "^"
SEGMENT_TERMINATOR = "~"
_RESERVED = {ELEMENT_SEPARATOR, COMPONENT_SEPARATOR, REPETITION_SEPARATOR, SEGMENT_TERMINATOR}
# X12 basic + extended character set: printable ASCII.
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")


@dataclass(frozen=True)
class ElementSpec:
    number: int  # X12 data element number
    kind: str  # AN | ID | N0 | R | DT | TM
    min_len: int
    max_len: int
    name: str


def _spec(number: int, kind: str, low: int, high: int, name: str) -> ElementSpec:
    return ElementSpec(number, kind, low, high, name)


_AN_NAME = _spec(1035, "AN", 1, 60, "Name Last or Organization Name")
_FIRST = _spec(1036, "AN", 1, 35, "Name First")
_ID_CODE = _spec(67, "AN", 2, 80, "Identification Code")
_ID_QUAL = _spec(66, "ID", 1, 2, "Identification Code Qualifier")
_ENTITY = _spec(98, "ID", 2, 3, "Entity Identifier Code")
_ENTITY_TYPE = _spec(1065, "ID", 1, 1, "Entity Type Qualifier")
_REF_QUAL = _spec(128, "ID", 2, 3, "Reference Identification Qualifier")
_REF_ID = _spec(127, "AN", 1, 50, "Reference Identification")
_DATE = _spec(373, "DT", 8, 8, "Date")
_TIME = _spec(337, "TM", 4, 8, "Time")
_MONEY = _spec(782, "R", 1, 18, "Monetary Amount")

ELEMENTS: dict[str, ElementSpec] = {
    "GS02": _spec(142, "AN", 2, 15, "Application Sender's Code"),
    "GS03": _spec(124, "AN", 2, 15, "Application Receiver's Code"),
    "GS04": _DATE,
    "GS05": _TIME,
    "GS06": _spec(28, "N0", 1, 9, "Group Control Number"),
    "ST02": _spec(329, "AN", 4, 9, "Transaction Set Control Number"),
    "BHT03": _REF_ID,
    "BHT04": _DATE,
    "BHT05": _TIME,
    "NM101": _ENTITY,
    "NM102": _ENTITY_TYPE,
    "NM103": _AN_NAME,
    "NM104": _FIRST,
    "NM105": _spec(1037, "AN", 1, 25, "Name Middle"),
    "NM108": _ID_QUAL,
    "NM109": _ID_CODE,
    "PER02": _spec(93, "AN", 1, 60, "Name"),
    "PER03": _spec(365, "ID", 2, 2, "Communication Number Qualifier"),
    "PER04": _spec(364, "AN", 1, 256, "Communication Number"),
    "PRV01": _spec(1221, "ID", 1, 3, "Provider Code"),
    "PRV02": _REF_QUAL,
    "PRV03": _REF_ID,
    "N301": _spec(166, "AN", 1, 55, "Address Information"),
    "N302": _spec(166, "AN", 1, 55, "Address Information"),
    "N401": _spec(19, "AN", 2, 30, "City Name"),
    "N402": _spec(156, "ID", 2, 2, "State or Province Code"),
    "N403": _spec(116, "ID", 3, 15, "Postal Code"),
    "REF01": _REF_QUAL,
    "REF02": _REF_ID,
    "HL01": _spec(628, "AN", 1, 12, "Hierarchical ID Number"),
    "HL02": _spec(734, "AN", 1, 12, "Hierarchical Parent ID Number"),
    "SBR01": _spec(1138, "ID", 1, 1, "Payer Responsibility Sequence Number Code"),
    "SBR02": _spec(1069, "ID", 2, 2, "Individual Relationship Code"),
    "SBR03": _REF_ID,
    "SBR09": _spec(1032, "ID", 1, 2, "Claim Filing Indicator Code"),
    "DMG02": _spec(1251, "AN", 1, 35, "Date Time Period"),
    "DMG03": _spec(1068, "ID", 1, 1, "Gender Code"),
    "CLM01": _spec(1028, "AN", 1, 38, "Claim Submitter's Identifier"),
    "CLM02": _MONEY,
    "CLM05-1": _spec(1331, "AN", 1, 2, "Facility Code Value"),
    "HI01-2": _spec(1271, "AN", 1, 30, "Industry Code"),
    "SV101-2": _spec(234, "AN", 1, 48, "Product/Service ID"),
    "SV101-3": _spec(1339, "AN", 2, 2, "Procedure Modifier"),
    "SV102": _MONEY,
    "SV104": _spec(380, "R", 1, 15, "Quantity"),
    "LX01": _spec(554, "N0", 1, 6, "Assigned Number"),
    "DTP03": _spec(1251, "AN", 1, 35, "Date Time Period"),
}


def check_element(ref: str, value: str, source: str, label: str) -> list[InputIssue]:
    """Problems of ``value`` for element ``ref`` (e.g. ``NM103``); empty when it fits."""
    spec = ELEMENTS[ref]
    where = f"{label} {ref} ({spec.name})"
    issues: list[InputIssue] = []
    if not _PRINTABLE.match(value):
        issues.append(InputIssue(source, None, where, "contains characters outside printable ASCII"))
    reserved = sorted(char for char in _RESERVED if char in value)
    if reserved:
        issues.append(InputIssue(source, None, where, f"contains X12 delimiter(s) {' '.join(reserved)}"))
    length = _measured_length(value, spec.kind)
    if length > spec.max_len:
        issues.append(
            InputIssue(
                source,
                None,
                where,
                f"{value!r} is {length} characters; element {spec.number} allows at most {spec.max_len}",
            )
        )
    elif length < spec.min_len:
        issues.append(
            InputIssue(
                source,
                None,
                where,
                f"{value!r} is {length} characters; element {spec.number} needs at least {spec.min_len}",
            )
        )
    if spec.kind == "N0" and not value.isdigit():
        issues.append(InputIssue(source, None, where, f"value {value!r} must be digits only"))
    if spec.kind in ("DT", "TM") and not value.isdigit():
        issues.append(InputIssue(source, None, where, f"value {value!r} must be a {spec.kind} of digits"))
    return issues


def _measured_length(value: str, kind: str) -> int:
    # X12 counts only the digits of numeric (R / N) values, not the sign or decimal point.
    if kind in ("R", "N0"):
        return sum(char.isdigit() for char in value)
    return len(value)
