"""Transitions-of-care daily worklists (``openvbc transitions worklist --date D``).

The worklist of date D lists the ED visits and discharges of D-1 for each attributed primary care
practice and each attributed pharmacy (domain-rules.md §A11). Flags come from one Ibis
expression (:mod:`openvbc.engine.transitions`) run on DuckDB over the affected members'
encounters. Qualifying discharges open a TCM case with its deadlines
(:mod:`openvbc.services.tcm_cases`); the practice gets the contact task, the pharmacy a
medication-reconciliation task. Items are keyed by (date, audience, encounter, task), so building
the same day again adds nothing and keeps what was already done; a late ADT message adds its
item on the next build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, Engine, and_, insert, or_, select

from openvbc.engine.backends import connect_duckdb
from openvbc.engine.transitions import DISCHARGE_SETTINGS, find_transition_events
from openvbc.services.care_team import CareTeam, find_care_teams
from openvbc.services.tcm_cases import CaseOpening, open_case_for_discharge
from openvbc.store.loader import begin_write
from openvbc.store.tables import encounter, member, tcm_case, transition_item

ENCOUNTER_COLUMNS = {
    "member_id": pa.int64(),
    "encounter_key": pa.string(),
    "setting": pa.string(),
    "status": pa.string(),
    "start_at": pa.timestamp("us"),
    "end_at": pa.timestamp("us"),
    "facility_npi": pa.string(),
    "discharge_disposition": pa.string(),
}


@dataclass
class WorklistBuild:
    worklist_date: date
    events: int = 0
    items_added: int = 0
    cases_opened: int = 0
    unattributed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "worklist_date": self.worklist_date.isoformat(),
            "events": self.events,
            "items_added": self.items_added,
            "cases_opened": self.cases_opened,
            "unattributed": self.unattributed,
        }


def find_day_events(engine: Engine, event_day: date) -> list[dict[str, Any]]:
    """The ED visits and discharges of ``event_day`` with their flags (Ibis on DuckDB)."""
    with engine.connect() as conn:
        arrow = _read_encounters(conn, event_day)
    if arrow.num_rows == 0:
        return []
    con = connect_duckdb(threads=1)
    try:
        table = con.create_table("encounter", arrow, overwrite=True)
        rows: list[dict[str, Any]] = find_transition_events(table, event_day).to_pyarrow().to_pylist()
    finally:
        con.disconnect()
    return rows


def build_transitions_worklist(engine: Engine, worklist_date: date, *, now: datetime) -> WorklistBuild:
    """Build (or top up) the worklists of ``worklist_date`` for every practice and pharmacy."""
    event_day = worklist_date - timedelta(days=1)
    events = find_day_events(engine, event_day)
    build = WorklistBuild(worklist_date, events=len(events))
    if not events:
        return build
    with engine.connect() as conn:
        begin_write(conn)
        teams = find_care_teams(conn, (e["member_id"] for e in events), event_day)
        keys = dict(
            conn.execute(
                select(member.c.member_id, member.c.member_key).where(
                    member.c.member_id.in_({e["member_id"] for e in events})
                )
            ).all()
        )
        for event in events:
            team = teams.get(event["member_id"], CareTeam(None, None))
            if team.practice is None and team.pharmacy is None:
                build.unattributed.append(f"{keys[event['member_id']]} ({event['encounter_key']})")
            opening = None
            if event["event_kind"] == "discharge" and event["setting"] in DISCHARGE_SETTINGS:
                before = conn.execute(
                    select(tcm_case.c.tcm_case_id).where(tcm_case.c.encounter_key == event["encounter_key"])
                ).scalar()
                opening = open_case_for_discharge(
                    conn,
                    encounter_key=event["encounter_key"],
                    member_id=event["member_id"],
                    practice_npi=team.practice.npi if team.practice else None,
                    from_setting=event["setting"],
                    discharge_disposition=event["discharge_disposition"],
                    discharged_at=event["event_at"],
                    now=now,
                )
                build.cases_opened += int(before is None and opening.case_id is not None)
            for item in plan_items(worklist_date, event, team, opening):
                build.items_added += _insert_item(conn, item, now)
        conn.commit()
    return build


def plan_items(
    worklist_date: date, event: dict[str, Any], team: CareTeam, opening: CaseOpening | None
) -> list[dict[str, Any]]:
    """The worklist items one event gives each attributed audience (pure)."""
    common = {
        "worklist_date": worklist_date,
        "member_id": event["member_id"],
        "encounter_key": event["encounter_key"],
        "event_kind": event["event_kind"],
        "event_at": event["event_at"],
        "setting": event["setting"],
        "facility_npi": event["facility_npi"],
        "ed_visits_60d": int(event["ed_visits_60d"]),
        "high_utilizer": bool(event["high_utilizer"]),
        "readmission_30d": bool(event["readmission_30d"]),
    }
    items: list[dict[str, Any]] = []
    case_id = opening.case_id if opening else None
    note = "; ".join(opening.reasons) if opening and opening.reasons else None
    if team.practice is not None:
        if event["event_kind"] == "ed_visit":
            task, due = "ed_follow_up", None
        elif case_id is not None and opening is not None:
            task, due = "tcm_contact", opening.contact_due
        else:
            task, due = "discharge_follow_up", None
        items.append(
            _item(common, "practice", team.practice.npi, team.practice.source, task, due, case_id, note)
        )
    if team.pharmacy is not None:
        if event["event_kind"] == "ed_visit":
            task, due = "ed_follow_up", None
        else:
            # Reconciliation is due by the face-to-face visit at the latest (CPT TCM descriptor).
            task, due = "medication_reconciliation", opening.visit_due if opening else None
        items.append(
            _item(common, "pharmacy", team.pharmacy.npi, team.pharmacy.source, task, due, case_id, note)
        )
    return items


def list_transitions_worklist(
    engine: Engine,
    worklist_date: date,
    *,
    practice_npi: str | None = None,
    pharmacy_npi: str | None = None,
) -> list[dict[str, Any]]:
    """Items of one worklist date (optionally one practice or pharmacy) with their TCM case state."""
    query = (
        select(
            transition_item,
            member.c.member_key,
            member.c.first_name,
            member.c.last_name,
            tcm_case.c.contact_due,
            tcm_case.c.visit_due_by_code,
            tcm_case.c.status.label("tcm_status"),
            tcm_case.c.code.label("tcm_code"),
            tcm_case.c.reasons.label("tcm_reasons"),
        )
        .join(member, member.c.member_id == transition_item.c.member_id)
        .outerjoin(tcm_case, tcm_case.c.tcm_case_id == transition_item.c.tcm_case_id)
        .where(transition_item.c.worklist_date == worklist_date)
        .order_by(
            transition_item.c.audience_kind,
            transition_item.c.audience_npi,
            transition_item.c.event_at,
            member.c.member_key,
            transition_item.c.task,
        )
    )
    filters = []
    if practice_npi is not None:
        filters.append(
            and_(
                transition_item.c.audience_kind == "practice", transition_item.c.audience_npi == practice_npi
            )
        )
    if pharmacy_npi is not None:
        filters.append(
            and_(
                transition_item.c.audience_kind == "pharmacy", transition_item.c.audience_npi == pharmacy_npi
            )
        )
    if filters:
        query = query.where(or_(*filters))
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def _item(
    common: dict[str, Any],
    kind: str,
    npi: str,
    source: str,
    task: str,
    due: date | None,
    case_id: int | None,
    note: str | None,
) -> dict[str, Any]:
    key = f"{common['worklist_date'].isoformat()}|{kind}|{npi}|{common['encounter_key']}|{task}"
    return {
        **common,
        "item_key": key,
        "audience_kind": kind,
        "audience_npi": npi,
        "attribution_source": source[:48],
        "task": task,
        "due_date": due,
        "tcm_case_id": case_id,
        "note": note,
    }


def _insert_item(conn: Connection, item: dict[str, Any], now: datetime) -> int:
    exists = conn.execute(
        select(transition_item.c.transition_item_id).where(transition_item.c.item_key == item["item_key"])
    ).scalar()
    if exists is not None:
        return 0
    conn.execute(insert(transition_item).values(**item, status="open", created_at=now))
    return 1


def _read_encounters(conn: Connection, event_day: date) -> pa.Table:
    """Every encounter of the members with an ED visit or a discharge on ``event_day``."""
    low = datetime(event_day.year, event_day.month, event_day.day)
    high = low + timedelta(days=1)
    on_day = or_(
        and_(encounter.c.setting == "ed", encounter.c.start_at >= low, encounter.c.start_at < high),
        and_(
            encounter.c.setting.in_(DISCHARGE_SETTINGS),
            encounter.c.end_at >= low,
            encounter.c.end_at < high,
        ),
    )
    members = select(encounter.c.member_id).where(on_day).distinct().scalar_subquery()
    columns = [encounter.c[name] for name in ENCOUNTER_COLUMNS]
    rows = conn.execute(select(*columns).where(encounter.c.member_id.in_(members))).all()
    data = {name: [row[i] for row in rows] for i, name in enumerate(ENCOUNTER_COLUMNS)}
    return pa.table({name: pa.array(data[name], type=kind) for name, kind in ENCOUNTER_COLUMNS.items()})
