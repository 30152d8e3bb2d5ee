"""Use cases: build a member's Pharmacist eCare Plan from the store, export it (FHIR PhCP or
C-CDA), and import care plans (C-CDA or FHIR PhCP) into the store.

Export builds the plan from the member's latest documented MTM encounter (problems, goals,
interventions, outcomes, reconciled medications), the fills of the 12 months before it (the
dispensing history), the member's coverage and the pharmacy and pharmacist (``provider``).
The rendered document is checked before it is written — the CDA against the CDA R2 + SDTC schema,
the Bundle against the PhCP profile check — and a plan that fails is an internal error, never a
file. Every stored plan (``care_plan``) keeps the model as the canonical PhCP Bundle JSON.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, delete, insert, select

from openvbc.domain.careplan import (
    CareEncounter,
    CarePlan,
    Code,
    CoverageEntry,
    DispenseEntry,
    Goal,
    Intervention,
    MedicationEntry,
    MedicationTherapyProblem,
    Outcome,
    Patient,
    Pharmacist,
    Pharmacy,
    list_careplan_problems,
)
from openvbc.domain.errors import InputIssue, InvalidInput, UserError
from openvbc.interop.ccda.parse import read_careplan_cda
from openvbc.interop.ccda.render import render_careplan_cda
from openvbc.interop.ccda.validate import parse_xml, validate_cda_schema
from openvbc.interop.fhir_phcp.parse import read_careplan_fhir
from openvbc.interop.fhir_phcp.profiles import check_phcp_bundle
from openvbc.interop.fhir_phcp.render import render_careplan_fhir
from openvbc.rules.pharmacist.loader import load_dtp_valueset
from openvbc.store.tables import (
    care_plan,
    coverage,
    fill,
    member,
    mtm_encounter,
    mtm_goal,
    mtm_intervention,
    mtm_medication,
    mtm_outcome,
    mtm_problem,
    provider,
)

Format = Literal["fhir", "cda"]
DISPENSE_LOOKBACK_DAYS = 365
ENCOUNTER_CODE = Code("snomed", "185389009", "Follow-up visit")  # PhCP-Encounter example type (HL7/PhCP-r4)


@dataclass(frozen=True)
class CarePlanFile:
    care_plan_key: str
    member_key: str
    format: str
    out: str | None
    problems: int
    uncoded_problems: int
    goals: int
    interventions: int
    medications: int
    dispenses: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def build_member_careplan(conn: Connection, member_key: str) -> tuple[CarePlan, int]:
    """The plan of the member's latest MTM encounter, and that encounter's id."""
    person = conn.execute(select(member).where(member.c.member_key == member_key)).mappings().first()
    if person is None:
        raise InvalidInput([InputIssue("command line", None, "--member", f"no member {member_key!r}")])
    encounter = (
        conn.execute(
            select(mtm_encounter)
            .where(mtm_encounter.c.member_id == person["member_id"])
            .order_by(mtm_encounter.c.service_date.desc(), mtm_encounter.c.mtm_encounter_id.desc())
        )
        .mappings()
        .first()
    )
    if encounter is None:
        raise UserError(f"member {member_key} has no documented MTM encounter to build a care plan from")
    eid = encounter["mtm_encounter_id"]
    valueset = load_dtp_valueset()

    def rows(table: Any) -> list[Any]:
        return list(conn.execute(select(table).where(table.c.mtm_encounter_id == eid)).mappings())

    meds = sorted(rows(mtm_medication), key=lambda r: r["line_number"])
    med_id = {r["line_number"]: f"med-{r['line_number']}" for r in meds}
    start = _utc(encounter["start_at"]) or datetime.combine(
        encounter["service_date"], datetime.min.time(), UTC
    )
    end = _utc(encounter["end_at"]) or start + timedelta(minutes=encounter["minutes"])
    plan = CarePlan(
        id=f"cp-{eid}",
        title="Pharmacist Care Plan",
        patient=Patient(
            person["member_key"],
            person["first_name"] or "",
            person["last_name"] or "",
            person["birth_date"],
            person["sex"],
        ),
        author=_pharmacist(conn, encounter["pharmacist_npi"]),
        pharmacy=Pharmacy(encounter["pharmacy_npi"], _provider_name(conn, encounter["pharmacy_npi"])),
        created_at=end,
        period_start=encounter["service_date"],
        encounter=CareEncounter(f"mtm-{eid}", ENCOUNTER_CODE, start, end),
        problems=tuple(
            MedicationTherapyProblem(
                r["problem_key"],
                Code("snomed", r["code"], valueset.problems.get(r["code"], "")) if r["code"] else None,
                r["free_text"],
                r["status"],
                encounter["service_date"],
                (med_id[r["medication_line"]],) if r["medication_line"] in med_id else (),
            )
            for r in rows(mtm_problem)
        ),
        goals=tuple(
            Goal(
                r["goal_key"],
                r["description"],
                Code(r["code_system"], r["code"]) if r["code"] and r["code_system"] else None,
                r["status"],
                encounter["service_date"],
                r["target_date"],
                (r["problem_key"],) if r["problem_key"] else (),
            )
            for r in rows(mtm_goal)
        ),
        interventions=tuple(
            Intervention(
                r["intervention_key"],
                r["description"],
                Code("snomed", r["code"], valueset.interventions.get(r["code"], "")) if r["code"] else None,
                r["status"],
                r["performed_on"],
                (r["problem_key"],) if r["problem_key"] else (),
            )
            for r in rows(mtm_intervention)
        ),
        outcomes=tuple(
            Outcome(
                r["outcome_key"],
                r["description"],
                None,
                r["value_text"] or "",
                r["observed_on"],
                (r["goal_key"],) if r["goal_key"] else (),
            )
            for r in rows(mtm_outcome)
        ),
        medications=tuple(
            MedicationEntry(
                med_id[r["line_number"]],
                Code(r["code_system"], r["code"]),
                r["name"],
                r["sig"] or "",
                "stopped" if r["status"] == "stopped" else "active",
            )
            for r in meds
        ),
        dispenses=_dispenses(conn, person["member_id"], encounter["service_date"], meds, med_id),
        coverages=_coverages(conn, person["member_id"], person["member_key"], encounter["service_date"]),
    )
    problems = list_careplan_problems(plan)
    if problems:
        raise InvalidInput(
            [InputIssue(f"mtm encounter {encounter['mtm_key']}", None, None, p) for p in problems]
        )
    return plan, eid


def export_member_careplan(
    engine: Engine, member_key: str, fmt: Format, out: Path, *, now: datetime
) -> CarePlanFile:
    """Render, check, store and write the member's care plan (the file is never overwritten)."""
    if out.exists():
        raise UserError(f"{out} already exists; care plan files are never overwritten")
    with engine.begin() as conn:
        plan, encounter_id = build_member_careplan(conn, member_key)
        payload = render_careplan_document(plan, fmt)
        _store(conn, plan, "authored", encounter_id, now)
        partial = out.with_name(out.name + ".partial")
        partial.write_bytes(payload)
    os.replace(partial, out)
    return _summary(plan, fmt, str(out))


