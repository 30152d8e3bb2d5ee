"""REST routes over the program year and the care workflows (the pages call the same services).

Pharmacy objects (worklist, statement) belong to one pharmacy: plan staff may read any, a
pharmacy only its own (another pharmacy's looks missing, 404). Every member row passes
through ``services.access``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from pydantic import BaseModel, Field

from openvbc.api.deps import ActorDep, audited, settings_of
from openvbc.api.fhir.routes_measures import program_view
from openvbc.api.outcomes import ApiError
from openvbc.services import access, web_views
from openvbc.services.access import Actor
from openvbc.services.ccm_time import stop_timer
from openvbc.services.mtm_documentation import record_mtm_documentation

router = APIRouter(prefix="/api", tags=["program"])

NPI = Annotated[str, Path(pattern=r"^\d{10}$")]
ROLE_OF_USER = {"care_manager": "clinical_staff", "billing_practitioner": "practitioner"}


def _check_pharmacy(actor: Actor, npi: str) -> None:
    access.require(actor, access.MEMBER_READ)
    if not actor.sees_whole_plan and not (actor.org_kind == "pharmacy" and actor.org_npi == npi):
        raise access.NotFound(f"no pharmacy {npi}")


@router.get("/program/status")
def read_program_status(request: Request, actor: ActorDep) -> dict[str, Any]:
    """When the program year was last computed and whether a newer computation is running."""
    access.require(actor, access.MEMBER_READ)
    views = request.app.state.program_views
    return views.status() if views is not None else {"program": None}


@router.get("/pharmacies/{npi}/worklist")
def read_worklist(request: Request, actor: ActorDep, npi: NPI) -> dict[str, Any]:
    """The pharmacy's prioritised worklist with reasons (engine order)."""
    _check_pharmacy(actor, npi)
    view = program_view(request)
    with audited(request, actor, action="search", resource_type="worklist", resource_id=npi) as unit:
        pharmacy_id = view.pharmacy_id_of(npi)
        rows = web_views.list_pharmacy_worklist(view, pharmacy_id) if pharmacy_id is not None else []
        keys = web_views.list_member_keys(unit.connection, [int(r["member_id"]) for r in rows])
        visible = {
            str(m["member_key"]) for m in access.find_members(unit.connection, actor, list(keys.values()))
        }
        items = [
            {
                "rank": r["rank"],
                "member_key": keys[int(r["member_id"])],
                "points": r["points"],
                "gaps": str(r["gaps"]).split("|"),
                "reason": r["reason"],
                "last_contact": str(r["last_contact"]) if r["last_contact"] else None,
            }
            for r in rows
            if keys.get(int(r["member_id"])) in visible
        ]
        unit.touch([i["member_key"] for i in items])
    return {"pharmacy_npi": npi, "computed_at": view.computed_at.isoformat(), "items": items}


@router.get("/pharmacies/{npi}/statement")
def read_statement(request: Request, actor: ActorDep, npi: NPI) -> dict[str, Any]:
    """Projected statement: lines (members, clause, evidence), benchmarks, worth of one more member."""
    _check_pharmacy(actor, npi)
    view = program_view(request)
    pharmacy_id = view.pharmacy_id_of(npi)
    if pharmacy_id is None:
        raise access.NotFound(f"no statement for pharmacy {npi}")
    with audited(request, actor, action="read", resource_type="statement", resource_id=npi) as unit:
        statement = view.run.statement_for(pharmacy_id)
        ids = sorted({m for line in (statement.lines if statement else ()) for m in line.member_ids})
        keys = web_views.list_member_keys(unit.connection, ids)
        visible = access.find_members(unit.connection, actor, list(keys.values()))
        scoped = {int(m["member_id"]): str(m["member_key"]) for m in visible}
        summary = web_views.summarize_statement(view, pharmacy_id, scoped)
        unit.touch(sorted(scoped.values()))
    summary["worth_of_one_more"] = web_views.worth_of_one_more(view, pharmacy_id)
    summary["computed_at"] = view.computed_at.isoformat()
    return summary


