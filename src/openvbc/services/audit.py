"""The audit log: one hash-chained record per access to member data, sign-in, export and
privilege change (ONC 170.315(d)(2), (d)(3), (d)(10); HIPAA 45 CFR 164.312(b)).

Each record stores the SHA-256 of the previous record and its own SHA-256 over that value and
its fields, so an out-of-band edit, deletion or reordering breaks the chain at the first row
touched. Appenders first lock the single ``audit_head`` row, which serialises the chain on
PostgreSQL and SQLite alike and remembers the tail (a deleted last record is caught there).
The store refuses UPDATE/DELETE on ``audit_event`` (triggers in migration 0006).

Records are written in the transaction of the change they describe (``audited_unit``); a
failure to write the record fails the request (fail secure). A request that fails after the
work began is rolled back and then recorded as a failure in a transaction of its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, asc, desc, select, update

from openvbc.domain.errors import UserError
from openvbc.store.tables import audit_event, audit_head

GENESIS_SHA256 = "0" * 64

# Field order of the hash input; changing it invalidates every stored chain.
CHAINED_FIELDS = (
    "audit_event_id",
    "recorded_at",
    "actor_kind",
    "actor_id",
    "role",
    "org_npi",
    "action",
    "resource_type",
    "resource_id",
    "member_keys",
    "outcome",
    "detail",
    "request_id",
    "source_ip",
)
REPORT_SORT_KEYS = CHAINED_FIELDS
# Actions that change nothing: their records may be group-committed (AuditGroupWriter).
READ_ACTIONS = frozenset({"read", "search", "audit"})


@dataclass
class AuditEntry:
    """What happened, before it is numbered and chained."""

    actor_kind: str
    actor_id: str
    action: str
    resource_type: str
    role: str | None = None
    org_npi: str | None = None
    resource_id: str | None = None
    member_keys: list[str] = field(default_factory=list)
    outcome: str = "success"
    detail: str | None = None
    request_id: str | None = None
    source_ip: str | None = None


def _canonical(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    return str(value)


def compute_record_sha256(prev_sha256: str, record: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the record's fields (JSON list: unambiguous)."""
    payload = json.dumps([prev_sha256, *(_canonical(record.get(name)) for name in CHAINED_FIELDS)])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append_audit(connection: Connection, entry: AuditEntry, *, now: datetime) -> int:
    """Number, chain and insert one record inside the caller's transaction; returns its id."""
    # Taking the head row lock first orders concurrent appenders (PostgreSQL row lock,
    # SQLite write lock) so no two records share a predecessor.
    locked = connection.execute(
        update(audit_head)
        .where(audit_head.c.audit_head_id == 1)
        .values(last_event_id=audit_head.c.last_event_id + 1)
        .returning(audit_head.c.last_event_id, audit_head.c.last_sha256)
    ).one()
    event_id, prev_sha256 = int(locked[0]), str(locked[1])
    record: dict[str, Any] = {
        "audit_event_id": event_id,
        "recorded_at": now.replace(tzinfo=None),
        "actor_kind": entry.actor_kind,
        "actor_id": entry.actor_id[:64],
        "role": entry.role,
        "org_npi": entry.org_npi,
        "action": entry.action,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id[:200] if entry.resource_id else None,
        "member_keys": " ".join(entry.member_keys) or None,
        "outcome": entry.outcome,
        "detail": entry.detail,
        "request_id": entry.request_id,
        "source_ip": entry.source_ip,
    }
    sha = compute_record_sha256(prev_sha256, record)
    connection.execute(audit_event.insert().values(**record, prev_sha256=prev_sha256, sha256=sha))
    connection.execute(update(audit_head).where(audit_head.c.audit_head_id == 1).values(last_sha256=sha))
    return event_id


class AuditedUnit:
    """The transaction of one audited action and the record that will describe it."""

    def __init__(self, connection: Connection, entry: AuditEntry) -> None:
        self.connection = connection
        self.entry = entry

    def touch(self, member_keys: Sequence[str]) -> None:
        """Name the members whose data this action read or wrote."""
        for key in member_keys:
            if key not in self.entry.member_keys:
                self.entry.member_keys.append(key)


@contextmanager
def audited_unit(
    engine: Engine,
    entry: AuditEntry,
    *,
    clock: Callable[[], datetime],
    failure_outcome: Callable[[BaseException], tuple[str, str] | None] | None = None,
) -> Iterator[AuditedUnit]:
    """Run an action and its audit record in one transaction.

    On an exception the work is rolled back, then a failure record is written in its own
    transaction (``failure_outcome`` maps the exception to ``(outcome, detail)``, or None for
    exceptions that should not be recorded), and the exception propagates.
    """
    unit: AuditedUnit | None = None
    try:
        with engine.begin() as connection:
            unit = AuditedUnit(connection, entry)
            yield unit
            append_audit(connection, unit.entry, now=clock())
    except BaseException as error:
        mapped = failure_outcome(error) if failure_outcome else ("failure", type(error).__name__)
        if mapped is not None:
            outcome, detail = mapped
            failed = replace(entry, outcome=outcome, detail=detail, member_keys=[])
            with engine.begin() as connection:
                append_audit(connection, failed, now=clock())
        raise


def record_event(engine: Engine, entry: AuditEntry, *, clock: Callable[[], datetime]) -> int:
    """Write one stand-alone record (sign-in attempts, sign-outs) in its own transaction."""
    with engine.begin() as connection:
        return append_audit(connection, entry, now=clock())


