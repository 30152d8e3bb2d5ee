"""Plan analyst pages: performance per pharmacy and practice, statements with drill-down,
the what-if simulator and ROI. Plan staff see the whole plan (services.access)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import and_, func, select

from openvbc.services import access, web_views
from openvbc.services.access import AccessDenied
from openvbc.store.tables import attribution_snapshot, provider
from openvbc.web import charts
from openvbc.web.pages import guard, handle_page_errors, render, render_error_page
from openvbc.web.pages_pharmacy import current_view
from openvbc.web.session import audited_page, engine_of

PERFORMANCE_SORTS = ("npi", "name", "members", "total", "clinical")
ATTRIBUTION_SORTS = ("members", "name", "npi", "kind")


def _analyst(request: Request) -> Any:
    session = guard(request)
    if isinstance(session, Response):
        return session
    try:
        access.require(session.actor, access.ANALYTICS)
    except AccessDenied as error:
        return handle_page_errors(request, error)
    return session


def analyst_home(request: Request, sort: str = "members", perf_sort: str = "total") -> Response:
    session = _analyst(request)
    if isinstance(session, Response):
        return session
    view, status = current_view(request)
    rows = read_attribution_counts(request)
    key = sort if sort in ATTRIBUTION_SORTS else "members"
    rows.sort(key=lambda row: (row[key] is None, row[key]), reverse=key == "members")
    performance = describe_performance(request, view)
    pkey = perf_sort if perf_sort in PERFORMANCE_SORTS else "total"
    performance.sort(key=lambda row: (row[pkey] is None, row[pkey]), reverse=pkey in ("members", "total"))
    spec = charts.bar_chart(
        "Attributed members per organisation",
        [{"organisation": row["name"] or row["npi"], "members": row["members"]} for row in rows[:25]],
        "members",
        "organisation",
    )
    pay_spec = (
        charts.bar_chart(
            "Projected payment per pharmacy ($)",
            [{"pharmacy": row["name"] or row["npi"], "payment": row["total"]} for row in performance[:25]],
            "payment",
            "pharmacy",
        )
        if performance
        else None
    )
    roi = None
    if view is not None:
        result = web_views.compute_view_roi(view)
        roi = None if result is None else _roi_view(result)
    return render(
        request,
        "analyst.html",
        session,
        rows=rows,
        sort=key,
        spec=spec,
        pay_spec=pay_spec,
        performance=performance,
        perf_sort=pkey,
        status=status,
        roi=roi,
        benchmarks=[m for m in view.contract.measures] if view else [],
    )


def read_attribution_counts(request: Request) -> list[dict[str, Any]]:
    """Members per pharmacy and practice at each kind's latest snapshot."""
    with engine_of(request).connect() as connection:
        latest = (
            select(
                attribution_snapshot.c.provider_kind, func.max(attribution_snapshot.c.as_of).label("as_of")
            )
            .group_by(attribution_snapshot.c.provider_kind)
            .subquery()
        )
        query = (
            select(
                attribution_snapshot.c.provider_kind.label("kind"),
                attribution_snapshot.c.provider_npi.label("npi"),
                provider.c.name,
                func.count(func.distinct(attribution_snapshot.c.member_id)).label("members"),
            )
            .join(
                latest,
                and_(
                    latest.c.provider_kind == attribution_snapshot.c.provider_kind,
                    latest.c.as_of == attribution_snapshot.c.as_of,
                ),
            )
            .outerjoin(provider, provider.c.npi == attribution_snapshot.c.provider_npi)
            .where(attribution_snapshot.c.provider_npi.is_not(None))
            .group_by(
                attribution_snapshot.c.provider_kind, attribution_snapshot.c.provider_npi, provider.c.name
            )
        )
        return [dict(row) for row in connection.execute(query).mappings()]


