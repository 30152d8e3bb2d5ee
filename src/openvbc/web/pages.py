"""The pages: sign-in, home per role, member search and chart, care manager, analyst,
uploads, audit. Each handler resolves the session, calls a service, renders a template."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import and_, func, select

from openvbc.domain.errors import InvalidInput, UserError
from openvbc.services import access
from openvbc.services.access import AccessDenied, Actor, NotAuthenticated, NotFound
from openvbc.services.audit import read_audit_report, verify_audit_chain
from openvbc.services.careplan import build_member_careplan, render_careplan_document
from openvbc.services.identity import SessionInfo, sign_in, sign_out
from openvbc.services.imports import import_path
from openvbc.services.web_views import describe_member_gaps
from openvbc.store.tables import (
    ccm_enrollment,
    ccm_time_entry,
    member,
    mtm_intervention,
    mtm_problem,
    tcm_case,
)
from openvbc.web import TEMPLATES_DIR, charts
from openvbc.web.session import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfFailure,
    SignInRequired,
    audited_page,
    check_csrf,
    engine_of,
    new_login_csrf,
    page_session,
    set_cookie,
)

templates = Jinja2Templates(directory=TEMPLATES_DIR)

HOME_OF_ROLE = {
    "pharmacy_staff": "/pharmacy",
    "care_manager": "/care-manager",
    "billing_practitioner": "/care-manager",
    "registry_user": "/members",
    "plan_admin": "/analyst",
    "plan_analyst": "/analyst",
    "auditor": "/audit",
}
CHART_FACTS = {
    "condition": ("-recorded_date",),
    "medication_order": ("-authored_at",),
    "fill": ("-fill_date",),
    "observation": ("-effective_at",),
    "mtm_encounter": ("-service_date",),
    "tcm_case": ("-discharge_date",),
    "ccm_month_bill": ("-month",),
}


def render(request: Request, name: str, session: SessionInfo | None, **context: Any) -> HTMLResponse:
    context.update(
        request=request,
        actor=session.actor if session else None,
        csrf_token=session.csrf_token if session else None,
    )
    return templates.TemplateResponse(request, name, context)


def render_error_page(request: Request, status: int, text: str) -> Response:
    if status == 401:
        return RedirectResponse("/login", status_code=303)
    return templates.TemplateResponse(
        request,
        "error.html",
        {"request": request, "actor": None, "status": status, "text": text, "csrf_token": None},
        status_code=status,
    )


def handle_page_errors(request: Request, error: Exception) -> Response:
    if isinstance(error, SignInRequired | NotAuthenticated):
        return RedirectResponse("/login?next=" + request.url.path, status_code=303)
    if isinstance(error, CsrfFailure):
        return render_error_page(request, 403, str(error))
    if isinstance(error, AccessDenied):
        return render_error_page(request, 403, "your role may not open this page")
    if isinstance(error, NotFound):
        return render_error_page(request, 404, "not found")
    raise error


def build_page_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    router.add_api_route("/", home, methods=["GET"])
    router.add_api_route("/login", login_form, methods=["GET"])
    router.add_api_route("/login", login_submit, methods=["POST"])
    router.add_api_route("/logout", logout, methods=["POST"])
    router.add_api_route("/members", member_search, methods=["GET"])
    router.add_api_route("/members/{member_key}", member_chart, methods=["GET"])
    router.add_api_route("/members/{member_key}/careplan.{fmt}", careplan_download, methods=["GET"])
    router.add_api_route("/care-manager", care_manager_home, methods=["GET"])
    router.add_api_route("/uploads", uploads_form, methods=["GET"])
    router.add_api_route("/uploads", uploads_submit, methods=["POST"])
    router.add_api_route("/audit", audit_page, methods=["GET"])
    # Imported here: those modules import this one for render/guard.
    from openvbc.web.pages_analyst import register_analyst_pages
    from openvbc.web.pages_care import register_care_pages
    from openvbc.web.pages_pharmacy import register_pharmacy_pages

    register_pharmacy_pages(router)
    register_care_pages(router)
    register_analyst_pages(router)
    return router


def guard(request: Request) -> SessionInfo | Response:
    """The page's session, or the redirect to sign in."""
    try:
        return page_session(request)
    except SignInRequired as error:
        return handle_page_errors(request, error)


