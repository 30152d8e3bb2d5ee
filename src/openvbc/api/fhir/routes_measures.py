"""FHIR R4 measure operations and care plans.

- ``Measure/[id]/$evaluate-measure`` (FHIR R4 Measure operation; DEQM): ``subject=Patient/x``
  gives an individual MeasureReport, no subject a summary over the caller's members;
- ``Measure/$care-gaps`` (Da Vinci DEQM): a Bundle of individual MeasureReports, each group
  marked open-gap / closed-gap;
- ``MeasureReport/[measure].[member]`` read and ``MeasureReport?patient=&measure=`` search;
- ``CarePlan/[member]`` (the member's current Pharmacist eCare Plan) and ``CarePlan/[member]/$document``.

Results are the program year's population results (``services.web_views``) filtered to the
caller's members through ``services.access``; reports are built by ``engine.measure_report``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Connection, select

from openvbc.api.deps import ActorDep, audited
from openvbc.api.fhir.render import render_searchset
from openvbc.api.fhir.routes_fhir import FHIR_ID, fhir_response
from openvbc.api.outcomes import ApiError
from openvbc.domain.errors import UserError
from openvbc.engine.measure_report import build_individual_report, build_summary_report
from openvbc.services import access
from openvbc.services.access import Actor
from openvbc.services.careplan import build_member_careplan, render_careplan_document
from openvbc.services.measures import load_measure_rule
from openvbc.services.web_views import ProgramView
from openvbc.store.tables import member

router = APIRouter(prefix="/fhir", tags=["fhir"])

GAP_STATUS_URL = "http://hl7.org/fhir/us/davinci-deqm/StructureDefinition/extension-gapStatus"
PATIENT_REF = Annotated[str | None, Query(max_length=80, pattern=r"^(Patient/)?[A-Za-z0-9\-\.]{1,64}$")]
# A request waits this long for a computation in progress, then answers 503 with Retry-After.
VIEW_WAIT_SECONDS = 5.0


def program_view(request: Request) -> ProgramView:
    """The computed program year, waiting for a build in progress; 503 when there is none."""
    views = request.app.state.program_views
    if views is None:
        raise ApiError("not-supported", "no program year is configured on this server")
    view: ProgramView | None = views.wait(timeout=VIEW_WAIT_SECONDS)
    if view is None:
        raise ApiError(
            "transient",
            views.status().get("error") or "measure results are still being computed",
            headers={"Retry-After": "10"},
        )
    return view


def _rule(view: ProgramView, measure_id: str) -> dict[str, Any]:
    if measure_id.upper() not in view.measure_ids():
        raise ApiError("not-found", f"no Measure/{measure_id} evaluated for program year {view.year}")
    try:
        return load_measure_rule(measure_id, view.year)
    except UserError as error:
        raise ApiError("not-found", str(error)) from None


def _check_period(
    view: ProgramView, rule: dict[str, Any], start: date | None, end: date | None
) -> tuple[date, date]:
    period = rule["measurement_period"]
    first, last = _as_date(period["start"]), _as_date(period["end"])
    if (start is not None and start != first) or (end is not None and end != last):
        raise ApiError(
            "not-supported",
            f"only the program year's measurement period {first}..{last} is evaluated",
            ["periodStart", "periodEnd"],
        )
    return first, last


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _member_key(reference: str) -> str:
    return reference.removeprefix("Patient/")


def _scoped_ids(connection: Connection, actor: Actor) -> set[int]:
    access.require(actor, access.MEMBER_READ)
    return {
        int(m)
        for m in connection.execute(select(member.c.member_id).where(access.member_scope(actor))).scalars()
    }


def _rows(view: ProgramView, measure_id: str, member_ids: set[int] | None) -> list[dict[str, Any]]:
    return [
        row
        for row in view.results
        if row["measure_id"] == measure_id.upper()
        and (member_ids is None or int(row["member_id"]) in member_ids)
    ]


def _individual(
    view: ProgramView, rule: dict[str, Any], person: dict[str, Any], first: date, last: date
) -> dict[str, Any]:
    rows = _rows(view, str(rule["id"]), {int(person["member_id"])})
    return build_individual_report(
        rule,
        rows,
        subject=f"Patient/{person['member_key']}",
        period_start=first,
        period_end=last,
        report_id=f"{rule['id']}.{person['member_key']}",
    )


@router.get("/Measure/{measure_id}/$evaluate-measure", response_model=dict[str, Any])
def evaluate_measure(
    request: Request,
    actor: ActorDep,
    measure_id: FHIR_ID,
    subject: PATIENT_REF = None,
    periodStart: date | None = None,
    periodEnd: date | None = None,
) -> JSONResponse:
    """Individual report for ``subject=Patient/x``; otherwise a summary over the caller's members."""
    access.require_scope(actor, "MeasureReport", "r")
    view = program_view(request)
    rule = _rule(view, measure_id)
    first, last = _check_period(view, rule, periodStart, periodEnd)
    with audited(
        request, actor, action="read", resource_type="MeasureReport", resource_id=measure_id
    ) as unit:
        if subject:
            person = access.find_member(unit.connection, actor, _member_key(subject))
            unit.touch([str(person["member_key"])])
            return fhir_response(_individual(view, rule, person, first, last))
        ids = None if actor.sees_whole_plan else _scoped_ids(unit.connection, actor)
        access.require(actor, access.MEMBER_READ)
        report = build_summary_report(rule, _rows(view, measure_id, ids), period_start=first, period_end=last)
    return fhir_response(report)


