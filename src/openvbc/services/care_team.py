"""Who follows a member up: the attributed primary care practice and pharmacy on a date.

The attribution snapshots written by the program year (``attribution_snapshot``) are used when
they exist: the newest snapshot on or before the date, for each provider kind. Without one the
fallback is the member's primary care clinician of record (``member.pcp_npi``) rolled up to the
practice (``provider.parent_npi``), and the pharmacy with most fills in the 12 months before the
date (ties: the most recent fill, then the lower NPI), the plurality rule of domain-rules.md §A10.
Callers ask :func:`find_care_teams` only, so the source can change without touching them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection, func, select

from openvbc.store.tables import attribution_snapshot, fill, member, provider

FILL_LOOKBACK_DAYS = 365


@dataclass(frozen=True)
class Assignment:
    npi: str
    source: str  # e.g. 'snapshot:pie/plurality_fills' or 'fallback:pcp_npi'


@dataclass(frozen=True)
class CareTeam:
    practice: Assignment | None
    pharmacy: Assignment | None


def find_care_teams(conn: Connection, member_ids: Iterable[int], as_of: date) -> dict[int, CareTeam]:
    """Practice and pharmacy of each member on ``as_of`` (either may be None)."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    snapshots = _from_snapshots(conn, ids, as_of)
    practices = _fallback_practices(conn, ids)
    pharmacies = _fallback_pharmacies(conn, ids, as_of)
    teams: dict[int, CareTeam] = {}
    for member_id in ids:
        found = snapshots.get(member_id, {})
        teams[member_id] = CareTeam(
            practice=found.get("practice") or practices.get(member_id),
            pharmacy=found.get("pharmacy") or pharmacies.get(member_id),
        )
    return teams


def _from_snapshots(conn: Connection, ids: list[int], as_of: date) -> dict[int, dict[str, Assignment]]:
    snap = attribution_snapshot
    rows = conn.execute(
        select(snap.c.member_id, snap.c.provider_kind, snap.c.provider_npi, snap.c.program_id, snap.c.method)
        .where(
            snap.c.member_id.in_(ids),
            snap.c.as_of <= as_of,
            snap.c.provider_npi.is_not(None),
        )
        .order_by(snap.c.member_id, snap.c.as_of.desc(), snap.c.program_id, snap.c.method)
    )
    found: dict[int, dict[str, Assignment]] = {}
    for member_id, kind, npi, program_id, method in rows:
        # Rows come newest first, so the first per member and kind wins.
        found.setdefault(member_id, {}).setdefault(kind, Assignment(npi, f"snapshot:{program_id}/{method}"))
    return found


def _fallback_practices(conn: Connection, ids: list[int]) -> dict[int, Assignment]:
    rows = conn.execute(
        select(member.c.member_id, member.c.pcp_npi, provider.c.kind, provider.c.parent_npi)
        .outerjoin(provider, provider.c.npi == member.c.pcp_npi)
        .where(member.c.member_id.in_(ids), member.c.pcp_npi.is_not(None))
    )
    found: dict[int, Assignment] = {}
    for member_id, pcp_npi, kind, parent_npi in rows:
        if kind == "practice":
            found[member_id] = Assignment(pcp_npi, "fallback:pcp_npi")
        elif parent_npi:
            found[member_id] = Assignment(parent_npi, "fallback:pcp_parent_npi")
        else:
            found[member_id] = Assignment(pcp_npi, "fallback:pcp_npi")
    return found


def _fallback_pharmacies(conn: Connection, ids: list[int], as_of: date) -> dict[int, Assignment]:
    since = as_of - timedelta(days=FILL_LOOKBACK_DAYS)
    rows = conn.execute(
        select(
            fill.c.member_id,
            fill.c.pharmacy_npi,
            func.count().label("fills"),
            func.max(fill.c.fill_date).label("last_fill"),
        )
        .where(fill.c.member_id.in_(ids), fill.c.fill_date > since, fill.c.fill_date <= as_of)
        .group_by(fill.c.member_id, fill.c.pharmacy_npi)
    )
    best: dict[int, tuple[int, date, str]] = {}
    for member_id, npi, fills, last_fill in rows:
        current = best.get(member_id)
        # Most fills, then most recent fill, then the lower NPI (negated order kept as a tuple).
        if (
            current is None
            or (fills, last_fill) > current[:2]
            or ((fills, last_fill) == current[:2] and npi < current[2])
        ):
            best[member_id] = (fills, last_fill, npi)
    return {
        member_id: Assignment(npi, "fallback:plurality_fills_12m") for member_id, (_, _, npi) in best.items()
    }
