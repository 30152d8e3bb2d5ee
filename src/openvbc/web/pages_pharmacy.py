"""Pharmacy pages: the home (worklist, benchmarks, projected payment), outreach, the MTM form.

The program-year numbers come from ``services.web_views.ProgramViews`` (computed in the
background, rebuilt after every write here); member rows are always passed through
``services.access`` so a pharmacy sees only its own members.
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from openvbc.domain.errors import InvalidInput
from openvbc.services import access, web_views
from openvbc.services.access import AccessDenied, Actor, NotFound
from openvbc.services.mtm_documentation import record_mtm_documentation
from openvbc.services.web_views import ProgramView, ProgramViews
from openvbc.services.worklists import CHANNELS, OUTCOMES, record_outreach
from openvbc.web.pages import guard, handle_page_errors, render
from openvbc.web.session import CsrfFailure, audited_page, check_csrf

KINDS = ("CMR", "TMR", "FOLLOWUP")


def program_views(request: Request) -> ProgramViews | None:
    views: ProgramViews | None = request.app.state.program_views
    return views


def current_view(request: Request) -> tuple[ProgramView | None, dict[str, Any]]:
    views = program_views(request)
    if views is None:
        return None, {"building": False, "error": "no program configured", "computed_at": None}
    view = views.current()
    return view, views.status()


def _pharmacy_actor(request: Request) -> tuple[Any, Actor] | Response:
    session = guard(request)
    if isinstance(session, Response):
        return session
    if session.actor.org_kind != "pharmacy":
        return handle_page_errors(request, AccessDenied("pharmacy staff only"))
    return session, session.actor


def pharmacy_home(request: Request, fragment: str | None = None) -> Response:
    found = _pharmacy_actor(request)
    if isinstance(found, Response):
        return found
    session, actor = found
    npi = str(actor.org_npi)
    view, status = current_view(request)
    try:
        with audited_page(request, actor, action="search", resource_type="worklist", resource_id=npi) as unit:
            org, attributed_keys = access.read_group_members(unit.connection, actor, npi)
            attributed_rows = access.find_members(unit.connection, actor, attributed_keys[:200])
            context = describe_pharmacy(unit.connection, actor, view)
            unit.touch(context["touched"] + [str(row["member_key"]) for row in attributed_rows])
    except (AccessDenied, NotFound):
        org, attributed_keys, attributed_rows = {"name": npi, "npi": npi}, [], []
        context = describe_pharmacy(None, actor, None)
    template = "pharmacy_projection.html" if fragment == "projection" else "pharmacy.html"
    return render(
        request,
        template,
        session,
        org=org,
        attributed=len(attributed_keys),
        rows=attributed_rows,
        status=status,
        channels=CHANNELS,
        outcomes=OUTCOMES,
        **context,
    )


def describe_pharmacy(connection: Any, actor: Actor, view: ProgramView | None) -> dict[str, Any]:
    """Worklist, statement and worth of one more member, limited to the actor's members."""
    empty: dict[str, Any] = {"worklist": [], "summary": None, "worth": [], "touched": [], "view": view}
    if view is None or connection is None:
        return empty
    pharmacy_id = view.pharmacy_id_of(str(actor.org_npi))
    if pharmacy_id is None:
        return empty
    rows = web_views.list_pharmacy_worklist(view, pharmacy_id)
    statement = view.run.statement_for(pharmacy_id)
    wanted = {int(r["member_id"]) for r in rows}
    for line in statement.lines if statement else ():
        wanted.update(line.member_ids)
    ids_to_keys = web_views.list_member_keys(connection, sorted(wanted))
    visible = access.find_members(connection, actor, list(ids_to_keys.values()))
    keys = {int(m["member_id"]): str(m["member_key"]) for m in visible}
    names = {int(m["member_id"]): f"{m['last_name']}, {m['first_name']}" for m in visible}
    worklist = [
        {**row, "member_key": keys[int(row["member_id"])], "name": names[int(row["member_id"])]}
        for row in rows
        if int(row["member_id"]) in keys
    ]
    return {
        "worklist": worklist,
        "summary": web_views.summarize_statement(view, pharmacy_id, keys),
        "worth": web_views.worth_of_one_more(view, pharmacy_id),
        "touched": [row["member_key"] for row in worklist],
        "view": view,
    }