@router.get("/Measure/$care-gaps", response_model=dict[str, Any])
def care_gaps(
    request: Request,
    actor: ActorDep,
    subject: PATIENT_REF = None,
    measureId: Annotated[list[str] | None, Query(max_length=20)] = None,
    status: Annotated[str | None, Query(pattern="^(open-gap|closed-gap)$")] = None,
    periodStart: date | None = None,
    periodEnd: date | None = None,
    _count: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    """DEQM care gaps: one individual MeasureReport per member and measure in the denominator."""
    access.require_scope(actor, "MeasureReport", "r")
    view = program_view(request)
    wanted = [m.upper() for m in measureId] if measureId else view.measure_ids()
    rules = [_rule(view, m) for m in wanted]
    entries: list[dict[str, Any]] = []
    with audited(
        request, actor, action="search", resource_type="MeasureReport", resource_id="$care-gaps"
    ) as unit:
        if subject:
            people = [access.find_member(unit.connection, actor, _member_key(subject))]
        else:
            access.require(actor, access.MEMBER_READ)
            in_denominator = sorted({int(r["member_id"]) for r in view.results if r["denominator"]})
            ids = (
                in_denominator
                if actor.sees_whole_plan
                else sorted(set(in_denominator) & _scoped_ids(unit.connection, actor))
            )
            people = [
                dict(row)
                for row in unit.connection.execute(
                    select(member).where(member.c.member_id.in_(ids[:_count]), access.member_scope(actor))
                ).mappings()
            ]
        for rule in rules:
            first, last = _check_period(view, rule, periodStart, periodEnd)
            for person in people:
                report = _individual(view, rule, person, first, last)
                gap = _gap_status(_rows(view, str(rule["id"]), {int(person["member_id"])}))
                if gap is None or (status and gap != status):
                    continue
                report.setdefault("extension", []).append({"url": GAP_STATUS_URL, "valueCode": gap})
                entries.append({"fullUrl": f"MeasureReport/{report['id']}", "resource": report})
        unit.touch(sorted({str(p["member_key"]) for p in people}))
    return fhir_response(
        {"resourceType": "Bundle", "type": "collection", "total": len(entries), "entry": entries}
    )


def _gap_status(rows: list[dict[str, Any]]) -> str | None:
    """open-gap when any group has the member in the denominator, not excluded, not in the numerator."""
    counted = [
        r
        for r in rows
        if r["denominator"] and not r["denominator_exclusion"] and not r["denominator_exception"]
    ]
    if not counted:
        return None
    return "open-gap" if any(not r["numerator"] for r in counted) else "closed-gap"


@router.get("/MeasureReport/{resource_id}", response_model=dict[str, Any])
def read_measure_report(request: Request, actor: ActorDep, resource_id: FHIR_ID) -> JSONResponse:
    """``[measure].[member]``: the member's individual report for the program year."""
    access.require_scope(actor, "MeasureReport", "r")
    measure_id, _, member_key = resource_id.partition(".")
    with audited(
        request, actor, action="read", resource_type="MeasureReport", resource_id=resource_id
    ) as unit:
        person = access.find_member(unit.connection, actor, member_key)  # scope first: 404 for others
        view = program_view(request)
        rule = _rule(view, measure_id)
        first, last = _check_period(view, rule, None, None)
        unit.touch([member_key])
        return fhir_response(_individual(view, rule, person, first, last))


@router.get("/MeasureReport", response_model=dict[str, Any])
def search_measure_reports(
    request: Request,
    actor: ActorDep,
    patient: PATIENT_REF = None,
    measure: Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z0-9\-]+$")] = None,
) -> JSONResponse:
    """With ``patient``: that member's individual reports; without: summaries over the caller's members."""
    access.require_scope(actor, "MeasureReport", "s")
    view = program_view(request)
    measures = [measure.upper()] if measure else view.measure_ids()
    rules = [_rule(view, m) for m in measures]
    resources = []
    with audited(request, actor, action="search", resource_type="MeasureReport", resource_id=patient) as unit:
        if patient:
            person = access.find_member(unit.connection, actor, _member_key(patient))
            unit.touch([str(person["member_key"])])
            for rule in rules:
                first, last = _check_period(view, rule, None, None)
                resources.append(_individual(view, rule, person, first, last))
        else:
            ids = None if actor.sees_whole_plan else _scoped_ids(unit.connection, actor)
            access.require(actor, access.MEMBER_READ)
            for rule in rules:
                first, last = _check_period(view, rule, None, None)
                summary = build_summary_report(
                    rule, _rows(view, str(rule["id"]), ids), period_start=first, period_end=last
                )
                summary["id"] = f"{rule['id']}.summary"
                resources.append(summary)
    return fhir_response(render_searchset(resources, str(request.url), None))