@router.post("/mtm-encounters", status_code=201)
def create_mtm_encounter(
    request: Request, actor: ActorDep, document: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Document an MTM encounter (the JSON of docs/pharmacist-workflow.md) for the caller's pharmacy."""
    access.require(actor, access.MEMBER_WRITE)
    if actor.org_kind != "pharmacy":
        raise access.AccessDenied("pharmacy staff only")
    member_key = str(document.get("member_key") or "")
    with audited(
        request, actor, action="create", resource_type="mtm_encounter", resource_id=member_key
    ) as unit:
        access.find_member(unit.connection, actor, member_key)
        result = record_mtm_documentation(
            web_views.join_transaction(unit.connection),
            {**document, "pharmacy_npi": actor.org_npi},
            source="api",
        )
        unit.touch([member_key])
    views = request.app.state.program_views
    if views is not None:
        views.refresh()
    return result.as_dict()


class TimerStart(BaseModel):
    member_key: str = Field(max_length=64)


@router.post("/ccm/timer/start", status_code=201)
def start_ccm_timer(request: Request, actor: ActorDep, body: TimerStart) -> dict[str, Any]:
    """Start the caller's CCM timer on one of their patients."""
    access.require(actor, access.MEMBER_WRITE)
    if actor.role not in ROLE_OF_USER:
        raise access.AccessDenied("care managers and billing practitioners only")
    now = settings_of(request).clock()
    with audited(
        request, actor, action="create", resource_type="ccm_time_entry", resource_id=body.member_key
    ) as unit:
        access.find_member(unit.connection, actor, body.member_key)
        entry_id = web_views.start_ccm_timer(
            unit.connection,
            member_key=body.member_key,
            staff_id=actor.id,
            role=ROLE_OF_USER[actor.role],
            now=now,
        )
        unit.touch([body.member_key])
    return {"ccm_time_entry_id": entry_id, "started_at": now.replace(microsecond=0).isoformat()}


@router.post("/ccm/timer/stop")
def stop_ccm_timer(request: Request, actor: ActorDep) -> dict[str, Any]:
    """Stop the caller's running timer (``services.ccm_time.stop_timer``)."""
    access.require(actor, access.MEMBER_WRITE)
    if actor.role not in ROLE_OF_USER:
        raise access.AccessDenied("care managers and billing practitioners only")
    now = settings_of(request).clock()
    # The timer belongs to the caller (staff_id = the caller), so no member scope is needed to
    # stop it; stop_timer owns its transaction, the audit record follows it (docs/web-and-api.md).
    with audited(request, actor, action="update", resource_type="ccm_time_entry") as unit:
        finished = stop_timer(request.app.state.engine, staff_id=actor.id, now=now)
        unit.entry.resource_id = str(finished["ccm_time_entry_id"])
    return {
        "ccm_time_entry_id": finished["ccm_time_entry_id"],
        "start_at": finished["start_at"].isoformat(),
        "end_at": finished["end_at"].isoformat(),
        "minutes": finished["minutes"],
    }


@router.get("/ccm/months/{month}")
def read_ccm_month(
    request: Request, actor: ActorDep, month: Annotated[str, Path(pattern=r"^\d{4}-\d{2}$")]
) -> dict[str, Any]:
    """What each of the caller's enrolled patients' month bills (if it ended today)."""
    access.require(actor, access.MEMBER_READ)
    today = settings_of(request).today().date()
    with audited(request, actor, action="search", resource_type="ccm_month", resource_id=month) as unit:
        rows = web_views.preview_ccm_month(unit.connection, month, today)
        if not actor.sees_whole_plan:
            rows = [r for r in rows if r["practice_npi"] == actor.org_npi]
        allowed = {
            str(m["member_key"])
            for m in access.find_members(unit.connection, actor, [r["member_key"] for r in rows])
        }
        rows = [r for r in rows if r["member_key"] in allowed]
        unit.touch(sorted(allowed))
    return {"month": month, "patients": rows}


class WhatIf(BaseModel):
    targets: dict[str, Decimal] = Field(default_factory=dict, description="benchmark key -> target percent")


@router.post("/analytics/what-if")
def run_what_if(request: Request, actor: ActorDep, body: WhatIf) -> dict[str, Any]:
    """Every pharmacy's payment before and after changed benchmark targets."""
    access.require(actor, access.ANALYTICS)
    view = program_view(request)
    known = {m.key for m in view.contract.measures}
    bad = [key for key, value in body.targets.items() if key not in known or not 0 <= value <= 100]
    if bad:
        raise ApiError(
            "invalid",
            f"unknown benchmark or target outside 0..100: {', '.join(bad)}",
            [f"targets.{b}" for b in bad],
        )
    changes = web_views.run_what_if(view, targets={k: v / 100 for k, v in body.targets.items()})
    return {
        "pharmacies": [
            {
                "pharmacy_npi": c.pharmacy_npi,
                "before": f"{c.before:.2f}",
                "after": f"{c.after:.2f}",
                "change": f"{c.change:.2f}",
                "members_to_open_clinical_gate": c.members_to_unlock_tier2,
                "worth_of_opening_it": f"{c.tier2_if_unlocked:.2f}",
            }
            for c in changes
        ]
    }


@router.get("/analytics/roi")
def read_roi(request: Request, actor: ActorDep) -> dict[str, Any]:
    """Return on investment of the program year (descriptive, not causal)."""
    access.require(actor, access.ANALYTICS)
    result = web_views.compute_view_roi(program_view(request))
    if result is None:
        raise ApiError("not-found", "the program's contract has no targeting, so no ROI")

    def group(g: Any) -> dict[str, Any]:
        return {
            "members": g.members,
            "before_pmpm": None if g.before_pmpm is None else str(g.before_pmpm),
            "after_pmpm": None if g.after_pmpm is None else str(g.after_pmpm),
        }

    did = result.difference_in_differences
    return {
        "method": result.method,
        "engaged": group(result.engaged),
        "comparison": group(result.comparison),
        "difference_in_differences": None if did is None else str(did),
    }
