"""The audit chain: written for every member access and sign-in, refused edits by the
application, and every out-of-band edit, deletion, reorder or truncation detected.
(reliability-plan.md §7.3 S9, S10, S11; ONC 170.315(d)(2), (d)(3).)"""

from __future__ import annotations

import random
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from api.world import World
from openvbc.services.audit import (
    AuditEntry,
    append_audit,
    compute_record_sha256,
    read_audit_report,
    verify_audit_chain,
)
from openvbc.store.tables import audit_event


def _events(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        return [
            dict(row)
            for row in connection.execute(
                select(audit_event).order_by(audit_event.c.audit_event_id)
            ).mappings()
        ]


def test_each_member_access_writes_one_record_with_who_what_which_outcome(
    client: TestClient, world: World
) -> None:
    before = len(_events(world.engine))
    headers = {"X-API-Key": world.api_keys["pharm_a"]}
    assert client.get("/api/members/A1", headers=headers).status_code == 200
    assert client.get("/api/members/B1", headers=headers).status_code == 404
    events = _events(world.engine)[before:]
    assert [(e["actor_id"], e["action"], e["member_keys"], e["outcome"]) for e in events] == [
        ("key-pharm_a", "read", "A1", "success"),
        ("key-pharm_a", "read", None, "failure"),  # the foreign key is not confirmed even in the log
    ]
    assert all(e["request_id"] and e["recorded_at"] == world.clock() for e in events)


def test_hash_of_a_record_is_recomputable_by_hand(world: World) -> None:
    first = _events(world.engine)[0]
    assert first["prev_sha256"] == "0" * 64
    assert compute_record_sha256("0" * 64, first) == first["sha256"]


def test_application_cannot_update_or_delete_audit_rows(world: World) -> None:
    for statement in ("UPDATE audit_event SET outcome = 'success'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"), world.engine.begin() as connection:
            connection.execute(text(statement))


def _tamper(engine: Engine, how: str, rng: random.Random) -> int:
    """Out-of-band change by someone who can drop the triggers; returns the first id touched."""
    ids = [int(e["audit_event_id"]) for e in _events(engine)]
    target = rng.choice(ids[:-1])
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER audit_event_no_update"))
        connection.execute(text("DROP TRIGGER audit_event_no_delete"))
        if how == "alter":
            connection.execute(
                text("UPDATE audit_event SET actor_id = 'mallory' WHERE audit_event_id = :i"), {"i": target}
            )
        elif how == "delete":
            connection.execute(text("DELETE FROM audit_event WHERE audit_event_id = :i"), {"i": target})
        elif how == "reorder":
            # swap the content of two neighbours, keeping ids: the order of events changes
            columns = "actor_id, action, resource_type, resource_id, detail, recorded_at, prev_sha256, sha256"
            rows = {
                r[0]: r
                for r in connection.execute(
                    text(
                        f"SELECT audit_event_id, {columns} FROM audit_event WHERE audit_event_id IN (:a, :b)"
                    ),
                    {"a": target, "b": target + 1},
                )
            }
            names = columns.split(", ")
            for this, that in ((target, target + 1), (target + 1, target)):
                values = {name: rows[that][n + 1] for n, name in enumerate(names)}
                assignments = ", ".join(f"{name} = :{name}" for name in names)
                connection.execute(
                    text(f"UPDATE audit_event SET {assignments} WHERE audit_event_id = :i"),
                    {**values, "i": this},
                )
        elif how == "truncate":
            target = ids[-1]
            connection.execute(text("DELETE FROM audit_event WHERE audit_event_id = :i"), {"i": target})
    return target


@pytest.mark.parametrize("how", ["alter", "delete", "reorder", "truncate"])
def test_verify_detects_out_of_band_changes(
    client: TestClient, world: World, sqlite_template: object, how: str
) -> None:
    headers = {"X-API-Key": world.api_keys["analyst"]}
    for key in ("A1", "A2", "B1", "Z9"):
        client.get(f"/api/members/{key}", headers=headers)
    with world.engine.connect() as connection:
        assert verify_audit_chain(connection).ok
    rng = random.Random(how)
    target = _tamper(world.engine, how, rng)
    with world.engine.connect() as connection:
        report = verify_audit_chain(connection)
    assert not report.ok
    assert report.first_bad_id is not None and report.first_bad_id <= target + 1


def test_random_tampering_is_always_detected(world: World) -> None:
    """200 random single edits on a copy of the log: every one is caught (S10)."""
    with world.engine.begin() as connection:
        for number in range(60):
            append_audit(
                connection,
                AuditEntry("user", f"u{number}", "read", "member", member_keys=[f"M{number}"]),
                now=datetime(2026, 1, 1, 0, number),
            )
    with world.engine.connect() as connection:
        rows = [
            dict(r)
            for r in connection.execute(select(audit_event).order_by(audit_event.c.audit_event_id)).mappings()
        ]
    rng = random.Random(7)
    detected = 0
    for _trial in range(200):
        copy = [dict(r) for r in rows]
        i = rng.randrange(len(copy))
        change = rng.choice(["field", "delete", "swap"])
        if change == "field":
            copy[i]["detail"] = "edited"
        elif change == "delete":
            del copy[i]
        else:
            j = min(i + 1, len(copy) - 1) if i + 1 < len(copy) else i - 1
            copy[i], copy[j] = copy[j], copy[i]
            copy[i]["audit_event_id"], copy[j]["audit_event_id"] = (
                copy[j]["audit_event_id"],
                copy[i]["audit_event_id"],
            )
        detected += not _chain_ok(copy, rows[-1])
    assert detected == 200


def _chain_ok(rows: list[dict[str, object]], head: dict[str, object]) -> bool:
    prev = "0" * 64
    for number, row in enumerate(rows, start=1):
        if row["audit_event_id"] != number or row["prev_sha256"] != prev:
            return False
        if compute_record_sha256(prev, row) != row["sha256"]:
            return False
        prev = str(row["sha256"])
    return len(rows) == head["audit_event_id"] and prev == head["sha256"]


def test_report_sorts_by_every_field_and_filters_by_time(world: World) -> None:
    with world.engine.connect() as connection:
        everything = read_audit_report(connection)
        for key in ("actor_id", "action", "outcome", "audit_event_id", "recorded_at"):
            rows = read_audit_report(connection, sort_by=key, descending=True)
            values = [str(row[key]) if row[key] is not None else "" for row in rows]
            assert len(rows) == len(everything)
            if key != "audit_event_id":
                assert values == sorted(values, reverse=True)
        assert read_audit_report(connection, start=datetime(2030, 1, 1)) == []
