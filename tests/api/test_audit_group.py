"""Group-committed audit records of reads (services.audit.AuditGroupWriter).

Concurrent readers each get their own record, committed before they answer; the records of
requests that arrive together share one transaction; the chain stays intact; a read that
fails is recorded as a failure; writes still commit their record with the change.
"""

from __future__ import annotations

import threading
from datetime import datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from api.conftest import key_headers
from api.world import World
from openvbc.services.audit import AuditEntry, AuditGroupWriter, verify_audit_chain
from openvbc.store.tables import audit_event


def _count(engine: Engine, **where: str) -> int:
    query = select(func.count()).select_from(audit_event)
    for name, value in where.items():
        query = query.where(audit_event.c[name] == value)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def test_concurrent_records_are_grouped_and_chained(sqlite_engine: Engine) -> None:
    writer = AuditGroupWriter(sqlite_engine, clock=lambda: datetime(2026, 3, 10, 12, 0))
    before = _count(sqlite_engine)
    threads = [
        threading.Thread(
            target=writer.record,
            args=(AuditEntry(actor_kind="user", actor_id=f"u{n}", action="read", resource_type="member"),),
        )
        for n in range(40)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    assert _count(sqlite_engine) - before == 40
    assert writer.records == 40 and writer.groups < 40  # some requests shared a commit
    with sqlite_engine.connect() as connection:
        assert verify_audit_chain(connection).ok


def test_reads_through_the_api_are_recorded_before_the_answer(client: TestClient, world: World) -> None:
    headers = key_headers(world, "pharm_a")
    assert client.get("/api/members/A1", headers=headers).status_code == 200
    # The answer came after the commit: the record is already there, naming the member.
    with world.engine.connect() as connection:
        row = connection.execute(
            select(audit_event.c.member_keys, audit_event.c.outcome)
            .where(audit_event.c.resource_id == "A1")
            .order_by(audit_event.c.audit_event_id.desc())
        ).first()
    assert row is not None and row.member_keys == "A1" and row.outcome == "success"
    assert client.get("/api/members/B1", headers=headers).status_code == 404
    assert _count(world.engine, resource_id="B1", outcome="failure") == 1
    with world.engine.connect() as connection:
        assert verify_audit_chain(connection).ok