def describe_performance(request: Request, view: web_views.ProgramView | None) -> list[dict[str, Any]]:
    """One row per pharmacy of the program year: members, projected total, benchmark rates."""
    if view is None:
        return []
    with engine_of(request).connect() as connection:
        names = dict(connection.execute(select(provider.c.npi, provider.c.name)).all())
    out = []
    for statement in view.run.statements:
        npi = view.run.pharmacy_npis.get(statement.pharmacy_id, "")
        out.append(
            {
                "npi": npi,
                "name": names.get(npi),
                "members": len(view.run.attributed.get(statement.pharmacy_id, ())),
                "total": float(statement.total),
                "total_text": f"{statement.total:.2f}",
                "clinical": None if statement.clinical is None else int(statement.clinical.met),
                "rates": {
                    s.target.key: (None if s.rate is None else round(float(s.rate * 100), 1), s.status)
                    for s in statement.scores
                },
            }
        )
    return out


def statement_page(request: Request, npi: str) -> Response:
    """One pharmacy's statement: every line with its clause, evidence and members (links)."""
    session = _analyst(request)
    if isinstance(session, Response):
        return session
    view, status = current_view(request)
    pharmacy_id = view.pharmacy_id_of(npi) if view else None
    if view is None or pharmacy_id is None:
        return render_error_page(request, 404, "no statement for that pharmacy in the program year")
    actor = session.actor
    with audited_page(request, actor, action="read", resource_type="statement", resource_id=npi) as unit:
        statement = view.run.statement_for(pharmacy_id)
        ids = sorted({m for line in (statement.lines if statement else ()) for m in line.member_ids})
        keys_by_id = web_views.list_member_keys(unit.connection, ids)
        visible = access.find_members(unit.connection, actor, list(keys_by_id.values()))
        keys = {int(m["member_id"]): str(m["member_key"]) for m in visible}
        summary = web_views.summarize_statement(view, pharmacy_id, keys)
        unit.touch(sorted(keys.values()))
    return render(request, "statement.html", session, npi=npi, summary=summary, status=status)


def what_if_page(request: Request) -> Response:
    """Change benchmark targets (query ``target_<key>=<percent>``) and see every pharmacy's change."""
    session = _analyst(request)
    if isinstance(session, Response):
        return session
    view, status = current_view(request)
    targets: dict[str, Decimal] = {}
    errors: list[str] = []
    if view is not None:
        for measure in view.contract.measures:
            raw = request.query_params.get(f"target_{measure.key}")
            if raw:
                try:
                    value = Decimal(raw)
                    if not 0 <= value <= 100:
                        raise InvalidOperation
                    targets[measure.key] = value / 100
                except InvalidOperation:
                    errors.append(f"target_{measure.key}: {raw!r} is not a percentage in 0..100")
    changes = []
    if view is not None and targets and not errors:
        for change in web_views.run_what_if(view, targets=targets):
            changes.append(
                {
                    "npi": change.pharmacy_npi,
                    "before": f"{change.before:.2f}",
                    "after": f"{change.after:.2f}",
                    "change": f"{change.change:.2f}",
                    "to_unlock": change.members_to_unlock_tier2,
                    "worth": f"{change.tier2_if_unlocked:.2f}",
                }
            )
    return render(
        request,
        "what_if.html",
        session,
        status=status,
        benchmarks=view.contract.measures if view else [],
        targets={k: float(v * 100) for k, v in targets.items()},
        changes=changes,
        errors=errors,
    )


def _roi_view(result: Any) -> dict[str, Any]:
    return {
        "method": result.method,
        "engaged": result.engaged,
        "comparison": result.comparison,
        "did": result.difference_in_differences,
    }


def register_analyst_pages(router: APIRouter) -> None:
    router.add_api_route("/analyst", analyst_home, methods=["GET"])
    router.add_api_route("/analyst/statements/{npi}", statement_page, methods=["GET"])
    router.add_api_route("/analyst/what-if", what_if_page, methods=["GET"])
