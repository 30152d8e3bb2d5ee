"""MedicationRequest -> medication_orders; MedicationDispense -> fills or medication_orders.

MedicationRequest ``start_date``/``end_date`` follow ``medicationRequestPeriod()`` of
CumulativeMedicationDuration 4.1.000 (eCQM content qicore-2024), which the measures use for
"active" medications (AdvancedIllnessandFrailty dementia drugs, CMS138 cessation therapy):

    start = first of (timing.repeat.boundsPeriod.start, authoredOn, dispenseRequest.validityPeriod.start)
    days  = (expectedSupplyDuration in days, else quantity / (dose * doses per day)) * (1 + refills)
    end   = start + (days - 1) days; else the end of boundsPeriod; else unknown (empty).

As in the CQL, doses per day come from ``ToDaily(frequency, period)``, else the number of
``timeOfDay`` entries -- which is 0 when there are none, so the quantity route then gives no
duration. ``start_date`` is kept even when no end can be computed; CQL would give no period at
all, so rules that need the CQL period must require ``end_date``. Requests with
``doNotPerform`` true (QI-Core MedicationNotRequested) are counted in ``skipped``, as are
requests whose ``medicationReference`` names a Medication that is not in the import: a
dangling reference is legal FHIR, and references resolve by logical id, as the CQL engine
does (the eCQM case "DementiaMedAsReferenceCQLIT412" expects exactly that).

MedicationDispense becomes a ``fills`` row when it is a completed dispense with an NDC coding,
a days supply, a quantity and a dispensing pharmacy with a valid NPI (``performer.actor``) --
everything the fills file requires. Any other dispense is kept as a medication_orders row with
intent ``dispense``, start = whenHandedOver (else whenPrepared) and end = start + days supply - 1,
as ``medicationDispensePeriod()`` of the same library computes it.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from openvbc.domain.ndc import NdcError, normalize_ndc
from openvbc.interop.fhir.datatypes import (
    FhirValueError,
    JsonObject,
    as_list,
    as_object,
    as_text,
    codings_of,
    decimal_text,
    quantity_in_days,
    read_date,
)
from openvbc.interop.fhir.elements import code_columns, datetime_of, member_of
from openvbc.interop.fhir.extract import FhirExtract
from openvbc.interop.fhir.references import ResourceIndex, ResourceItem, resource_key

NDC_SYSTEM = "http://hl7.org/fhir/sid/ndc"

# ToDaily(frequency, period) of CumulativeMedicationDuration: doses per day per unit of period.
_PER_DAY_FACTOR: dict[str, Decimal] = {
    **dict.fromkeys(("h", "hour", "hours"), Decimal(24)),
    **dict.fromkeys(("min", "minute", "minutes"), Decimal(24 * 60)),
    **dict.fromkeys(("s", "second", "seconds"), Decimal(24 * 60 * 60)),
    **dict.fromkeys(("d", "day", "days"), Decimal(1)),
    **dict.fromkeys(("wk", "week", "weeks"), Decimal(1) / Decimal(7)),
    **dict.fromkeys(("mo", "month", "months"), Decimal(1) / Decimal(30)),
    **dict.fromkeys(("a", "year", "years"), Decimal(1) / Decimal(365)),
}


class MedicationNotFound(Exception):
    """The Medication a request points at is not in this import (legal FHIR, so not an issue)."""


def map_medication_request(item: ResourceItem, index: ResourceIndex, out: FhirExtract) -> None:
    request = item.resource
    if request.get("doNotPerform") is True:
        out.skip("MedicationRequest (doNotPerform)")
        return
    member_key = member_of(item, index, "subject")
    try:
        concept = _medication_concept(item, index)
    except MedicationNotFound:
        out.skip("MedicationRequest (Medication not in this import)")
        return
    codes = code_columns(concept, "MedicationRequest.medication[x]")
    start, end = _request_period(request)
    authored = datetime_of(request.get("authoredOn"), "MedicationRequest.authoredOn")
    if authored is None and start is not None:
        authored = f"{start.isoformat()}T00:00:00"
    if authored is None:
        raise FhirValueError("MedicationRequest.authoredOn", "missing, and no other start date is given")
    values: dict[str, str | None] = {
        "order_key": resource_key(request, item.full_url),
        "member_key": member_key,
        **codes,
        "status": as_text(request.get("status")),
        "intent": as_text(request.get("intent")),
        "authored_at": authored,
        "start_date": start.isoformat() if start else None,
        "end_date": end.isoformat() if end else None,
        "prescriber_npi": index.npi_for(request.get("requester")),
        "source": "ehr",
    }
    out.add_row("medication_orders", item.label, item.line, values)


def map_medication_dispense(item: ResourceItem, index: ResourceIndex, out: FhirExtract) -> None:
    dispense = item.resource
    if dispense.get("status") == "entered-in-error":
        out.skip("MedicationDispense (entered-in-error)")
        return
    member_key = member_of(item, index, "subject")
    try:
        concept = _medication_concept(item, index)
    except MedicationNotFound:
        out.skip("MedicationDispense (Medication not in this import)")
        return
    handed = datetime_of(dispense.get("whenHandedOver"), "MedicationDispense.whenHandedOver")
    handed = handed or datetime_of(dispense.get("whenPrepared"), "MedicationDispense.whenPrepared")
    if handed is None:
        raise FhirValueError("MedicationDispense.whenHandedOver", "missing (and no whenPrepared)")
    days = quantity_in_days(dispense.get("daysSupply"))
    quantity = decimal_text((as_object(dispense.get("quantity")) or {}).get("value"))
    pharmacy_npi = next(
        (
            npi
            for p in as_list(dispense.get("performer"))
            if (npi := index.npi_for((as_object(p) or {}).get("actor")))
        ),
        None,
    )
    ndc = _ndc_of(concept)
    key = resource_key(dispense, item.full_url)
    if dispense.get("status") == "completed" and ndc and days and days > 0 and quantity and pharmacy_npi:
        fill: dict[str, str | None] = {
            "fill_key": key,
            "member_key": member_key,
            "ndc": ndc,
            "fill_date": handed[:10],
            "days_supply": str(int(days)),
            "quantity": quantity,
            "pharmacy_npi": pharmacy_npi,
            "prescriber_npi": None,
        }
        out.add_row("fills", item.label, item.line, fill)
        return
    start = date.fromisoformat(handed[:10])
    end = start + timedelta(days=int(days) - 1) if days and days >= 1 else None
    values: dict[str, str | None] = {
        "order_key": key,
        "member_key": member_key,
        **code_columns(concept, "MedicationDispense.medication[x]"),
        "status": as_text(dispense.get("status")),
        "intent": "dispense",
        "authored_at": handed,
        "start_date": start.isoformat(),
        "end_date": end.isoformat() if end else None,
        "prescriber_npi": None,
        "source": "ehr",
    }
    out.add_row("medication_orders", item.label, item.line, values)


def _medication_concept(item: ResourceItem, index: ResourceIndex) -> object:
    """medicationCodeableConcept, or the code of the referenced (or contained) Medication."""
    resource = item.resource
    type_name = resource.get("resourceType")
    if resource.get("medicationCodeableConcept") is not None:
        return resource.get("medicationCodeableConcept")
    reference = as_object(resource.get("medicationReference"))
    if reference is None:
        raise FhirValueError(f"{type_name}.medication[x]", "missing")
    text = as_text(reference.get("reference")) or ""
    if text.startswith("#"):
        for contained in as_list(resource.get("contained")):
            if isinstance(contained, dict) and contained.get("id") == text[1:]:
                return contained.get("code")
        raise FhirValueError(f"{type_name}.medicationReference", f"contained {text} not found")
    target = index.resolve(reference)
    if target is None or target not in index.medications:
        raise MedicationNotFound(str(type_name))
    return index.medications[target]


def _ndc_of(concept: object) -> str | None:
    for system, code in codings_of(concept):
        if system == NDC_SYSTEM:
            try:
                return normalize_ndc(code)
            except NdcError:
                return None
    return None


def _request_period(request: JsonObject) -> tuple[date | None, date | None]:
    """(start, end) per medicationRequestPeriod() -- see the module docstring."""
    dosages = as_list(request.get("dosageInstruction"))
    dosage = as_object(dosages[0]) if len(dosages) == 1 else None  # CQL ``singleton from``
    timing = as_object((dosage or {}).get("timing")) or {}
    repeat = as_object(timing.get("repeat")) or {}
    bounds = as_object(repeat.get("boundsPeriod")) or {}
    dispense = as_object(request.get("dispenseRequest")) or {}
    validity = as_object(dispense.get("validityPeriod")) or {}
    start = _first_date(
        (bounds.get("start"), "dosageInstruction.timing.repeat.boundsPeriod.start"),
        (request.get("authoredOn"), "authoredOn"),
        (validity.get("start"), "dispenseRequest.validityPeriod.start"),
    )
    if start is None:
        return None, None
    total = _total_days_supplied(dosage or {}, repeat, dispense)
    if total is not None:
        return start, start + timedelta(days=int(total - 1))
    bounds_end = _first_date((bounds.get("end"), "dosageInstruction.timing.repeat.boundsPeriod.end"))
    return start, bounds_end


def _total_days_supplied(dosage: JsonObject, repeat: JsonObject, dispense: JsonObject) -> Decimal | None:
    days = quantity_in_days(dispense.get("expectedSupplyDuration"))
    if days is None:
        days = _days_from_quantity(dosage, repeat, dispense)
    if days is None:
        return None
    refills = _decimal(dispense.get("numberOfRepeatsAllowed")) or Decimal(0)
    return days * (1 + refills)


def _days_from_quantity(dosage: JsonObject, repeat: JsonObject, dispense: JsonObject) -> Decimal | None:
    quantity = _decimal((as_object(dispense.get("quantity")) or {}).get("value"))
    rates = as_list(dosage.get("doseAndRate"))
    rate = as_object(rates[0]) if len(rates) == 1 else None
    dose_range = as_object((rate or {}).get("doseRange")) or {}
    dose_quantity = as_object((rate or {}).get("doseQuantity")) or {}
    dose = _decimal((as_object(dose_range.get("high")) or {}).get("value")) or _decimal(
        dose_quantity.get("value")
    )
    frequency = _decimal(repeat.get("frequencyMax")) or _decimal(repeat.get("frequency"))
    period = _decimal(repeat.get("period"))
    factor = _PER_DAY_FACTOR.get(str(repeat.get("periodUnit")))
    if frequency is not None and period and factor is not None:
        per_day = frequency * factor / period
    else:
        per_day = Decimal(len(as_list(repeat.get("timeOfDay"))))
    if quantity is None or dose is None or dose * per_day == 0:
        return None
    return quantity / (dose * per_day)


def _first_date(*candidates: tuple[object, str]) -> date | None:
    for value, field in candidates:
        if value is None:
            continue
        try:
            return read_date(value)
        except ValueError as exc:
            raise FhirValueError(f"MedicationRequest.{field}", str(exc)) from None
    return None


def _decimal(value: object) -> Decimal | None:
    text = decimal_text(value)
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None
