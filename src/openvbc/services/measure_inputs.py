"""FHIR R4 patient Bundles -> typed canonical Arrow tables for the measure engine.

`openvbc measures evaluate` feeds eCQM test decks (and any FHIR patient bundles) through
the same Ibis measure expressions that run over the store. This module is the shell that
turns the resources the measures read (Patient, Encounter, Condition, Observation,
Procedure, ServiceRequest, DeviceRequest, MedicationRequest) into the canonical columns of
``openvbc.store.tables`` with dense integer ids (DESIGN.md decision 8).

Problems with a single resource (no date, no unit on a reading, a BP panel with only one
component) never stop the run: the row is kept out of the tables (or flagged so the engine
cannot count it) and an ``InputIssue`` is recorded against the patient.

Why the per-resource details: the CQL reads FHIR elements that the canonical model keeps
in a normalised form, so the mapping computes them once here -- the encounter class
becomes ``setting``; a BP panel becomes one row per component sharing ``panel_key``;
``MedicationRequest`` gets its ``medicationRequestPeriod()`` (CumulativeMedicationDuration
4.1.000) as ``start_date``/``end_date``; DeviceRequest is a procedure row of kind
``device-order`` and ServiceRequest one of kind ``ordered`` (``not-done`` when doNotPerform).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from openvbc.domain.codesystems import system_name_for_uri
from openvbc.domain.errors import InputIssue

BP_PANEL_CODES = frozenset({"85354-9", "55284-4"})
SYSTOLIC_CODE = "8480-6"
DIASTOLIC_CODE = "8462-4"
# v3 ActCode encounter classes -> canonical setting (CMS165 drops readings from the first three kinds)
CLASS_TO_SETTING = {
    "EMER": "ed",
    "IMP": "inpatient",
    "ACUTE": "inpatient",
    "NONAC": "inpatient",
    "PRENC": "preadmission",
    "SS": "observation",
    "AMB": "ambulatory",
    "VR": "virtual",
    "HH": "home",
    "FLD": "ambulatory",
}
DO_NOT_PERFORM_URL = "http://hl7.org/fhir/us/qicore/StructureDefinition/qicore-doNotPerform"
OBSERVATION_CATEGORY_PRIORITY = ("survey", "laboratory", "exam", "vital-signs", "social-history")

_SCHEMAS: dict[str, pa.Schema] = {
    "member": pa.schema(
        [
            ("member_id", pa.int64()),
            ("member_key", pa.string()),
            ("birth_date", pa.date32()),
            ("sex", pa.string()),
            ("line_of_business", pa.string()),
            ("pcp_npi", pa.string()),
            ("death_date", pa.date32()),
        ]
    ),
    "encounter": pa.schema(
        [
            ("encounter_id", pa.int64()),
            ("encounter_key", pa.string()),
            ("member_id", pa.int64()),
            ("setting", pa.string()),
            ("code_system", pa.string()),
            ("code", pa.string()),
            ("additional_codes", pa.string()),
            ("status", pa.string()),
            ("start_at", pa.timestamp("us")),
            ("end_at", pa.timestamp("us")),
            ("discharge_disposition", pa.string()),
        ]
    ),
    "condition": pa.schema(
        [
            ("condition_id", pa.int64()),
            ("condition_key", pa.string()),
            ("member_id", pa.int64()),
            ("code_system", pa.string()),
            ("code", pa.string()),
            ("additional_codes", pa.string()),
            ("category", pa.string()),
            ("clinical_status", pa.string()),
            ("verification_status", pa.string()),
            ("onset_date", pa.date32()),
            ("abatement_date", pa.date32()),
            ("recorded_date", pa.date32()),
        ]
    ),
    "observation": pa.schema(
        [
            ("observation_id", pa.int64()),
            ("observation_key", pa.string()),
            ("member_id", pa.int64()),
            ("code_system", pa.string()),
            ("code", pa.string()),
            ("additional_codes", pa.string()),
            ("category", pa.string()),
            ("status", pa.string()),
            ("value_num", pa.float64()),
            ("unit", pa.string()),
            ("value_code_system", pa.string()),
            ("value_code", pa.string()),
            ("effective_at", pa.timestamp("us")),
            ("effective_end", pa.timestamp("us")),
            ("panel_key", pa.string()),
            ("encounter_id", pa.int64()),
            ("setting", pa.string()),
        ]
    ),
    "procedure": pa.schema(
        [
            ("procedure_id", pa.int64()),
            ("procedure_key", pa.string()),
            ("member_id", pa.int64()),
            ("code_system", pa.string()),
            ("code", pa.string()),
            ("additional_codes", pa.string()),
            ("kind", pa.string()),
            ("status", pa.string()),
            ("performed_start", pa.timestamp("us")),
            ("performed_end", pa.timestamp("us")),
        ]
    ),
    "medication_order": pa.schema(
        [
            ("medication_order_id", pa.int64()),
            ("order_key", pa.string()),
            ("member_id", pa.int64()),
            ("code_system", pa.string()),
            ("code", pa.string()),
            ("additional_codes", pa.string()),
            ("status", pa.string()),
            ("intent", pa.string()),
            ("authored_at", pa.timestamp("us")),
            ("start_date", pa.date32()),
            ("end_date", pa.date32()),
        ]
    ),
}
MEASURE_INPUT_TABLES: tuple[str, ...] = tuple(_SCHEMAS)


@dataclass
class MeasureInputs:
    """Canonical Arrow tables plus what could not be used, per patient."""

    tables: dict[str, pa.Table]
    patient_ids: dict[int, str]  # member_id -> FHIR Patient.id
    issues: list[InputIssue] = field(default_factory=list)
    issues_by_member: dict[int, int] = field(default_factory=dict)


def empty_measure_tables() -> dict[str, pa.Table]:
    """The input tables with no rows (the shape every backend receives)."""
    return {name: schema.empty_table() for name, schema in _SCHEMAS.items()}


def read_bundles(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every ``*.json`` Bundle (recursively) under a folder, with its file label, in name order."""
    if not folder.is_dir():
        raise FileNotFoundError(f"FHIR folder not found: {folder}")
    out: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(folder.rglob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("resourceType") == "Bundle":
            out.append((str(path), data))
    return out


def build_measure_inputs(bundles: Iterable[tuple[str, Mapping[str, Any]]]) -> MeasureInputs:
    """Map patient Bundles to canonical tables (one member per Patient; MeasureReports ignored)."""
    mapper = _BundleMapper()
    for label, bundle in bundles:
        mapper.add_bundle(label, bundle)
    return mapper.finish()


# --------------------------------------------------------------------------- parsing helpers


def _parse_instant(text: str | None) -> datetime | None:
    """FHIR date/dateTime -> naive UTC datetime (dates become midnight)."""
    if not text:
        return None
    value = text.strip()
    if len(value) == 4:
        value += "-01-01"
    if len(value) == 7:
        value += "-01"
    if len(value) == 10:
        return datetime.fromisoformat(value)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _parse_date(text: str | None) -> date | None:
    instant = _parse_instant(text)
    return instant.date() if instant else None


def _coding_text(coding: Mapping[str, Any]) -> str | None:
    system = str(coding.get("system") or "")
    code = coding.get("code")
    if not code:
        return None
    short = system_name_for_uri(system) or system
    return f"{short}|{code}"


def _codings(concept: Mapping[str, Any] | None) -> list[str]:
    if not concept:
        return []
    out = []
    for coding in concept.get("coding", []) or []:
        text = _coding_text(coding)
        if text and text not in out:
            out.append(text)
    return out


def _first_code(codings: list[str]) -> tuple[str | None, str | None]:
    if not codings:
        return None, None
    system, _, code = codings[0].partition("|")
    return system, code


def _ref_id(reference: Mapping[str, Any] | None) -> str | None:
    if not reference or not reference.get("reference"):
        return None
    return str(reference["reference"]).rstrip("/").split("/")[-1]


def _status_code(concept: Mapping[str, Any] | None) -> str | None:
    for coding in (concept or {}).get("coding", []) or []:
        if coding.get("code"):
            return str(coding["code"])
    return None


def _days_of(quantity: Mapping[str, Any] | None) -> float | None:
    """A duration Quantity in days (CQL ``convert ... to days``)."""
    if not quantity or quantity.get("value") is None:
        return None
    unit = str(quantity.get("code") or quantity.get("unit") or "d").lower()
    factor = {
        "d": 1.0,
        "day": 1.0,
        "days": 1.0,
        "wk": 7.0,
        "week": 7.0,
        "weeks": 7.0,
        "mo": 30.0,
        "month": 30.0,
        "months": 30.0,
        "a": 365.0,
        "year": 365.0,
        "years": 365.0,
        "h": 1 / 24,
        "hour": 1 / 24,
        "hours": 1 / 24,
    }.get(unit)
    return float(quantity["value"]) * factor if factor is not None else None


_PER_DAY = {
    "h": 24.0,
    "hour": 24.0,
    "min": 1440.0,
    "minute": 1440.0,
    "s": 86400.0,
    "second": 86400.0,
    "d": 1.0,
    "day": 1.0,
    "wk": 1 / 7,
    "week": 1 / 7,
    "mo": 1 / 30,
    "month": 1 / 30,
    "a": 1 / 365,
    "year": 1 / 365,
}


def medication_request_period(request: Mapping[str, Any]) -> tuple[date | None, date | None]:
    """CumulativeMedicationDuration 4.1.000 ``medicationRequestPeriod()`` for one MedicationRequest."""
    dosages = request.get("dosageInstruction") or []
    dosage = dosages[0] if len(dosages) == 1 else {}
    rates = dosage.get("doseAndRate") or []
    dose_and_rate = rates[0] if len(rates) == 1 else {}
    repeat = (dosage.get("timing") or {}).get("repeat") or {}
    bounds = repeat.get("boundsPeriod") or {}
    dispense = request.get("dispenseRequest") or {}
    frequency = repeat.get("frequencyMax", repeat.get("frequency"))
    doses_per_day: float = 1.0
    if frequency is not None and repeat.get("period") and repeat.get("periodUnit") in _PER_DAY:
        doses_per_day = float(frequency) / float(repeat["period"]) * _PER_DAY[repeat["periodUnit"]]
    elif repeat.get("timeOfDay"):
        doses_per_day = float(len(repeat["timeOfDay"]))
    dose = dose_and_rate.get("doseQuantity") or (dose_and_rate.get("doseRange") or {}).get("high")
    start = (
        _parse_date(bounds.get("start"))
        or _parse_date(request.get("authoredOn"))
        or _parse_date((dispense.get("validityPeriod") or {}).get("start"))
    )
    days_supply = _days_of(dispense.get("expectedSupplyDuration"))
    quantity = (dispense.get("quantity") or {}).get("value")
    if days_supply is None and quantity is not None and dose and dose.get("value"):
        days_supply = float(quantity) / (float(dose["value"]) * doses_per_day)
    refills = int(dispense.get("numberOfRepeatsAllowed") or 0)
    if start is not None and days_supply is not None:
        total = days_supply * (1 + refills)
        return start, start + timedelta(days=int(total) - 1)
    if start is not None and bounds.get("end"):
        return start, _parse_date(bounds.get("end"))
    return start, None


# --------------------------------------------------------------------------- the mapper


class _BundleMapper:
    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in _SCHEMAS}
        self.patient_ids: dict[int, str] = {}
        self.issues: list[InputIssue] = []
        self.issues_by_member: dict[int, int] = {}

    def _issue(self, member_id: int, label: str, where: str, field_name: str, message: str) -> None:
        self.issues.append(InputIssue(label, None, f"{where}.{field_name}", message))
        self.issues_by_member[member_id] = self.issues_by_member.get(member_id, 0) + 1

    def add_bundle(self, label: str, bundle: Mapping[str, Any]) -> None:
        resources = [entry.get("resource") or {} for entry in bundle.get("entry", []) or []]
        patients = [r for r in resources if r.get("resourceType") == "Patient"]
        if not patients:
            return  # not a patient bundle (e.g. a value-set bundle next to the tests)
        if len(patients) > 1:
            self.issues.append(
                InputIssue(label, None, "Bundle.entry", f"expected 1 Patient, found {len(patients)}")
            )
            return
        patient = patients[0]
        member_id = len(self.patient_ids) + 1
        self.patient_ids[member_id] = str(patient.get("id"))
        birth = _parse_date(patient.get("birthDate"))
        if birth is None:
            self._issue(member_id, label, f"Patient/{patient.get('id')}", "birthDate", "missing birth date")
        sex = {"female": "F", "male": "M"}.get(str(patient.get("gender")), "U")
        self.rows["member"].append(
            {
                "member_id": member_id,
                "member_key": str(patient.get("id")),
                "birth_date": birth,
                "sex": sex,
                "line_of_business": _line_of_business(resources),
                "pcp_npi": None,
                "death_date": _parse_date(patient.get("deceasedDateTime")),
            }
        )
        medications = {str(r.get("id")): r for r in resources if r.get("resourceType") == "Medication"}
        encounter_ids: dict[str, tuple[int, str | None]] = {}
        for resource in resources:
            if resource.get("resourceType") == "Encounter":
                encounter_ids[str(resource.get("id"))] = self._add_encounter(member_id, label, resource)
        for resource in resources:
            kind = resource.get("resourceType")
            if kind == "Condition":
                self._add_condition(member_id, label, resource)
            elif kind == "Observation":
                self._add_observation(member_id, label, resource, encounter_ids)
            elif kind in ("Procedure", "ServiceRequest", "DeviceRequest"):
                self._add_procedure(member_id, label, resource)
            elif kind == "MedicationRequest":
                self._add_medication_request(member_id, label, resource, medications)

    def _add_encounter(self, member_id: int, label: str, r: Mapping[str, Any]) -> tuple[int, str | None]:
        encounter_id = len(self.rows["encounter"]) + 1
        codings: list[str] = []
        for concept in r.get("type", []) or []:
            codings += [c for c in _codings(concept) if c not in codings]
        system, code = _first_code(codings)
        period = r.get("period") or {}
        start = _parse_instant(period.get("start"))
        setting = CLASS_TO_SETTING.get(str((r.get("class") or {}).get("code")), "ambulatory")
        if start is None:
            self._issue(
                member_id, label, f"Encounter/{r.get('id')}", "period.start", "encounter has no start"
            )
            return encounter_id, setting
        disposition = _status_code((r.get("hospitalization") or {}).get("dischargeDisposition"))
        self.rows["encounter"].append(
            {
                "encounter_id": encounter_id,
                "encounter_key": f"{label}#{r.get('id')}",
                "member_id": member_id,
                "setting": setting,
                "code_system": system,
                "code": code,
                "additional_codes": ";".join(codings),
                "status": str(r.get("status") or ""),
                "start_at": start,
                "end_at": _parse_instant(period.get("end")),
                "discharge_disposition": disposition,
            }
        )
        return encounter_id, setting

    def _add_condition(self, member_id: int, label: str, r: Mapping[str, Any]) -> None:
        codings = _codings(r.get("code"))
        system, code = _first_code(codings)
        if code is None:
            self._issue(member_id, label, f"Condition/{r.get('id')}", "code", "condition has no code")
            return
        onset = r.get("onsetDateTime") or (r.get("onsetPeriod") or {}).get("start")
        abatement = (
            r.get("abatementDateTime")
            or (r.get("abatementPeriod") or {}).get("end")
            or (r.get("abatementPeriod") or {}).get("start")
        )
        categories = [_status_code(c) for c in r.get("category", []) or []]
        self.rows["condition"].append(
            {
                "condition_id": len(self.rows["condition"]) + 1,
                "condition_key": f"{label}#{r.get('id')}",
                "member_id": member_id,
                "code_system": system,
                "code": code,
                "additional_codes": ";".join(codings),
                "category": next((c for c in categories if c), None),
                "clinical_status": _status_code(r.get("clinicalStatus")),
                "verification_status": _status_code(r.get("verificationStatus")),
                "onset_date": _parse_date(onset),
                "abatement_date": _parse_date(abatement),
                "recorded_date": _parse_date(r.get("recordedDate")),
            }
        )

    def _add_observation(
        self,
        member_id: int,
        label: str,
        r: Mapping[str, Any],
        encounters: Mapping[str, tuple[int, str | None]],
    ) -> None:
        where = f"Observation/{r.get('id')}"
        codings = _codings(r.get("code"))
        system, code = _first_code(codings)
        if code is None:
            self._issue(member_id, label, where, "code", "observation has no code; not used")
            return
        start = _parse_instant(
            r.get("effectiveDateTime")
            or r.get("effectiveInstant")
            or (r.get("effectivePeriod") or {}).get("start")
        )
        end = _parse_instant((r.get("effectivePeriod") or {}).get("end"))
        if start is None:
            start = end
        if start is None:
            self._issue(member_id, label, where, "effective", "observation has no date; not used")
            return
        categories = {c for concept in r.get("category", []) or [] for c in [_status_code(concept)] if c}
        category = next((c for c in OBSERVATION_CATEGORY_PRIORITY if c in categories), None)
        encounter_ref = _ref_id(r.get("encounter"))
        encounter_id, setting = encounters.get(encounter_ref, (None, None)) if encounter_ref else (None, None)
        base = {
            "member_id": member_id,
            "category": category,
            "status": str(r.get("status") or ""),
            "effective_at": start,
            "effective_end": end,
            "encounter_id": encounter_id,
            "setting": setting,
        }
        panel = {c.partition("|")[2] for c in codings if c.startswith("loinc|")} & BP_PANEL_CODES
        if panel:
            found = set()
            for index, component in enumerate(r.get("component", []) or []):
                comp_codings = _codings(component.get("code"))
                comp_system, comp_code = _first_code(comp_codings)
                if comp_code not in (SYSTOLIC_CODE, DIASTOLIC_CODE):
                    continue
                found.add(comp_code)
                value, unit = self._quantity(member_id, label, f"{where}.component[{index}]", component)
                self._append_observation(
                    base
                    | {
                        "observation_key": f"{label}#{r.get('id')}#{comp_code}",
                        "code_system": comp_system,
                        "code": comp_code,
                        "additional_codes": ";".join(comp_codings),
                        "value_num": value,
                        "unit": unit,
                        "value_code_system": None,
                        "value_code": None,
                        "panel_key": f"{label}#{r.get('id')}",
                    }
                )
            for missing in sorted({SYSTOLIC_CODE, DIASTOLIC_CODE} - found):
                self._issue(member_id, label, where, "component", f"blood pressure panel lacks {missing}")
            if found:
                return
            # a panel with no usable component still shows a BP was taken that day
            self._append_observation(
                base
                | {
                    "observation_key": f"{label}#{r.get('id')}",
                    "code_system": system,
                    "code": code,
                    "additional_codes": ";".join(codings),
                    "value_num": None,
                    "unit": None,
                    "value_code_system": None,
                    "value_code": None,
                    "panel_key": f"{label}#{r.get('id')}",
                }
            )
            return
        value, unit = (None, None)
        if "valueQuantity" in r:
            value, unit = self._quantity(member_id, label, where, r)
        value_codings = _codings(r.get("valueCodeableConcept"))
        value_system, value_code = _first_code(value_codings)
        self._append_observation(
            base
            | {
                "observation_key": f"{label}#{r.get('id')}",
                "code_system": system,
                "code": code,
                "additional_codes": ";".join(codings),
                "value_num": value,
                "unit": unit,
                "value_code_system": value_system,
                "value_code": value_code,
                "panel_key": None,
            }
        )

    def _quantity(
        self, member_id: int, label: str, where: str, element: Mapping[str, Any]
    ) -> tuple[Any, Any]:
        quantity = element.get("valueQuantity")
        if not quantity or quantity.get("value") is None:
            self._issue(member_id, label, where, "value", "no numeric value")
            return None, None
        unit = quantity.get("code") or quantity.get("unit")
        if not unit:
            self._issue(member_id, label, where, "value.unit", "value has no unit; not counted")
        return float(quantity["value"]), (str(unit) if unit else None)

    def _append_observation(self, row: dict[str, Any]) -> None:
        row["observation_id"] = len(self.rows["observation"]) + 1
        self.rows["observation"].append(row)

    def _add_procedure(self, member_id: int, label: str, r: Mapping[str, Any]) -> None:
        kind_name = str(r.get("resourceType"))
        codings = _codings(r.get("codeCodeableConcept") if kind_name == "DeviceRequest" else r.get("code"))
        system, code = _first_code(codings)
        if code is None:
            self._issue(member_id, label, f"{kind_name}/{r.get('id')}", "code", "no code; not used")
            return
        if kind_name == "Procedure":
            kind = "performed"
            start = _parse_instant(
                r.get("performedDateTime") or (r.get("performedPeriod") or {}).get("start")
            )
            end = _parse_instant((r.get("performedPeriod") or {}).get("end"))
        else:
            not_done = r.get("doNotPerform") is True or any(
                ext.get("url") == DO_NOT_PERFORM_URL and ext.get("valueBoolean") is True
                for ext in r.get("modifierExtension", []) or []
            )
            kind = "device-order" if kind_name == "DeviceRequest" else "ordered"
            if r.get("intent") != "order":
                kind = "proposed"  # plans and proposals are not orders (Status library isXOrder)
            if not_done:
                kind = "not-done"
            start, end = _parse_instant(r.get("authoredOn")), None
        if start is None:
            self._issue(member_id, label, f"{kind_name}/{r.get('id')}", "date", "no date; not used")
            return
        self.rows["procedure"].append(
            {
                "procedure_id": len(self.rows["procedure"]) + 1,
                "procedure_key": f"{label}#{r.get('id')}",
                "member_id": member_id,
                "code_system": system,
                "code": code,
                "additional_codes": ";".join(codings),
                "kind": kind,
                "status": str(r.get("status") or ""),
                "performed_start": start,
                "performed_end": end,
            }
        )

    def _add_medication_request(
        self, member_id: int, label: str, r: Mapping[str, Any], medications: Mapping[str, Mapping[str, Any]]
    ) -> None:
        concept = r.get("medicationCodeableConcept")
        if concept is None:
            reference = _ref_id(r.get("medicationReference"))
            contained = {str(c.get("id")): c for c in r.get("contained", []) or []}
            medication = medications.get(reference or "") or contained.get((reference or "").lstrip("#"))
            concept = (medication or {}).get("code")
        codings = _codings(concept)
        system, code = _first_code(codings)
        authored = _parse_instant(r.get("authoredOn"))
        if code is None or authored is None:
            field_name = "medication" if code is None else "authoredOn"
            self._issue(member_id, label, f"MedicationRequest/{r.get('id')}", field_name, "missing; not used")
            return
        start, end = medication_request_period(r)
        self.rows["medication_order"].append(
            {
                "medication_order_id": len(self.rows["medication_order"]) + 1,
                "order_key": f"{label}#{r.get('id')}",
                "member_id": member_id,
                "code_system": system,
                "code": code,
                "additional_codes": ";".join(codings),
                "status": str(r.get("status") or ""),
                "intent": str(r.get("intent") or ""),
                "authored_at": authored,
                "start_date": start,
                "end_date": end if end is not None and start is not None and end >= start else None,
            }
        )

    def finish(self) -> MeasureInputs:
        tables = {
            name: pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table()
            for name, schema in _SCHEMAS.items()
            for rows in [self.rows[name]]
        }
        return MeasureInputs(tables, self.patient_ids, self.issues, self.issues_by_member)


def _line_of_business(resources: list[Mapping[str, Any]]) -> str:
    for resource in resources:
        if resource.get("resourceType") == "Coverage":
            for coding in (resource.get("type") or {}).get("coding", []) or []:
                code = str(coding.get("code") or "")
                if code.startswith("1"):
                    return "medicare"
                if code.startswith("2"):
                    return "medicaid"
                if code.startswith("5") or code.startswith("6"):
                    return "commercial"
    return "unknown"
