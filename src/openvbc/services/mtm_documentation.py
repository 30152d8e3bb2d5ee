"""Use case: document an MTM encounter (CMR, targeted review or follow-up) in one transaction.

Input is a mapping (the JSON the CLI reads from a file and the web form will post): member,
pharmacy and pharmacist, kind, start/end time or minutes, the reconciled medication list, drug
therapy problems (SNOMED CT from ``rules/pharmacist/dtp_valueset.yaml``, free text always kept,
uncoded problems allowed and listed), goals, interventions, outcomes, and vitals (blood pressure,
HbA1c, tobacco status).

Everything is checked before anything is written; any problem rejects the whole encounter with
every issue listed (file, entry, field), and nothing is stored. What is written: one
``mtm_encounter`` row (which ``openvbc claims 837p`` bills: ``services.claims``), its detail rows
(``mtm_medication`` … ``mtm_outcome``), and the vitals as ``observation`` rows with
``source = pharmacist`` so the measure engine (CMS165, CMS122, CMS138) sees them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, insert, select

from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.domain.mtm_units import classify_patient_status
from openvbc.domain.npi import is_valid_npi
from openvbc.rules.billing_schema import load_mtm_unit_rule
from openvbc.rules.pharmacist.loader import load_dtp_valueset
from openvbc.store.tables import (
    attribution_snapshot,
    fill,
    member,
    mtm_encounter,
    mtm_goal,
    mtm_intervention,
    mtm_medication,
    mtm_outcome,
    mtm_problem,
    observation,
)

KINDS = {"CMR": "CMR", "TMR": "TMR", "FOLLOWUP": "FOLLOWUP", "COMPREHENSIVE": "CMR", "TARGETED": "TMR"}
MEDICATION_STATUSES = ("continued", "new", "changed", "stopped")
MAX_MINUTES = 24 * 60
FALLBACK_LOOKBACK_DAYS = 365
_KEY = re.compile(r"^[A-Za-z0-9\-.]{1,40}$")

# Vitals → observation rows (LOINC codes as US Core vital signs / the eCQMs read them).
BP_PANEL = "85354-9"
SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"
HBA1C = "4548-4"
SMOKING_STATUS = "72166-2"
# Tobacco answers in words → SNOMED CT codes listed in the CMS138 value sets shipped in rules/valuesets
# (Tobacco User 2.16.840.1.113883.3.526.3.1170, Tobacco Non-User 2.16.840.1.113883.3.526.3.1189).
TOBACCO_CODES = {"current": "77176002", "daily": "449868002", "former": "8517006", "never": "266919005"}


@dataclass
class DocumentedEncounter:
    mtm_key: str
    member_key: str
    minutes: int
    patient_status: str
    uncoded_problems: list[str] = field(default_factory=list)
    observations: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "mtm_key": self.mtm_key,
            "member_key": self.member_key,
            "minutes": self.minutes,
            "patient_status": self.patient_status,
            "uncoded_problems": self.uncoded_problems,
            "observations": self.observations,
        }


class _Issues:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[InputIssue] = []

    def add(self, field: str, message: str, line: int | None = None) -> None:
        self.items.append(InputIssue(self.source, line, field, message))


def record_mtm_documentation(
    engine: Engine, document: Mapping[str, Any], *, source: str
) -> DocumentedEncounter:
    """Validate and store one documented MTM encounter; ``InvalidInput`` lists every problem."""
    issues = _Issues(source)
    encounter = _read_header(document, issues)
    details = _read_details(document, issues)
    vitals = _read_vitals(document, issues)
    with engine.begin() as conn:
        member_id = None
        if encounter.get("member_key"):
            member_id = conn.execute(
                select(member.c.member_id).where(member.c.member_key == encounter["member_key"])
            ).scalar()
            if member_id is None:
                issues.add("member_key", f"no member {encounter['member_key']!r} in the store")
        if encounter.get("mtm_key"):
            taken = conn.execute(
                select(mtm_encounter.c.mtm_encounter_id).where(
                    mtm_encounter.c.mtm_key == encounter["mtm_key"]
                )
            ).scalar()
            if taken is not None:
                issues.add("mtm_key", f"encounter {encounter['mtm_key']!r} is already documented")
        if member_id is not None and encounter.get("pharmacy_npi") and encounter.get("service_date"):
            reason = check_member_attribution(
                conn, member_id, encounter["pharmacy_npi"], encounter["service_date"]
            )
            if reason is not None:
                issues.add("member_key", f"not this pharmacy's patient: {reason}")
        if issues.items:
            raise InvalidInput(issues.items)
        assert member_id is not None
        status = encounter.get("patient_status") or _classify(conn, member_id, encounter)
        encounter_id = conn.execute(
            insert(mtm_encounter)
            .values(
                mtm_key=encounter["mtm_key"],
                member_id=member_id,
                pharmacist_npi=encounter["pharmacist_npi"],
                pharmacy_npi=encounter["pharmacy_npi"],
                service_date=encounter["service_date"],
                kind=encounter["kind"],
                minutes=encounter["minutes"],
                patient_status=status,
                start_at=encounter.get("start_at"),
                end_at=encounter.get("end_at"),
            )
            .returning(mtm_encounter.c.mtm_encounter_id)
        ).scalar_one()
        for table, rows in details.items():
            if rows:
                conn.execute(insert(table), [{**row, "mtm_encounter_id": encounter_id} for row in rows])
        observed_at = encounter.get("end_at") or datetime.combine(
            encounter["service_date"], datetime.min.time()
        )
        rows = _observation_rows(encounter["mtm_key"], member_id, observed_at, vitals)
        for row in rows:  # rows differ in their columns (values vs coded answers): one insert each
            conn.execute(insert(observation).values(**row))
    return DocumentedEncounter(
        mtm_key=encounter["mtm_key"],
        member_key=encounter["member_key"],
        minutes=encounter["minutes"],
        patient_status=status,
        uncoded_problems=[row["problem_key"] for row in details[mtm_problem] if row["code"] is None],
        observations=len(rows),
    )


def check_member_attribution(conn: Connection, member_id: int, pharmacy_npi: str, on: date) -> str | None:
    """None when the member is the pharmacy's patient on ``on``; otherwise why not.

    The member's latest pharmacy attribution snapshot on or before the day decides
    (``attribution_snapshot``, revision 0003). With no pharmacy snapshot at all, fall back to "this
    pharmacy dispensed to the member in the 365 days up to the day" (a ``fill`` with its NPI).
    """
    latest = conn.execute(
        select(
            attribution_snapshot.c.provider_npi,
            attribution_snapshot.c.as_of,
            attribution_snapshot.c.program_id,
        )
        .where(
            attribution_snapshot.c.member_id == member_id,
            attribution_snapshot.c.provider_kind == "pharmacy",
            attribution_snapshot.c.as_of <= on,
        )
        .order_by(attribution_snapshot.c.as_of.desc())
        .limit(1)
    ).first()
    if latest is not None:
        if latest.provider_npi == pharmacy_npi:
            return None
        holder = latest.provider_npi or "no pharmacy"
        return f"attributed to {holder} (program {latest.program_id} snapshot of {latest.as_of})"
    start = on - timedelta(days=FALLBACK_LOOKBACK_DAYS)
    dispensed = conn.execute(
        select(
            exists().where(
                and_(
                    fill.c.member_id == member_id,
                    fill.c.pharmacy_npi == pharmacy_npi,
                    fill.c.fill_date > start,
                    fill.c.fill_date <= on,
                )
            )
        )
    ).scalar()
    if dispensed:
        return None
    return (
        f"no attribution snapshot, and pharmacy {pharmacy_npi} has not dispensed to the member "
        f"in the {FALLBACK_LOOKBACK_DAYS} days up to {on}"
    )


def _classify(conn: Connection, member_id: int, encounter: Mapping[str, Any]) -> str:
    rule = load_mtm_unit_rule()
    earlier = conn.execute(
        select(mtm_encounter.c.service_date).where(
            mtm_encounter.c.member_id == member_id, mtm_encounter.c.pharmacy_npi == encounter["pharmacy_npi"]
        )
    ).scalars()
    return classify_patient_status(encounter["service_date"], list(earlier), rule.new_patient_lookback_days)


def _read_header(document: Mapping[str, Any], issues: _Issues) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("mtm_key", "member_key"):
        value = document.get(name)
        if not isinstance(value, str) or not value.strip():
            issues.add(name, "required")
        else:
            out[name] = value.strip()
    for name in ("pharmacy_npi", "pharmacist_npi"):
        value = str(document.get(name) or "")
        if not is_valid_npi(value):
            issues.add(name, f"{value!r} is not a valid NPI (10 digits with the Luhn check digit)")
        else:
            out[name] = value
    kind = KINDS.get(str(document.get("kind") or "").upper())
    if kind is None:
        issues.add("kind", "must be CMR (comprehensive), TMR (targeted) or FOLLOWUP")
    out["kind"] = kind
    start = _moment(document.get("start_at"), "start_at", issues)
    end = _moment(document.get("end_at"), "end_at", issues)
    out["start_at"], out["end_at"] = start, end
    if start is not None and end is not None and end <= start:
        issues.add("end_at", f"ends ({end}) before or when it starts ({start})")
    minutes = document.get("minutes")
    if minutes is None and start is not None and end is not None and end > start:
        minutes = math.ceil((end - start).total_seconds() / 60)
    if not isinstance(minutes, int) or isinstance(minutes, bool):
        issues.add("minutes", "give minutes (a whole number) or both start_at and end_at")
    elif not 0 < minutes <= MAX_MINUTES:
        issues.add("minutes", f"{minutes} is outside 1..{MAX_MINUTES} (one day)")
    else:
        out["minutes"] = minutes
    service_date = _day(document.get("service_date"), "service_date", issues)
    out["service_date"] = service_date or (start.date() if start is not None else None)
    if out["service_date"] is None:
        issues.add("service_date", "required (or a start_at)")
    status = document.get("patient_status")
    if status not in (None, "new", "established"):
        issues.add("patient_status", "must be new or established (or left out to be derived)")
    out["patient_status"] = status
    return out


def _read_details(document: Mapping[str, Any], issues: _Issues) -> dict[Any, list[dict[str, Any]]]:
    valueset = load_dtp_valueset()
    medications = _list(document, "medications", issues)
    problems = _list(document, "problems", issues)
    goals = _list(document, "goals", issues)
    interventions = _list(document, "interventions", issues)
    outcomes = _list(document, "outcomes", issues)
    med_rows: list[dict[str, Any]] = []
    for line, item in enumerate(medications, start=1):
        where = f"medications[{line - 1}]"
        system = item.get("code_system")
        if system not in ("rxnorm", "ndc") or not item.get("code"):
            issues.add(f"{where}.code", "needs code_system rxnorm or ndc and a code")
        if item.get("status", "continued") not in MEDICATION_STATUSES:
            issues.add(f"{where}.status", f"must be one of {', '.join(MEDICATION_STATUSES)}")
        med_rows.append(
            {
                "line_number": line,
                "code_system": system,
                "code": str(item.get("code") or ""),
                "name": str(item.get("name") or item.get("code") or ""),
                "sig": item.get("sig"),
                "status": item.get("status", "continued"),
            }
        )
    problem_rows: list[dict[str, Any]] = []
    for number, item in enumerate(problems):
        where = f"problems[{number}]"
        key = _key(item, where, issues)
        code = item.get("snomed")
        text = str(item.get("text") or "").strip()
        if code is not None and str(code) not in valueset.problems:
            issues.add(
                f"{where}.snomed",
                f"SNOMED CT {code} is not in the pharmacist DTP value set "
                f"(rules/pharmacist/dtp_valueset.yaml v{valueset.version}); record it with no code and the "
                "free text instead",
            )
        if not text:
            issues.add(f"{where}.text", "the pharmacist's free text is required (kept beside the code)")
        med_line = item.get("medication_line")
        if med_line is not None and not (isinstance(med_line, int) and 1 <= med_line <= len(med_rows)):
            issues.add(
                f"{where}.medication_line", f"names no line of the {len(med_rows)} reconciled medications"
            )
        if item.get("status", "active") not in ("active", "resolved"):
            issues.add(f"{where}.status", "must be active or resolved")
        problem_rows.append(
            {
                "problem_key": key,
                "code_system": "snomed" if code is not None else None,
                "code": str(code) if code is not None else None,
                "free_text": text,
                "status": item.get("status", "active"),
                "medication_line": med_line,
            }
        )
    problem_keys = {row["problem_key"] for row in problem_rows}
    goal_rows: list[dict[str, Any]] = []
    for number, item in enumerate(goals):
        where = f"goals[{number}]"
        goal_rows.append(
            {
                "goal_key": _key(item, where, issues),
                "description": _text(item, where, issues),
                "code_system": item.get("code_system"),
                "code": item.get("code"),
                "target_date": _day(item.get("target_date"), f"{where}.target_date", issues),
                "problem_key": _reference(item.get("problem"), problem_keys, f"{where}.problem", issues),
                "status": _choice(
                    item.get("status", "active"), ("active", "achieved", "cancelled"), where, issues
                ),
            }
        )
    goal_keys = {row["goal_key"] for row in goal_rows}
    intervention_rows: list[dict[str, Any]] = []
    for number, item in enumerate(interventions):
        where = f"interventions[{number}]"
        code = item.get("snomed")
        if code is not None and str(code) not in valueset.interventions:
            issues.add(f"{where}.snomed", f"SNOMED CT {code} is not in the pharmacist intervention list")
        intervention_rows.append(
            {
                "intervention_key": _key(item, where, issues),
                "description": _text(item, where, issues),
                "code_system": "snomed" if code is not None else None,
                "code": str(code) if code is not None else None,
                "status": _choice(item.get("status", "completed"), ("completed", "planned"), where, issues),
                "performed_on": _day(item.get("date"), f"{where}.date", issues),
                "problem_key": _reference(item.get("problem"), problem_keys, f"{where}.problem", issues),
            }
        )
    outcome_rows: list[dict[str, Any]] = []
    for number, item in enumerate(outcomes):
        where = f"outcomes[{number}]"
        outcome_rows.append(
            {
                "outcome_key": _key(item, where, issues),
                "description": _text(item, where, issues),
                "value_text": item.get("value"),
                "observed_on": _day(item.get("date"), f"{where}.date", issues),
                "goal_key": _reference(item.get("goal"), goal_keys, f"{where}.goal", issues),
            }
        )
    for name, rows, key in (
        ("problems", problem_rows, "problem_key"),
        ("goals", goal_rows, "goal_key"),
        ("interventions", intervention_rows, "intervention_key"),
        ("outcomes", outcome_rows, "outcome_key"),
    ):
        keys = [row[key] for row in rows]
        for duplicate in sorted({k for k in keys if keys.count(k) > 1 and k}):
            issues.add(name, f"key {duplicate!r} is used twice")
    return {
        mtm_medication: med_rows,
        mtm_problem: problem_rows,
        mtm_goal: goal_rows,
        mtm_intervention: intervention_rows,
        mtm_outcome: outcome_rows,
    }


def _read_vitals(document: Mapping[str, Any], issues: _Issues) -> dict[str, Any]:
    vitals: Any = document.get("vitals") or {}
    if not isinstance(vitals, Mapping):
        issues.add("vitals", "must be an object")
        return {}
    out: dict[str, Any] = {}
    systolic: Any = vitals.get("systolic")
    diastolic: Any = vitals.get("diastolic")
    if (systolic is None) != (diastolic is None):
        issues.add("vitals", "blood pressure needs both systolic and diastolic")
    elif systolic is not None:
        if not (
            _number(systolic) and _number(diastolic) and 40 <= systolic <= 300 and 20 <= diastolic <= 200
        ):
            issues.add("vitals.systolic", f"{systolic}/{diastolic} mmHg is not a plausible blood pressure")
        else:
            out["bp"] = (float(systolic), float(diastolic))
    a1c = vitals.get("a1c")
    if a1c is not None:
        if not (_number(a1c) and 2 <= a1c <= 25):
            issues.add("vitals.a1c", f"{a1c} % is not a plausible HbA1c")
        else:
            out["a1c"] = float(a1c)
    tobacco = vitals.get("tobacco")
    if tobacco is not None:
        code = TOBACCO_CODES.get(str(tobacco).lower(), str(tobacco))
        if code not in TOBACCO_CODES.values():
            issues.add("vitals.tobacco", f"use one of {', '.join(TOBACCO_CODES)} (or their SNOMED CT codes)")
        else:
            out["tobacco"] = code
    return out


def _observation_rows(
    mtm_key: str, member_id: int, at: datetime, vitals: Mapping[str, Any]
) -> list[dict[str, Any]]:
    base = {
        "member_id": member_id,
        "status": "final",
        "effective_at": at,
        "source": "pharmacist",
        "setting": "ambulatory",
    }
    rows: list[dict[str, Any]] = []
    if "bp" in vitals:
        panel = f"mtm/{mtm_key}/{BP_PANEL}"
        for code, value in zip((SYSTOLIC, DIASTOLIC), vitals["bp"], strict=True):
            rows.append(
                {
                    **base,
                    "observation_key": f"{panel}#{code}",
                    "code_system": "loinc",
                    "code": code,
                    "category": "vital-signs",
                    "value_num": value,
                    "unit": "mm[Hg]",
                    "panel_key": panel,
                }
            )
    if "a1c" in vitals:
        rows.append(
            {
                **base,
                "observation_key": f"mtm/{mtm_key}/{HBA1C}",
                "code_system": "loinc",
                "code": HBA1C,
                "category": "laboratory",
                "value_num": vitals["a1c"],
                "unit": "%",
            }
        )
    if "tobacco" in vitals:
        rows.append(
            {
                **base,
                "observation_key": f"mtm/{mtm_key}/{SMOKING_STATUS}",
                "code_system": "loinc",
                "code": SMOKING_STATUS,
                "category": "social-history",
                "value_code_system": "snomed",
                "value_code": vitals["tobacco"],
            }
        )
    return rows


def _list(document: Mapping[str, Any], name: str, issues: _Issues) -> list[Mapping[str, Any]]:
    value = document.get(name) or []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        issues.add(name, "must be a list of objects")
        return []
    return value


def _key(item: Mapping[str, Any], where: str, issues: _Issues) -> str:
    key = str(item.get("key") or "")
    if not _KEY.match(key):
        issues.add(f"{where}.key", "required: 1-40 letters, digits, '-' or '.'")
    return key


def _text(item: Mapping[str, Any], where: str, issues: _Issues) -> str:
    text = str(item.get("text") or "").strip()
    if not text:
        issues.add(f"{where}.text", "required")
    return text


def _reference(value: Any, known: set[str], where: str, issues: _Issues) -> str | None:
    if value is None:
        return None
    if str(value) not in known:
        issues.add(where, f"{value!r} names nothing documented in this encounter")
    return str(value)


def _choice(value: Any, allowed: tuple[str, ...], where: str, issues: _Issues) -> str:
    if value not in allowed:
        issues.add(f"{where}.status", f"must be one of {', '.join(allowed)}")
    return str(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _moment(value: Any, name: str, issues: _Issues) -> datetime | None:
    """An ISO date-time; an offset is converted to UTC and dropped (the store keeps naive UTC)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        issues.add(name, f"{value!r} is not an ISO date-time (YYYY-MM-DDTHH:MM[:SS][±HH:MM])")
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _day(value: Any, name: str, issues: _Issues) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        issues.add(name, f"{value!r} is not a date (YYYY-MM-DD)")
        return None