def render_careplan_document(plan: CarePlan, fmt: Format) -> bytes:
    """The plan as bytes in ``fmt``, checked; a failed check is a bug in the renderer (RuntimeError)."""
    if fmt == "cda":
        payload = render_careplan_cda(plan)
        problems = validate_cda_schema(parse_xml(payload, "rendered"), "rendered")
    else:
        bundle = render_careplan_fhir(plan)
        problems = check_phcp_bundle(bundle, "rendered")
        payload = (json.dumps(bundle, indent=2, ensure_ascii=False) + "\n").encode()
    if problems:
        raise RuntimeError(
            "rendered care plan fails its check: " + "; ".join(p.render() for p in problems[:5])
        )
    return payload


def read_careplan_file(path: Path) -> tuple[CarePlan, Literal["cda", "fhir"]]:
    """A C-CDA (.xml) or FHIR PhCP (.json) care plan file as the model (strict)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UserError(f"cannot read {path}: {error}") from error
    if path.suffix.lower() == ".json":
        try:
            bundle = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InvalidInput(
                [InputIssue(str(path), getattr(error, "lineno", None), None, f"not JSON: {error}")]
            ) from None
        return read_careplan_fhir(bundle, str(path)), "fhir"
    return read_careplan_cda(data, str(path)), "cda"


def import_careplan_file(engine: Engine, path: Path, *, now: datetime) -> CarePlanFile:
    """Store a care plan file for its member (re-importing the same plan id replaces it)."""
    plan, origin = read_careplan_file(path)
    with engine.begin() as conn:
        _store(conn, plan, origin, None, now)
    return _summary(plan, origin, None)


def _store(conn: Connection, plan: CarePlan, origin: str, encounter_id: int | None, now: datetime) -> None:
    member_id = conn.execute(
        select(member.c.member_id).where(member.c.member_key == plan.patient.member_key)
    ).scalar()
    if member_id is None:
        raise InvalidInput(
            [InputIssue(plan.id, None, "patient", f"no member {plan.patient.member_key!r} in the store")]
        )
    conn.execute(delete(care_plan).where(care_plan.c.care_plan_key == plan.id))
    conn.execute(
        insert(care_plan).values(
            care_plan_key=plan.id,
            member_id=member_id,
            mtm_encounter_id=encounter_id,
            origin=origin,
            pharmacy_npi=plan.pharmacy.npi,
            created_at=plan.created_at.astimezone(UTC).replace(tzinfo=None),
            stored_at=now,
            document=json.dumps(render_careplan_fhir(plan), sort_keys=True),
        )
    )


def load_stored_careplan(conn: Connection, care_plan_key: str) -> CarePlan:
    document = conn.execute(
        select(care_plan.c.document).where(care_plan.c.care_plan_key == care_plan_key)
    ).scalar()
    if document is None:
        raise UserError(f"no stored care plan {care_plan_key!r}")
    return read_careplan_fhir(json.loads(document), care_plan_key)


def _summary(plan: CarePlan, fmt: str, out: str | None) -> CarePlanFile:
    return CarePlanFile(
        plan.id,
        plan.patient.member_key,
        fmt,
        out,
        len(plan.problems),
        sum(1 for p in plan.problems if p.code is None),
        len(plan.goals),
        len(plan.interventions),
        len(plan.medications),
        len(plan.dispenses),
    )


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None else None


def _provider_name(conn: Connection, npi: str) -> str:
    return conn.execute(select(provider.c.name).where(provider.c.npi == npi)).scalar() or f"NPI {npi}"


def _pharmacist(conn: Connection, npi: str) -> Pharmacist:
    name = conn.execute(select(provider.c.name).where(provider.c.npi == npi)).scalar() or ""
    given, _, family = name.partition(" ")
    return Pharmacist(npi, given, family or name)


def _dispenses(
    conn: Connection, member_id: int, service_date: date, meds: list[Any], med_id: dict[int, str]
) -> tuple[DispenseEntry, ...]:
    by_ndc = {r["code"]: med_id[r["line_number"]] for r in meds if r["code_system"] == "ndc"}
    fills = conn.execute(
        select(fill)
        .where(
            fill.c.member_id == member_id,
            fill.c.fill_date > service_date - timedelta(days=DISPENSE_LOOKBACK_DAYS),
            fill.c.fill_date <= service_date,
        )
        .order_by(fill.c.fill_date, fill.c.fill_id)
    ).mappings()
    return tuple(
        DispenseEntry(
            f"fill-{r['fill_id']}",
            by_ndc.get(r["ndc11"]),
            Code("ndc", r["ndc11"], r["ingredient"] or ""),
            _quantity(r["quantity"]),
            r["days_supply"],
            r["fill_date"],
            r["pharmacy_npi"],
        )
        for r in fills
    )


def _quantity(value: float) -> Decimal:
    """Fill quantities are stored as floats: whole amounts become integers (no exponent forms)."""
    amount = Decimal(str(value))
    return Decimal(int(amount)) if amount == amount.to_integral_value() else amount


def _coverages(conn: Connection, member_id: int, member_key: str, on: date) -> tuple[CoverageEntry, ...]:
    spans = conn.execute(
        select(coverage).where(
            coverage.c.member_id == member_id,
            coverage.c.start_date <= on,
            (coverage.c.end_date.is_(None)) | (coverage.c.end_date >= on),
        )
    ).mappings()
    return tuple(
        CoverageEntry(f"cov-{r['coverage_id']}", member_key, r["line_of_business"], r["plan_code"] or "")
        for r in spans
    )