@dataclass(frozen=True)
class ChainReport:
    """Result of checking the chain: ``ok`` or the first bad record and why."""

    ok: bool
    records: int
    first_bad_id: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "first_bad_id": self.first_bad_id,
            "problem": self.problem,
        }


def verify_audit_chain(connection: Connection) -> ChainReport:
    """Recompute every hash in id order; report the first altered, missing or moved record."""
    prev_sha = GENESIS_SHA256
    expected_id = 1
    count = 0
    columns = [audit_event.c[name] for name in CHAINED_FIELDS] + [
        audit_event.c.prev_sha256,
        audit_event.c.sha256,
    ]
    result = connection.execution_options(yield_per=5000).execute(
        select(*columns).order_by(audit_event.c.audit_event_id)
    )
    for row in result.mappings():
        record = dict(row)
        event_id = int(record["audit_event_id"])
        if event_id != expected_id:
            return ChainReport(
                False, count, expected_id, f"record {expected_id} is missing (next is {event_id})"
            )
        if record["prev_sha256"] != prev_sha:
            return ChainReport(
                False, count, event_id, "does not follow the previous record (deleted or reordered)"
            )
        if compute_record_sha256(prev_sha, record) != record["sha256"]:
            return ChainReport(False, count, event_id, "content does not match its hash (altered)")
        prev_sha = str(record["sha256"])
        expected_id += 1
        count += 1
    head = connection.execute(select(audit_head.c.last_event_id, audit_head.c.last_sha256)).one_or_none()
    if head is None:
        return ChainReport(False, count, None, "the audit head row is missing")
    if int(head[0]) != count or str(head[1]) != prev_sha:
        return ChainReport(
            False, count, count + 1, f"the chain ends at {count} but the head says {int(head[0])}"
        )
    return ChainReport(True, count)


def read_audit_report(
    connection: Connection,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    sort_by: str = "recorded_at",
    descending: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Audit records in ``[start, end)`` sorted by any field (ONC 170.315(d)(3))."""
    if sort_by not in REPORT_SORT_KEYS:
        raise UserError(f"cannot sort by {sort_by!r}; choose one of {', '.join(REPORT_SORT_KEYS)}")
    query = select(*(audit_event.c[name] for name in CHAINED_FIELDS))
    if start is not None:
        query = query.where(audit_event.c.recorded_at >= start)
    if end is not None:
        query = query.where(audit_event.c.recorded_at < end)
    order = desc if descending else asc
    query = query.order_by(order(audit_event.c[sort_by]), audit_event.c.audit_event_id)
    if limit is not None:
        query = query.limit(limit)
    return [dict(row) for row in connection.execute(query).mappings()]


class AuditGroupWriter:
    """One writer thread that commits the audit records of concurrent reads together.

    A read changes nothing, so there is no work transaction for its record to share; what the
    reader must get is a durable record before it answers (fail secure). Each record of a read
    is handed to this writer and the request waits for its commit. The writer takes every
    record queued since its last commit and writes them in one transaction: one lock of the
    chain head and one fsync for the whole group instead of one per request. Writes keep
    ``audited_unit`` (record in the transaction of the change). Records keep their order of
    arrival; a failed commit fails every request of its group.
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime], max_batch: int = 500) -> None:
        import queue
        import threading

        self.engine = engine
        self.clock = clock
        self.max_batch = max_batch
        self._queue: queue.Queue[tuple[AuditEntry, threading.Event, list[BaseException]] | None] = (
            queue.Queue()
        )
        self._thread = threading.Thread(target=self._run, name="openvbc-audit-writer", daemon=True)
        self._thread.start()
        self.groups = 0
        self.records = 0

    def record(self, entry: AuditEntry, *, timeout: float = 30.0) -> None:
        """Queue one record and wait until it is committed; raises if it could not be."""
        import threading

        done = threading.Event()
        failures: list[BaseException] = []
        self._queue.put((entry, done, failures))
        if not done.wait(timeout):
            raise RuntimeError("the audit record was not committed in time")
        if failures:
            raise RuntimeError("the audit record could not be written") from failures[0]

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        import queue

        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            try:
                with self.engine.begin() as connection:
                    now = self.clock()
                    for entry, _done, _failures in batch:
                        append_audit(connection, entry, now=now)
                self.groups += 1
                self.records += len(batch)
            except BaseException as error:  # every waiter of the group learns it failed
                for _entry, _done, failures in batch:
                    failures.append(error)
            for _entry, done, _failures in batch:
                done.set()


@contextmanager
def audited_read(
    engine: Engine,
    entry: AuditEntry,
    writer: AuditGroupWriter | None,
    *,
    clock: Callable[[], datetime],
    failure_outcome: Callable[[BaseException], tuple[str, str] | None] | None = None,
) -> Iterator[AuditedUnit]:
    """A read and its record: the read on its own connection, the record group-committed.

    Without a writer this is ``audited_unit`` (the record in the read's transaction).
    """
    if writer is None:
        with audited_unit(engine, entry, clock=clock, failure_outcome=failure_outcome) as unit:
            yield unit
        return
    try:
        with engine.connect() as connection:
            unit = AuditedUnit(connection, entry)
            yield unit
            connection.rollback()  # nothing to keep: reads only
    except BaseException as error:
        mapped = failure_outcome(error) if failure_outcome else ("failure", type(error).__name__)
        if mapped is not None:
            outcome, detail = mapped
            writer.record(replace(entry, outcome=outcome, detail=detail, member_keys=[]))
        raise
    writer.record(unit.entry)
