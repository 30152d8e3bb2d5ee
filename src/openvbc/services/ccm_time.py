"""Care-management time: a start/stop timer and manual entries, with no overlap for one person.

A person cannot do two timed pieces of work at once (reliability-plan.md §5 "CCM time"), whatever
the patient or service. The guard runs inside one serialised write: on SQLite ``BEGIN IMMEDIATE``
takes the database write lock before the overlap check; on PostgreSQL a transaction-level
advisory lock on the person (``pg_advisory_xact_lock``) serialises concurrent writers for that
person before the check, and the unique key (staff_id, start_at) backs it up. A running timer
(no end) overlaps everything after its start, so a second timer or a manual entry inside it is
refused until it is stopped.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, or_, select, text, update

from openvbc.domain.errors import InputIssue, InvalidInput, UserError
from openvbc.store.loader import begin_write
from openvbc.store.tables import ccm_time_entry, member

ROLES = ("clinical_staff", "practitioner")
SERVICES = ("ccm", "tcm")
MAX_ENTRY = timedelta(hours=12)


def find_member_id(conn: Connection, member_key: str) -> int:
    found = conn.execute(select(member.c.member_id).where(member.c.member_key == member_key)).scalar()
    if found is None:
        raise InvalidInput([InputIssue("member", None, "member_key", f"no member {member_key!r}")])
    return int(found)


def lock_person(conn: Connection, staff_id: str) -> None:
    """Serialise writers of one person's time (PostgreSQL; SQLite is already under BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"ccm_time:{staff_id}"})


def insert_time_entry(
    conn: Connection,
    *,
    member_id: int,
    staff_id: str,
    role: str,
    service: str,
    source: str,
    start_at: datetime,
    end_at: datetime | None,
    activity: str | None,
    now: datetime,
) -> int:
    """Insert one entry after the checks; the caller holds the write transaction."""
    where = f"time entry of {staff_id}"
    issues = []
    if role not in ROLES:
        issues.append(InputIssue(where, None, "role", f"must be one of {', '.join(ROLES)}"))
    if service not in SERVICES:
        issues.append(InputIssue(where, None, "service", f"must be one of {', '.join(SERVICES)}"))
    if not staff_id.strip():
        issues.append(InputIssue(where, None, "staff_id", "is empty"))
    if start_at > now:
        issues.append(InputIssue(where, None, "start_at", f"{start_at} is in the future"))
    if end_at is not None:
        if end_at <= start_at:
            issues.append(InputIssue(where, None, "end_at", f"{end_at} is not after the start {start_at}"))
        elif end_at - start_at > MAX_ENTRY:
            issues.append(InputIssue(where, None, "end_at", "an entry may last at most 12 hours"))
        if end_at > now:
            issues.append(InputIssue(where, None, "end_at", f"{end_at} is in the future"))
    if issues:
        raise InvalidInput(issues)
    lock_person(conn, staff_id)
    clash = _find_overlap(conn, staff_id, start_at, end_at)
    if clash is not None:
        raise InvalidInput([InputIssue(where, None, "start_at", _describe_clash(clash))])
    new_id = conn.execute(
        insert(ccm_time_entry)
        .values(
            member_id=member_id,
            staff_id=staff_id,
            role=role,
            service=service,
            source=source,
            start_at=start_at,
            end_at=end_at,
            activity=activity,
            recorded_at=now,
        )
        .returning(ccm_time_entry.c.ccm_time_entry_id)
    ).scalar_one()
    return int(new_id)


def log_time(
    engine: Engine,
    *,
    member_key: str,
    staff_id: str,
    role: str,
    start_at: datetime,
    minutes: int,
    now: datetime,
    activity: str | None = None,
    service: str = "ccm",
) -> int:
    """A manual entry of ``minutes`` starting at ``start_at``; returns its id."""
    if minutes <= 0:
        raise InvalidInput([InputIssue("ccm log", None, "minutes", "must be a positive number")])
    with engine.connect() as conn:
        begin_write(conn)
        entry_id = insert_time_entry(
            conn,
            member_id=find_member_id(conn, member_key),
            staff_id=staff_id,
            role=role,
            service=service,
            source="manual",
            start_at=start_at,
            end_at=start_at + timedelta(minutes=minutes),
            activity=activity,
            now=now,
        )
        conn.commit()
    return entry_id


def start_timer(
    engine: Engine, *, member_key: str, staff_id: str, role: str, now: datetime, activity: str | None = None
) -> int:
    """Start a running timer for one person on one patient; refused while another one runs."""
    with engine.connect() as conn:
        begin_write(conn)
        entry_id = insert_time_entry(
            conn,
            member_id=find_member_id(conn, member_key),
            staff_id=staff_id,
            role=role,
            service="ccm",
            source="timer",
            start_at=now.replace(microsecond=0),
            end_at=None,
            activity=activity,
            now=now,
        )
        conn.commit()
    return entry_id


def stop_timer(engine: Engine, *, staff_id: str, now: datetime, at: datetime | None = None) -> dict[str, Any]:
    """Stop the person's running timer at ``at`` (default ``now``); returns the finished entry."""
    end_at = (at or now).replace(microsecond=0)
    with engine.connect() as conn:
        begin_write(conn)
        lock_person(conn, staff_id)
        running = (
            conn.execute(
                select(ccm_time_entry).where(
                    ccm_time_entry.c.staff_id == staff_id, ccm_time_entry.c.end_at.is_(None)
                )
            )
            .mappings()
            .first()
        )
        if running is None:
            raise UserError(f"{staff_id} has no running timer")
        where = f"timer {running['ccm_time_entry_id']} of {staff_id}"
        if end_at > now:
            raise InvalidInput([InputIssue(where, None, "end_at", f"{end_at} is in the future")])
        if end_at <= running["start_at"]:
            raise InvalidInput(
                [InputIssue(where, None, "end_at", f"{end_at} is not after {running['start_at']}")]
            )
        if end_at - running["start_at"] > MAX_ENTRY:
            raise InvalidInput(
                [InputIssue(where, None, "end_at", "ran over 12 hours; stop it with --at the real end time")]
            )
        conn.execute(
            update(ccm_time_entry)
            .where(ccm_time_entry.c.ccm_time_entry_id == running["ccm_time_entry_id"])
            .values(end_at=end_at)
        )
        conn.commit()
        finished = dict(running)
    finished["end_at"] = end_at
    finished["minutes"] = int((end_at - finished["start_at"]).total_seconds() // 60)
    return finished


def _find_overlap(conn: Connection, staff_id: str, start_at: datetime, end_at: datetime | None) -> Any:
    """The first entry of the person sharing time with ``[start_at, end_at)`` (open end = running)."""
    entry = ccm_time_entry
    query = select(entry).where(
        entry.c.staff_id == staff_id,
        or_(entry.c.end_at.is_(None), entry.c.end_at > start_at),
    )
    if end_at is not None:
        query = query.where(entry.c.start_at < end_at)
    return conn.execute(query.order_by(entry.c.start_at).limit(1)).mappings().first()


def _describe_clash(clash: Any) -> str:
    until = clash["end_at"].isoformat(sep=" ") if clash["end_at"] else "now (timer running)"
    return (
        f"overlaps entry {clash['ccm_time_entry_id']} of the same person "
        f"({clash['start_at'].isoformat(sep=' ')} to {until}); one person cannot log two things at once"
    )
