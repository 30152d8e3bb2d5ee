"""Condition -> conditions row (FHIR R4 Condition, QI-Core 4.1.1 profile).

The measures use ``prevalenceInterval()`` from QICoreCommon 2.1.000: it starts at the onset
and ends at the end of the abatement, where ``onset``/``abatement`` may be a dateTime, a
Period, an Age or a Range of ages. An age is turned into a date the way QICoreCommon's
``toInterval()`` / ``abatementInterval()`` do: onset = birth date + age; an abatement age
covers the whole year of age, so its end is birth date + age + 1 year, less one day (the
interval is open at that end). The Patient's birth date comes from the same import.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from openvbc.interop.fhir.datatypes import (
    FhirValueError,
    JsonObject,
    add_years,
    as_object,
    as_text,
    decimal_text,
)
from openvbc.interop.fhir.elements import (
    category_text,
    code_columns,
    date_of,
    first_status_code,
    member_of,
)
from openvbc.interop.fhir.extract import FhirExtract
from openvbc.interop.fhir.references import ResourceIndex, ResourceItem, resource_key


def map_condition(item: ResourceItem, index: ResourceIndex, out: FhirExtract) -> None:
    condition = item.resource
    member_key = member_of(item, index, "subject")
    codes = code_columns(condition.get("code"), "Condition.code")
    birth_date = index.birth_dates.get(member_key)
    values: dict[str, str | None] = {
        "condition_key": resource_key(condition, item.full_url),
        "member_key": member_key,
        **codes,
        "category": category_text(condition.get("category")),
        "clinical_status": first_status_code(condition.get("clinicalStatus")),
        "verification_status": first_status_code(condition.get("verificationStatus")),
        "onset_date": _onset_date(condition, birth_date),
        "abatement_date": _abatement_date(condition, birth_date),
        "recorded_date": date_of(condition.get("recordedDate"), "Condition.recordedDate"),
        "source": "ehr",
    }
    out.add_row("conditions", item.label, item.line, values)


def _onset_date(condition: JsonObject, birth_date: date | None) -> str | None:
    if condition.get("onsetDateTime") is not None:
        return date_of(condition.get("onsetDateTime"), "Condition.onsetDateTime")
    period = as_object(condition.get("onsetPeriod"))
    if period is not None:
        start = date_of(period.get("start"), "Condition.onsetPeriod.start")
        return start or date_of(period.get("end"), "Condition.onsetPeriod.end", end=True)
    if condition.get("onsetAge") is not None:
        return _age_date(condition.get("onsetAge"), birth_date, "Condition.onsetAge", plus_year=False)
    onset_range = as_object(condition.get("onsetRange"))
    if onset_range is not None:
        return _age_date(onset_range.get("low"), birth_date, "Condition.onsetRange.low", plus_year=False)
    return None  # onsetString has no date; the prevalence interval then has no start


def _abatement_date(condition: JsonObject, birth_date: date | None) -> str | None:
    if condition.get("abatementDateTime") is not None:
        return date_of(condition.get("abatementDateTime"), "Condition.abatementDateTime", end=True)
    period = as_object(condition.get("abatementPeriod"))
    if period is not None:
        end = date_of(period.get("end"), "Condition.abatementPeriod.end", end=True)
        return end or date_of(period.get("start"), "Condition.abatementPeriod.start")
    if condition.get("abatementAge") is not None:
        return _age_date(condition.get("abatementAge"), birth_date, "Condition.abatementAge", plus_year=True)
    abatement_range = as_object(condition.get("abatementRange"))
    if abatement_range is not None:
        field = "Condition.abatementRange.high"
        return _age_date(abatement_range.get("high"), birth_date, field, plus_year=True)
    return None


def _age_date(age: object, birth_date: date | None, field: str, *, plus_year: bool) -> str:
    """Birth date + an Age (years, months, weeks or days); ``plus_year`` gives the year's last day."""
    obj = as_object(age)
    value = decimal_text(obj.get("value")) if obj else None
    unit = (as_text(obj.get("code")) or as_text(obj.get("unit"))) if obj else None
    if value is None or unit is None:
        raise FhirValueError(field, "an Age needs a value and a unit")
    if birth_date is None:
        raise FhirValueError(field, "an age needs the Patient's birth date, which is not in this import")
    amount = int(float(value))  # CQL adds whole calendar units
    unit = unit.lower()
    if unit in ("a", "year", "years"):
        day = add_years(birth_date, amount)
    elif unit in ("mo", "month", "months"):
        months = birth_date.month - 1 + amount
        day = _add_months(birth_date, months // 12, months % 12 + 1)
    elif unit in ("wk", "week", "weeks"):
        day = birth_date + timedelta(weeks=amount)
    elif unit in ("d", "day", "days"):
        day = birth_date + timedelta(days=amount)
    else:
        raise FhirValueError(field, f"unit {unit!r} is not a time unit")
    if plus_year:
        day = add_years(day, 1) - timedelta(days=1)
    return day.isoformat()


def _add_months(birth_date: date, years: int, month: int) -> date:
    year = birth_date.year + years
    return date(year, month, min(birth_date.day, calendar.monthrange(year, month)[1]))