# --- CarePlan -----------------------------------------------------------------------------------


def _careplan_bundle(request: Request, actor: Actor, member_key: str, action: str) -> dict[str, Any]:
    access.require_scope(actor, "CarePlan", "r")
    with audited(request, actor, action=action, resource_type="CarePlan", resource_id=member_key) as unit:
        access.find_member(unit.connection, actor, member_key)
        try:
            plan, _encounter = build_member_careplan(unit.connection, member_key)
        except UserError as error:
            raise ApiError("not-found", str(error)) from None
        unit.touch([member_key])
    bundle: dict[str, Any] = json.loads(render_careplan_document(plan, "fhir"))
    return bundle


@router.get("/CarePlan/{resource_id}", response_model=dict[str, Any])
def read_careplan(request: Request, actor: ActorDep, resource_id: FHIR_ID) -> JSONResponse:
    """The member's current Pharmacist eCare Plan (id = member id), from the latest MTM encounter."""
    bundle = _careplan_bundle(request, actor, resource_id, "read")
    for entry in bundle.get("entry", []):
        resource = entry.get("resource", {})
        if resource.get("resourceType") == "CarePlan":
            return fhir_response({**resource, "id": resource_id})
    # A plan with no goals or problems yet is only a document (Composition + medications):
    # answer with the minimal CarePlan FHIR R4 requires, pointing at the document.
    composition: dict[str, Any] = next(
        (
            e["resource"]
            for e in bundle.get("entry", [])
            if e.get("resource", {}).get("resourceType") == "Composition"
        ),
        {},
    )
    return fhir_response(
        {
            "resourceType": "CarePlan",
            "id": resource_id,
            "status": "active",
            "intent": "plan",
            "subject": {"reference": f"Patient/{resource_id}"},
            "description": composition.get("title", "Pharmacist care plan"),
            "supportingInfo": [{"reference": f"CarePlan/{resource_id}/$document"}],
        }
    )


@router.get("/CarePlan/{resource_id}/$document", response_model=dict[str, Any])
def careplan_document(request: Request, actor: ActorDep, resource_id: FHIR_ID) -> JSONResponse:
    """The eCare Plan as a FHIR document Bundle (HL7 Pharmacist Care Plan IG)."""
    return fhir_response(_careplan_bundle(request, actor, resource_id, "export"))
