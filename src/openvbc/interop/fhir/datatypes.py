"""FHIR R4 primitive and general-purpose data types, read into plan-package strings.

Implements the R4 (4.0.1) rules for ``date``, ``dateTime`` and ``instant``
(https://hl7.org/fhir/R4/datatypes.html#primitive): partial dates are allowed (``2025``,
``2025-03``), a time always carries a zone offset. The package stores date-times without a
zone, so an offset is folded into UTC here; the eCQM measurement periods are written in UTC
(``@2025-01-01T00:00:00.000Z``), so UTC keeps the comparisons the CQL makes.

Every reader takes untyped JSON values and checks their type itself: bad data must become an
``InputIssue`` upstream, never an exception that escapes the mapper.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from openvbc.domain.codesystems import system_name_for_uri

JsonObject = dict[str, Any]

_DATETIME = re.compile(
    r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


class FhirValueError(ValueError):
    """A FHIR value that cannot be read; ``field`` names the element for the issue report."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def read_datetime(text: object, *, end: bool = False) -> datetime:
    """Parse a FHIR date/dateTime/instant to a naive datetime (UTC when an offset was given).

    Missing parts are filled with the earliest moment (``end=False``) or the latest second
    (``end=True``) of the stated precision, so a period ending ``2025-12`` covers December.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a date-time string, got {type(text).__name__}")
    match = _DATETIME.match(text.strip())
    if match is None:
        raise ValueError(f"not a FHIR date-time: {text!r}")
    parts = match.groupdict()
    year = int(parts["year"])
    month = int(parts["month"] or (12 if end else 1))
    last_day = calendar.monthrange(year, month)[1] if 1 <= month <= 12 else 31
    day = int(parts["day"] or (last_day if end else 1))
    if parts["hour"] is None:
        hour, minute, second = (23, 59, 59) if end else (0, 0, 0)
    else:
        hour, minute = int(parts["hour"]), int(parts["minute"])
        second = int(parts["second"] or (59 if end else 0))
    try:
        value = datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise ValueError(f"not a valid date-time: {text!r} ({exc})") from None
    zone = parts["zone"]
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        value = (value - sign * offset).replace(tzinfo=None)
    return value


def format_datetime(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def datetime_text(text: object, *, end: bool = False) -> str:
    """A FHIR date-time as the package's ``YYYY-MM-DDTHH:MM:SS`` (UTC when an offset was given)."""
    return format_datetime(read_datetime(text, end=end))


def date_text(text: object, *, end: bool = False) -> str:
    """A FHIR date or date-time as ``YYYY-MM-DD`` (the UTC calendar day for zoned date-times)."""
    return read_datetime(text, end=end).date().isoformat()


def read_date(text: object) -> date:
    return read_datetime(text).date()


def decimal_text(value: object) -> str | None:
    """A JSON number as a plain decimal string (no exponent), or None when it is not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    if not number.is_finite():
        return None
    return format(number, "f")


def as_object(value: object) -> JsonObject | None:
    return value if isinstance(value, dict) else None


def as_list(value: object) -> list[Any]:
    """A FHIR repeating element as a list (tolerates a single object where an array belongs)."""
    if isinstance(value, list):
        return value
    if value is None:
        return []
    return [value]


def as_text(value: object) -> str | None:
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def codings_of(concept: object) -> list[tuple[str, str]]:
    """(system URI, code) for every coding of a CodeableConcept (or a bare Coding)."""
    obj = as_object(concept)
    if obj is None:
        return []
    raw = as_list(obj.get("coding")) if "coding" in obj else [obj]
    out: list[tuple[str, str]] = []
    for coding in raw:
        coding_obj = as_object(coding)
        if coding_obj is None:
            continue
        code = as_text(coding_obj.get("code"))
        if code is None:
            continue
        out.append((as_text(coding_obj.get("system")) or "", code))
    return out


def short_system(uri: str) -> str:
    """Our short name for a modeled system, else the URI unchanged (for ``additional_codes``)."""
    return system_name_for_uri(uri) or uri


def pick_code(codings: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The first coding in a system we model, as (short system, code)."""
    for uri, code in codings:
        name = system_name_for_uri(uri) if uri else None
        if name is not None:
            return name, code
    return None


def join_codes(codings: list[tuple[str, str]]) -> str | None:
    """Every coding as ``system|code`` joined by ``;`` (short names where we model the system)."""
    seen: list[str] = []
    for uri, code in codings:
        item = f"{short_system(uri)}|{code}"
        if item not in seen:
            seen.append(item)
    return ";".join(seen) or None


def first_code_in(concepts: list[Any], system_uri: str | None = None) -> str | None:
    """The first code across concepts, optionally only from one system."""
    for concept in concepts:
        for uri, code in codings_of(concept):
            if system_uri is None or uri == system_uri:
                return code
    return None


def codes_in(concepts: list[Any], system_uri: str | None = None) -> list[str]:
    out: list[str] = []
    for concept in concepts:
        for uri, code in codings_of(concept):
            if (system_uri is None or uri == system_uri) and code not in out:
                out.append(code)
    return out


def quantity_value_and_unit(quantity: object) -> tuple[str | None, str | None]:
    """(decimal text, UCUM code) of a Quantity; ``unit`` text when no UCUM code is given."""
    obj = as_object(quantity)
    if obj is None:
        return None, None
    value = decimal_text(obj.get("value"))
    unit = as_text(obj.get("code")) or as_text(obj.get("unit"))
    return value, unit


def quantity_in_days(quantity: object) -> Decimal | None:
    """A duration Quantity in days (UCUM and FHIR time units), as CQL ``convert ... to days``."""
    obj = as_object(quantity)
    if obj is None:
        return None
    text = decimal_text(obj.get("value"))
    unit = as_text(obj.get("code")) or as_text(obj.get("unit"))
    if text is None or unit is None:
        return None
    per_day = _DAYS_PER_UNIT.get(unit.lower())
    if per_day is None:
        return None
    return Decimal(text) * per_day


# UCUM time units (and the spelled-out forms CQL accepts) in days. A UCUM month is 30.4375 days
# and a year 365.25 days ('mo' = 'a'/12); CQL calendar months are not used for supply durations.
_DAYS_PER_UNIT: dict[str, Decimal] = {
    "d": Decimal(1),
    "day": Decimal(1),
    "days": Decimal(1),
    "wk": Decimal(7),
    "week": Decimal(7),
    "weeks": Decimal(7),
    "mo": Decimal("30.4375"),
    "month": Decimal("30.4375"),
    "months": Decimal("30.4375"),
    "a": Decimal("365.25"),
    "year": Decimal("365.25"),
    "years": Decimal("365.25"),
    "h": Decimal(1) / Decimal(24),
    "hour": Decimal(1) / Decimal(24),
    "hours": Decimal(1) / Decimal(24),
}


def add_years(day: date, years: int) -> date:
    """Calendar year arithmetic; 29 February moves to 28 February in a common year."""
    target = day.year + years
    if day.month == 2 and day.day == 29 and not calendar.isleap(target):
        return date(target, 2, 28)
    return day.replace(year=target)


def extension_values(resource: JsonObject, url: str, *, modifier: bool = False) -> list[Any]:
    """The ``value[x]`` of every (modifier) extension with the given URL."""
    key = "modifierExtension" if modifier else "extension"
    out: list[Any] = []
    for extension in as_list(resource.get(key)):
        obj = as_object(extension)
        if obj is None or obj.get("url") != url:
            continue
        for name, value in obj.items():
            if name.startswith("value"):
                out.append(value)
    return out
