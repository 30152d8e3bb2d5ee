"""Fold the ADT events of one visit into the encounter they describe (pure).

The state is a function of the *set* of events, not of their arrival order: events are
applied in order of EVN-2 event time, ties broken by a fixed trigger rank and then the event
key. So an A08 that arrives before its A01, or an A03 before the A01, gives the same
encounter once all have arrived (reliability-plan.md §7.1 H14).

Status follows FHIR Encounter.status, which the store's encounter table uses:
A04 register -> ``arrived`` (the "presented" ED/outpatient notification), A01 admit and
A02 transfer -> ``in-progress``, A03 discharge -> ``finished``, A11 cancel admit/visit ->
``cancelled``, A13 cancel discharge -> back to ``in-progress``; A08 updates details only.
Setting from PV1-2 patient class (HL7 table 0004): E -> ed; I and B (obstetrics) -> inpatient;
O -> observation when PV1-18 patient type says observation, else ambulatory; R recurring ->
ambulatory; anything else or absent -> ambulatory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from openvbc.interop.hl7v2.adt import OBSERVATION_PATIENT_TYPES, AdtEvent

_RANK = {"A04": 0, "A01": 1, "A08": 2, "A02": 3, "A03": 4, "A13": 5, "A11": 6}


@dataclass(frozen=True)
class VisitEvent:
    """The fields of one stored event that an encounter is built from."""

    event_key: str
    trigger: str
    event_at: datetime
    patient_class: str | None = None
    patient_type: str | None = None
    admit_at: datetime | None = None
    discharge_at: datetime | None = None
    discharge_disposition: str | None = None
    provider_npi: str | None = None
    facility_npi: str | None = None

    @classmethod
    def from_adt(cls, event_key: str, event: AdtEvent) -> VisitEvent:
        return cls(
            event_key=event_key,
            trigger=event.trigger,
            event_at=event.event_at,
            patient_class=event.patient_class,
            patient_type=event.patient_type,
            admit_at=event.admit_at,
            discharge_at=event.discharge_at,
            discharge_disposition=event.discharge_disposition,
            provider_npi=event.provider_npi,
            facility_npi=event.facility_npi,
        )


@dataclass(frozen=True)
class EncounterState:
    """What the encounter row should hold."""

    setting: str
    status: str
    start_at: datetime
    end_at: datetime | None
    discharge_disposition: str | None
    provider_npi: str | None
    facility_npi: str | None
    patient_class: str | None


def encounter_key_for(facility: str, event: AdtEvent, member_key: str) -> str:
    """Natural key of the visit: facility + PV1-19 visit number when sent.

    Without a visit number the admit time (PV1-44), else the event date, stands in, so an
    A01 and its A03 still meet when both carry PV1-44.
    """
    if event.visit_number:
        return f"adt|{facility}|{event.visit_number}"[:96]
    anchor = event.admit_at or datetime(event.event_at.year, event.event_at.month, event.event_at.day)
    return f"adt|{facility}|{member_key}|{anchor:%Y%m%d%H%M%S}"[:96]


def choose_setting(patient_class: str | None, patient_type: str | None) -> str:
    if patient_class == "E":
        return "ed"
    if patient_class in ("I", "B"):
        return "inpatient"
    if patient_class == "O" and (patient_type or "") in OBSERVATION_PATIENT_TYPES:
        return "observation"
    return "ambulatory"


def summarize_visit(events: Iterable[VisitEvent]) -> EncounterState | None:
    """The encounter the visit's events describe; None when there are none to apply."""
    ordered = sorted(
        (e for e in events if e.trigger in _RANK),
        key=lambda e: (e.event_at, _RANK[e.trigger], e.event_key),
    )
    if not ordered:
        return None
    status = ""
    admit_at: datetime | None = None
    end_at: datetime | None = None
    disposition: str | None = None
    patient_class = patient_type = provider = facility = None
    for event in ordered:
        # Details: the latest event that states a value wins.
        patient_class = event.patient_class or patient_class
        patient_type = event.patient_type or patient_type
        provider = event.provider_npi or provider
        facility = event.facility_npi or facility
        admit_at = event.admit_at or admit_at
        if event.trigger == "A04":
            if status in ("", "cancelled"):
                status = "arrived"
        elif event.trigger in ("A01", "A02"):
            if event.trigger == "A01" or status in ("", "arrived", "cancelled"):
                status = "in-progress"
                end_at = disposition = None
        elif event.trigger == "A08":
            status = status or "in-progress"
        elif event.trigger == "A03":
            status = "finished"
            end_at = event.discharge_at or event.event_at
            disposition = event.discharge_disposition or disposition
        elif event.trigger == "A13":
            if status == "finished":
                status = "in-progress"
                end_at = disposition = None
        elif event.trigger == "A11":
            status = "cancelled"
            end_at = None
    start_at = admit_at or ordered[0].event_at
    if end_at is not None and end_at < start_at:
        end_at = start_at  # a discharge stamped before the admit: keep the period valid
    return EncounterState(
        setting=choose_setting(patient_class, patient_type),
        status=status,
        start_at=start_at,
        end_at=end_at,
        discharge_disposition=disposition,
        provider_npi=provider,
        facility_npi=facility,
        patient_class=patient_class,
    )
