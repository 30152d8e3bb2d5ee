"""Care manager pages: the transitions worklist, the CCM panel with its timer, what each month bills."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from openvbc.domain.errors import UserError
from openvbc.services import access, web_views
from openvbc.services.access import AccessDenied, NotFound
from openvbc.services.audit import AuditEntry, record_event
from openvbc.services.ccm_time import stop_timer
from openvbc.services.transitions import list_transitions_worklist
from openvbc.store.tables import ccm_time_entry, member
from openvbc.web.pages import guard, handle_page_errors, render
from openvbc.web.session import CsrfFailure, audited_page, check_csrf, engine_of

ROLE_OF_USER = {"care_manager": "clinical_staff", "billing_practitioner": "practitioner"}


def care_manager_extras(
    request: Request, connection: Any, actor: access.Actor, today: date
) -> dict[str, Any]:
    """Transitions items, the person's running timer and the month-to-date bill, all scoped."""
    items = list_transitions_worklist(engine_of(request), today, practice_npi=str(actor.org_npi))
    visible = {
        str(m["member_key"])
        for m in access.find_members(connection, actor, sorted({str(i["member_key"]) for i in items}))
    }
    items = [item for item in items if str(item["member_key"]) in visible]
    running = (
        connection.execute(
            select(ccm_time_entry.c.start_at, member.c.member_key)
            .join(member, member.c.member_id == ccm_time_entry.c.member_id)
            .where(
                ccm_time_entry.c.staff_id == actor.id,
                ccm_time_entry.c.end_at.is_(None),
                access.member_scope(actor),
            )
        )
        .mappings()
        .first()
    )
    month = f"{today:%Y-%m}"
    coded = [
        row
        for row in web_views.preview_ccm_month(connection, month, today)
        if row["practice_npi"] == actor.org_npi
    ]
    allowed = {
        str(m["member_key"])
        for m in access.find_members(connection, actor, [str(row["member_key"]) for row in coded])
    }
    bill = [row for row in coded if str(row["member_key"]) in allowed]
    return {
        "transition_items": items,
        "running": dict(running) if running else None,
        "month_bill": bill,
        "bill_month": month,
        "touched": sorted(visible | {str(r["member_key"]) for r in bill}),
    }


def ccm_timer(
    request: Request,
    csrf_token: Annotated[str, Form(max_length=64)],
    action: Annotated[str, Form(pattern="^(start|stop)$")],
    member_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    session = guard(request)
    if isinstance(session, Response):
        return session
    actor = session.actor
    now = request.app.state.settings.clock()
    try:
        check_csrf(session.csrf_token, csrf_token)
        access.require(actor, access.MEMBER_WRITE)
        if actor.role not in ROLE_OF_USER:
            raise AccessDenied("care managers and billing practitioners only")
        if action == "start":
            with audited_page(
                request, actor, action="create", resource_type="ccm_time_entry", resource_id=member_key
            ) as unit:
                access.find_member(unit.connection, actor, member_key)
                web_views.start_ccm_timer(
                    unit.connection,
                    member_key=member_key,
                    staff_id=actor.id,
                    role=ROLE_OF_USER[actor.role],
                    now=now,
                )
                unit.touch([member_key])
        else:
            stop_ccm_timer(request, actor, now)
    except (CsrfFailure, AccessDenied, NotFound) as error:
        return handle_page_errors(request, error)
    except UserError as error:
        return render(request, "error.html", session, status=422, text=str(error))
    return RedirectResponse("/care-manager#ccm-panel", status_code=303)


def stop_ccm_timer(request: Request, actor: access.Actor, now: Any) -> dict[str, Any]:
    """Stop through ``services.ccm_time.stop_timer`` (it owns its transaction; see the note)."""
    # stop_timer commits on its own connection, so its audit record follows in the next
    # transaction rather than the same one (docs/web-and-api.md, "Audit").
    entry = AuditEntry(
        **actor.audit_fields(),
        action="update",
        resource_type="ccm_time_entry",
        detail=f"page {request.method} {request.url.path} stop",
        request_id=getattr(request.state, "request_id", None),
        source_ip=request.client.host if request.client else None,
    )
    clock = request.app.state.settings.clock
    try:
        finished = stop_timer(engine_of(request), staff_id=actor.id, now=now)
    except UserError as error:
        entry.outcome, entry.detail = "failure", str(error)[:500]
        record_event(engine_of(request), entry, clock=clock)
        raise
    with engine_of(request).connect() as connection:
        key = connection.execute(
            select(member.c.member_key).where(member.c.member_id == finished["member_id"])
        ).scalar()
    entry.resource_id = str(finished["ccm_time_entry_id"])
    entry.member_keys = [str(key)] if key else []
    record_event(engine_of(request), entry, clock=clock)
    return finished


def register_care_pages(router: APIRouter) -> None:
    router.add_api_route("/care-manager/timer", ccm_timer, methods=["POST"])