# --- sign-in ----------------------------------------------------------------------------------


def home(request: Request) -> Response:
    session = guard(request)
    if isinstance(session, Response):
        return session
    return RedirectResponse(HOME_OF_ROLE.get(session.actor.role, "/members"), status_code=303)


def login_form(request: Request, expired: bool = False) -> Response:
    token = new_login_csrf()
    response = render(request, "login.html", None, login_csrf=token, error=None, expired=expired)
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token, max_age=1800)
    return response


def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    login_csrf: Annotated[str, Form(max_length=64)],
    code: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    try:
        check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE, ""), login_csrf)
    except CsrfFailure as error:
        return render_error_page(request, 403, str(error))
    settings = request.app.state.settings
    try:
        signed = sign_in(
            engine_of(request),
            username=username,
            password=password,
            totp_code=code or None,
            now=settings.clock(),
            source_ip=request.client.host if request.client else None,
        )
    except NotAuthenticated as error:
        token = new_login_csrf()
        page = render(request, "login.html", None, login_csrf=token, error=str(error), expired=False)
        page.status_code = 401
        set_cookie(page, request, LOGIN_CSRF_COOKIE, token, max_age=1800)
        return page
    response = RedirectResponse(HOME_OF_ROLE.get(signed.actor.role, "/members"), status_code=303)
    set_cookie(response, request, SESSION_COOKIE, signed.token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


def logout(request: Request, csrf_token: Annotated[str, Form(max_length=64)]) -> Response:
    session = guard(request)
    if isinstance(session, Response):
        return session
    try:
        check_csrf(session.csrf_token, csrf_token)
    except CsrfFailure as error:
        return handle_page_errors(request, error)
    token = request.cookies.get(SESSION_COOKIE, "")
    sign_out(
        engine_of(request),
        token,
        now=request.app.state.settings.clock(),
        source_ip=request.client.host if request.client else None,
    )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    # Ask the browser to drop anything it kept for this site (ONC 170.315(d)(7)).
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


# --- members ----------------------------------------------------------------------------------


def member_search(request: Request, q: str | None = None, offset: int = 0) -> Response:
    session = guard(request)
    if isinstance(session, Response):
        return session
    actor = session.actor
    try:
        with audited_page(request, actor, action="search", resource_type="member", resource_id=q) as unit:
            rows = access.search_members(unit.connection, actor, text=q, limit=50, offset=max(0, offset))
            unit.touch([str(row["member_key"]) for row in rows])
    except (AccessDenied, NotFound) as error:
        return handle_page_errors(request, error)
    template = "members_rows.html" if request.headers.get("HX-Request") else "members.html"
    return render(request, template, session, rows=rows, q=q or "", offset=offset)


def member_chart(request: Request, member_key: str) -> Response:
    session = guard(request)
    if isinstance(session, Response):
        return session
    actor = session.actor
    try:
        with audited_page(
            request, actor, action="read", resource_type="member", resource_id=member_key
        ) as unit:
            person = access.find_member(unit.connection, actor, member_key)
            facts = {
                name: access.read_member_rows(unit.connection, actor, member_key, name, order_by=order)
                for name, order in CHART_FACTS.items()
            }
            encounter_ids = [row["mtm_encounter_id"] for row in facts["mtm_encounter"]]
            problems = list_encounter_rows(unit.connection, mtm_problem, encounter_ids)
            interventions = list_encounter_rows(unit.connection, mtm_intervention, encounter_ids)
            care_plans = access.read_member_rows(
                unit.connection, actor, member_key, "care_plan", order_by=("-created_at",), limit=20
            )
            unit.touch([member_key])
    except (AccessDenied, NotFound) as error:
        return handle_page_errors(request, error)
    views = request.app.state.program_views
    view = views.current() if views is not None else None
    gaps = describe_member_gaps(view, int(person["member_id"]))
    specs = {
        "bp": charts.blood_pressure_chart(facts["observation"]),
        "a1c": charts.a1c_chart(facts["observation"]),
        "fills": charts.fill_timeline_chart(facts["fill"]),
    }
    return render(
        request,
        "member.html",
        session,
        member=person,
        facts=facts,
        specs=specs,
        gaps=gaps,
        problems=problems,
        interventions=interventions,
        care_plans=care_plans,
        view_status=views.status() if views is not None else None,
    )


def list_encounter_rows(connection: Any, table: Any, encounter_ids: list[int]) -> list[dict[str, Any]]:
    """Rows hanging off MTM encounters already read through the member's scope."""
    if not encounter_ids:
        return []
    query = select(table).where(table.c.mtm_encounter_id.in_(encounter_ids))
    return [dict(row) for row in connection.execute(query).mappings()]


def careplan_download(request: Request, member_key: str, fmt: str) -> Response:
    """The member's eCare Plan (services.careplan) as FHIR JSON or C-CDA XML."""
    session = guard(request)
    if isinstance(session, Response):
        return session
    actor = session.actor
    if fmt not in ("fhir", "cda"):
        return render_error_page(request, 404, "not found")
    try:
        with audited_page(
            request, actor, action="export", resource_type="CarePlan", resource_id=member_key
        ) as unit:
            access.find_member(unit.connection, actor, member_key)
            plan, _encounter = build_member_careplan(unit.connection, member_key)
            payload = render_careplan_document(plan, fmt)  # type: ignore[arg-type]
            unit.touch([member_key])
    except (AccessDenied, NotFound) as error:
        return handle_page_errors(request, error)
    except UserError as error:
        return render_error_page(request, 404, str(error))
    media = "application/fhir+json" if fmt == "fhir" else "application/xml"
    name = f"careplan-{member_key}.{'json' if fmt == 'fhir' else 'xml'}"
    return Response(
        payload, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


# --- role homes ---------------------------------------------------------------------------------


def care_manager_home(request: Request) -> Response:
    from openvbc.web.pages_care import care_manager_extras

    session = guard(request)
    if isinstance(session, Response):
        return session
    actor = session.actor
    if actor.org_kind != "practice":
        return handle_page_errors(request, AccessDenied("practice staff only"))
    today = request.app.state.settings.today().date()
    month_start = today.replace(day=1)
    scope = access.member_scope(actor)
    with audited_page(
        request, actor, action="search", resource_type="tcm_case", resource_id=actor.org_npi
    ) as unit:
        connection = unit.connection
        access.require(actor, access.MEMBER_READ)
        cases = [
            dict(row)
            for row in connection.execute(
                select(tcm_case, member.c.member_key, member.c.first_name, member.c.last_name)
                .join(member, member.c.member_id == tcm_case.c.member_id)
                .where(scope, tcm_case.c.practice_npi == actor.org_npi, tcm_case.c.status == "open")
                .order_by(tcm_case.c.contact_due)
                .limit(200)
            ).mappings()
        ]
        minutes = (
            func.sum(
                (func.julianday(ccm_time_entry.c.end_at) - func.julianday(ccm_time_entry.c.start_at)) * 1440
            )
            if connection.dialect.name == "sqlite"
            else func.sum(func.extract("epoch", ccm_time_entry.c.end_at - ccm_time_entry.c.start_at) / 60)
        )
        panel = [
            dict(row)
            for row in connection.execute(
                select(
                    member.c.member_key,
                    member.c.first_name,
                    member.c.last_name,
                    ccm_enrollment.c.program,
                    ccm_enrollment.c.billing_npi,
                    func.coalesce(minutes, 0).label("minutes"),
                )
                .join(member, member.c.member_id == ccm_enrollment.c.member_id)
                .outerjoin(
                    ccm_time_entry,
                    and_(
                        ccm_time_entry.c.member_id == ccm_enrollment.c.member_id,
                        ccm_time_entry.c.service == "ccm",
                        ccm_time_entry.c.start_at >= month_start,
                        ccm_time_entry.c.end_at.is_not(None),
                    ),
                )
                .where(
                    scope, ccm_enrollment.c.practice_npi == actor.org_npi, ccm_enrollment.c.end_date.is_(None)
                )
                .group_by(
                    member.c.member_key,
                    member.c.first_name,
                    member.c.last_name,
                    ccm_enrollment.c.program,
                    ccm_enrollment.c.billing_npi,
                )
                .order_by(member.c.member_key)
                .limit(500)
            ).mappings()
        ]
        extras = care_manager_extras(request, connection, actor, today)
        unit.touch([str(row["member_key"]) for row in cases + panel] + extras.pop("touched"))
    return render(
        request,
        "care_manager.html",
        session,
        cases=cases,
        panel=panel,
        month=month_start,
        today=today,
        **extras,
    )


# --- uploads and audit --------------------------------------------------------------------------


def uploads_form(request: Request) -> Response:
    session = guard(request)
    if isinstance(session, Response):
        return session
    try:
        access.require(session.actor, access.UPLOAD)
    except AccessDenied as error:
        return handle_page_errors(request, error)
    return render(request, "uploads.html", session, report=None, issues=None, error=None)


def uploads_submit(
    request: Request,
    files: Annotated[list[UploadFile], File()],
    csrf_token: Annotated[str, Form(max_length=64)],
    mode: Annotated[str, Form(pattern="^(dry_run|load)$")] = "dry_run",
) -> Response:
    session = guard(request)
    if isinstance(session, Response):
        return session
    actor: Actor = session.actor
    try:
        check_csrf(session.csrf_token, csrf_token)
        access.require(actor, access.UPLOAD)
    except (CsrfFailure, AccessDenied) as error:
        return handle_page_errors(request, error)
    report, issues, error_text = None, None, None
    with tempfile.TemporaryDirectory(prefix="openvbc-upload-") as folder:
        for upload in files:
            name = Path(upload.filename or "upload.csv").name
            (Path(folder) / name).write_bytes(upload.file.read())
        try:
            with audited_page(
                request,
                actor,
                action="read" if mode == "dry_run" else "create",
                resource_type="upload",
                resource_id=",".join(f.filename or "" for f in files)[:200],
            ):
                report = import_path(
                    engine_of(request),
                    Path(folder),
                    check_only=mode == "dry_run",
                    today=request.app.state.settings.today().date(),
                ).as_dict()
        except InvalidInput as invalid:
            issues = invalid.issues
        except UserError as failure:
            error_text = str(failure)
    return render(request, "uploads.html", session, report=report, issues=issues, error=error_text)


def audit_page(
    request: Request,
    start: date | None = None,
    end: date | None = None,
    sort: str = "recorded_at",
    descending: bool = True,
) -> Response:
    session = guard(request)
    if isinstance(session, Response):
        return session
    actor = session.actor
    try:
        access.require(actor, access.AUDIT)
    except AccessDenied as error:
        return handle_page_errors(request, error)
    with audited_page(request, actor, action="audit", resource_type="audit_event") as unit:
        chain = verify_audit_chain(unit.connection)
        events = read_audit_report(
            unit.connection, start=_at(start), end=_at(end), sort_by=sort, descending=descending, limit=500
        )
    return render(
        request,
        "audit.html",
        session,
        chain=chain,
        events=events,
        sort=sort,
        descending=descending,
        start=start,
        end=end,
    )


def _at(day: date | None) -> Any:
    from datetime import datetime, time

    return None if day is None else datetime.combine(day, time())