def record_outreach_page(
    request: Request,
    csrf_token: Annotated[str, Form(max_length=64)],
    member_key: Annotated[str, Form(max_length=64)],
    channel: Annotated[str, Form(max_length=16)],
    outcome: Annotated[str, Form(max_length=16)],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    found = _pharmacy_actor(request)
    if isinstance(found, Response):
        return found
    session, actor = found
    try:
        check_csrf(session.csrf_token, csrf_token)
        access.require(actor, access.MEMBER_WRITE)
        if channel not in CHANNELS or outcome not in OUTCOMES:
            raise NotFound("unknown channel or outcome")
        with audited_page(
            request, actor, action="create", resource_type="outreach_attempt", resource_id=member_key
        ) as unit:
            person = access.find_member(unit.connection, actor, member_key)
            row = {
                "attempt_key": f"web-{secrets.token_hex(8)}",
                "member_id": person["member_id"],
                "pharmacy_npi": actor.org_npi,
                "attempted_at": request.app.state.settings.clock(),
                "channel": channel,
                "outcome": outcome,
                "gap": None,
                "note": note or None,
                "recorded_by": actor.id,
                "program_id": request.app.state.settings.program_id,
            }
            record_outreach(web_views.join_transaction(unit.connection), [row])
            unit.touch([member_key])
    except (CsrfFailure, AccessDenied, NotFound) as error:
        return handle_page_errors(request, error)
    views = program_views(request)
    if views is not None:
        views.refresh()
    return RedirectResponse("/pharmacy#worklist", status_code=303)


# --- MTM encounter form -----------------------------------------------------------------------


def mtm_form(request: Request, member: str) -> Response:
    found = _pharmacy_actor(request)
    if isinstance(found, Response):
        return found
    session, actor = found
    try:
        with audited_page(request, actor, action="read", resource_type="member", resource_id=member) as unit:
            person = access.find_member(unit.connection, actor, member)
            unit.touch([member])
    except (AccessDenied, NotFound) as error:
        return handle_page_errors(request, error)
    return _render_mtm(request, session, person, {"kind": "CMR"}, preview=None, issues=None)


def _render_mtm(
    request: Request,
    session: Any,
    person: dict[str, Any],
    values: dict[str, Any],
    *,
    preview: dict[str, Any] | None,
    issues: list[Any] | None,
    status_code: int = 200,
) -> Response:
    page = render(
        request,
        "mtm.html",
        session,
        member=person,
        values=values,
        kinds=KINDS,
        dtp=web_views.list_dtp_choices(),
        preview=preview,
        issues=issues,
    )
    page.status_code = status_code
    return page


def mtm_submit(
    request: Request,
    csrf_token: Annotated[str, Form(max_length=64)],
    member: Annotated[str, Form(max_length=64)],
    action: Annotated[str, Form(pattern="^(start|stop|preview|save)$")],
    kind: Annotated[str, Form(max_length=10)] = "CMR",
    pharmacist_npi: Annotated[str, Form(max_length=10)] = "",
    start_at: Annotated[str, Form(max_length=40)] = "",
    end_at: Annotated[str, Form(max_length=40)] = "",
    minutes: Annotated[str, Form(max_length=5)] = "",
    problem_code: Annotated[str, Form(max_length=20)] = "",
    problem_text: Annotated[str, Form(max_length=500)] = "",
    intervention_code: Annotated[str, Form(max_length=20)] = "",
    intervention_text: Annotated[str, Form(max_length=500)] = "",
    systolic: Annotated[str, Form(max_length=5)] = "",
    diastolic: Annotated[str, Form(max_length=5)] = "",
    a1c: Annotated[str, Form(max_length=6)] = "",
    tobacco: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    found = _pharmacy_actor(request)
    if isinstance(found, Response):
        return found
    session, actor = found
    settings = request.app.state.settings
    now: datetime = settings.clock().replace(microsecond=0)
    values: dict[str, Any] = {
        "kind": kind,
        "pharmacist_npi": pharmacist_npi,
        "start_at": start_at,
        "end_at": end_at,
        "minutes": minutes,
        "problem_code": problem_code,
        "problem_text": problem_text,
        "intervention_code": intervention_code,
        "intervention_text": intervention_text,
        "systolic": systolic,
        "diastolic": diastolic,
        "a1c": a1c,
        "tobacco": tobacco,
    }
    # The timer is two form posts: the server's clock stamps the start and the stop, so the
    # page needs no JavaScript (app.js only shows the running seconds).
    if action == "start":
        values.update(start_at=now.isoformat(), end_at="", minutes="")
    elif action == "stop" and start_at:
        values["end_at"] = now.isoformat()
        values["minutes"] = str(_whole_minutes(start_at, values["end_at"]))
    try:
        check_csrf(session.csrf_token, csrf_token)
        access.require(actor, access.MEMBER_WRITE)
        audit_action = "create" if action == "save" else "read"
        with audited_page(
            request, actor, action=audit_action, resource_type="mtm_encounter", resource_id=member
        ) as unit:
            person = access.find_member(unit.connection, actor, member)
            unit.touch([member])
            preview = _preview(request, unit.connection, actor, person, values, now)
            if action != "save":
                return _render_mtm(request, session, person, values, preview=preview, issues=None)
            document = build_mtm_document(values, member, str(actor.org_npi), now)
            try:
                # The service checks everything before it writes, so a refused form leaves
                # nothing behind in this transaction but its audit record.
                result = record_mtm_documentation(
                    web_views.join_transaction(unit.connection), document, source="web form"
                )
            except InvalidInput as invalid:
                unit.entry.outcome = "failure"
                unit.entry.detail = f"invalid MTM form: {len(invalid.issues)} problem(s)"
                return _render_mtm(
                    request, session, person, values, preview=preview, issues=invalid.issues, status_code=422
                )
    except (CsrfFailure, AccessDenied, NotFound) as error:
        return handle_page_errors(request, error)
    views = request.app.state.program_views
    if views is not None:
        views.refresh()
    return RedirectResponse(f"/members/{member}?saved={result.mtm_key}", status_code=303)


def _whole_minutes(start: str, end: str) -> int:
    try:
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return 0
    return max(1, math.ceil(seconds / 60))


def _preview(
    request: Request,
    connection: Any,
    actor: Actor,
    person: dict[str, Any],
    values: dict[str, Any],
    now: datetime,
) -> dict[str, Any] | None:
    try:
        minutes = int(values["minutes"])
    except (TypeError, ValueError):
        return None
    if minutes <= 0 or values["kind"] not in KINDS:
        return None
    views = request.app.state.program_views
    view = views.current() if views is not None else None
    return web_views.preview_mtm_claim(
        connection,
        member_id=int(person["member_id"]),
        pharmacy_npi=str(actor.org_npi),
        service_date=now.date(),
        minutes=minutes,
        kind=values["kind"],
        contract=view.contract if view else None,
    )


def build_mtm_document(
    values: dict[str, Any], member_key: str, pharmacy_npi: str, now: datetime
) -> dict[str, Any]:
    """The form as the document ``record_mtm_documentation`` validates (its errors name the fields)."""
    document: dict[str, Any] = {
        "mtm_key": f"web-{now:%Y%m%d}-{secrets.token_hex(4)}",
        "member_key": member_key,
        "pharmacy_npi": pharmacy_npi,
        "pharmacist_npi": values["pharmacist_npi"],
        "kind": values["kind"],
    }
    if values["start_at"] and values["end_at"]:
        document["start_at"] = values["start_at"] + "+00:00"
        document["end_at"] = values["end_at"] + "+00:00"
    if values["minutes"]:
        document["minutes"] = int(values["minutes"]) if values["minutes"].isdigit() else values["minutes"]
    if not values["start_at"]:
        document["service_date"] = now.date().isoformat()
    if values["problem_text"] or values["problem_code"]:
        problem: dict[str, Any] = {"key": "dtp-1", "text": values["problem_text"]}
        if values["problem_code"]:
            problem["snomed"] = values["problem_code"]
        document["problems"] = [problem]
    if values["intervention_text"] or values["intervention_code"]:
        intervention: dict[str, Any] = {
            "key": "int-1",
            "text": values["intervention_text"],
            "date": now.date().isoformat(),
            "status": "completed",
        }
        if values["intervention_code"]:
            intervention["snomed"] = values["intervention_code"]
        if "problems" in document:
            intervention["problem"] = "dtp-1"
        document["interventions"] = [intervention]
    vitals: dict[str, Any] = {}
    for name in ("systolic", "diastolic", "a1c"):
        if values[name]:
            try:
                vitals[name] = float(values[name])
            except ValueError:
                vitals[name] = values[name]
    if values["tobacco"]:
        vitals["tobacco"] = values["tobacco"]
    if vitals:
        document["vitals"] = vitals
    return document


def register_pharmacy_pages(router: APIRouter) -> None:
    router.add_api_route("/pharmacy", pharmacy_home, methods=["GET"])
    router.add_api_route("/pharmacy/outreach", record_outreach_page, methods=["POST"])
    router.add_api_route("/mtm/new", mtm_form, methods=["GET"])
    router.add_api_route("/mtm/new", mtm_submit, methods=["POST"])
