"""Small readers over CDA XML shared by the entry and header parsers.

CDA data types read here: II (ids), CD (codes, with nullFlavor and originalText), TS (dates and
date-times at any precision, with or without a UTC offset), ED (text, possibly a ``<reference>``
into the section narrative), IVL_TS (low/high).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, TypeAlias

from lxml import etree

from openvbc.domain.careplan import Code
from openvbc.interop.ccda import templates as t

Element: TypeAlias = Any  # lxml ships no type information; etree._Element at run time
NS = {"h": t.V3}
_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?$")
_FHIR_ID_CHARS = re.compile(r"[^A-Za-z0-9\-.]")


def child(element: Element, name: str) -> Element | None:
    found = element.find(f"h:{name}", NS)
    return found


def attr(element: Element | None, name: str) -> str | None:
    """An attribute of an element that may be missing (lxml elements are falsy when childless)."""
    return element.get(name) if element is not None else None


def children(element: Element, name: str) -> list[Element]:
    return list(element.findall(f"h:{name}", NS))


def template_roots(element: Element) -> set[str]:
    return {str(tid.get("root")) for tid in children(element, "templateId") if tid.get("root")}


def has_template(element: Element, root: str) -> bool:
    return root in template_roots(element)


def local_name(element: Element) -> str:
    return etree.QName(element).localname


def raw_id(element: Element) -> tuple[str, str] | None:
    """(root, extension) of the first usable ``<id>`` (extension may be empty)."""
    for ident in children(element, "id"):
        root = ident.get("root")
        if root:
            return root, ident.get("extension") or ""
    return None


def text_of(element: Element | None) -> str:
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())


def code_of(element: Element | None) -> Code | None:
    """A CD as a Code; None when absent or null-flavoured. Unknown systems keep their OID."""
    if element is None or element.get("nullFlavor") or not element.get("code"):
        if element is not None:
            for translation in children(element, "translation"):
                found = code_of(translation)
                if found is not None:
                    return found
        return None
    oid = element.get("codeSystem") or ""
    system = t.SYSTEM_BY_OID.get(oid, f"oid:{oid}" if oid else "unknown")
    return Code(system, str(element.get("code")), element.get("displayName") or "")


def original_text(element: Element | None, narrative: dict[str, str]) -> str:
    if element is None:
        return ""
    return resolved_text(child(element, "originalText"), narrative) or (element.get("displayName") or "")


def resolved_text(element: Element | None, narrative: dict[str, str]) -> str:
    """ED text: inline text, or the narrative element a ``<reference value="#id"/>`` points at."""
    if element is None:
        return ""
    reference = child(element, "reference")
    if reference is not None and (reference.get("value") or "").startswith("#"):
        target = narrative.get(str(reference.get("value"))[1:])
        if target:
            return target
    return text_of(element)


def index_narrative(root: Element) -> dict[str, str]:
    """Text of every element carrying an ``ID`` attribute (targets of ED references)."""
    return {str(el.get("ID")): text_of(el) for el in root.iter() if isinstance(el.tag, str) and el.get("ID")}


def parse_ts(value: str | None) -> datetime | None:
    """A CDA TS as an aware datetime (no offset → UTC, a documented assumption)."""
    if not value:
        return None
    match = _TS.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, offset = match.groups()
    zone = UTC
    if offset:
        sign = -1 if offset[0] == "-" else 1
        zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
    try:
        return datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=zone,
        )
    except ValueError:
        return None


def parse_day(value: str | None) -> date | None:
    moment = parse_ts(value)
    return moment.date() if moment is not None else None


def interval_days(element: Element | None) -> tuple[date | None, date | None]:
    """(low, high) of an IVL_TS, or (value, None) of a plain TS."""
    if element is None:
        return None, None
    if element.get("value"):
        return parse_day(element.get("value")), None
    low, high = child(element, "low"), child(element, "high")
    return (
        parse_day(low.get("value")) if low is not None else None,
        parse_day(high.get("value")) if high is not None else None,
    )


def model_id(root: str, extension: str) -> str:
    """A FHIR-safe id from a CDA II: the extension when present, else the root (UUIDs fit)."""
    raw = extension or root
    cleaned = _FHIR_ID_CHARS.sub("-", raw)
    if 0 < len(cleaned) <= 64:
        return cleaned
    return "h-" + hashlib.sha1(f"{root}|{extension}".encode()).hexdigest()
