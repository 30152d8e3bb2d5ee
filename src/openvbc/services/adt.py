"""ADT intake: store raw HL7 messages durably, then (separately, replayably) turn them into events.

Two steps, on purpose (reliability-plan.md §1.3):

1. ``receive_payloads`` stores each accepted message in ``hl7_message`` inside its own committed
   write transaction and only then builds the ACK, so an AA/CA always means "on disk"
   (Mirth connect#2027). The duplicate key is (MSH-3, MSH-4, MSH-10) with a unique constraint:
   the same bytes again are counted and answered AA; the same key with a different body goes to
   ``hl7_conflict`` (never overwriting) and is answered AE with ERR code 205.
2. ``process_received`` turns rows with status ``received`` into ``adt_event`` rows, matches
   PID-3 to ``member.member_key``, and rebuilds the member's ADT encounters from all their events
   (``interop.hl7v2.visit``), so a crash anywhere is repaired by running it again and arrival
   order does not matter. Unmatched events are kept with ``member_id`` null for review and are
   matched on a later run once the member exists.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.interop.hl7v2.ack import AckError, Outcome, build_ack, choose_ack_code
from openvbc.interop.hl7v2.adt import (
    AdtContentError,
    AdtEvent,
    format_event_key,
    read_adt_event,
    split_event_key,
)
from openvbc.interop.hl7v2.batch import split_batch
from openvbc.interop.hl7v2.inbound import Accepted, ReceivePolicy, Refused, inspect_payload
from openvbc.interop.hl7v2.message import MessageError, parse_message
from openvbc.interop.hl7v2.visit import VisitEvent, encounter_key_for, summarize_visit
from openvbc.store.loader import begin_write
from openvbc.store.tables import adt_event, encounter, hl7_conflict, hl7_message, member

Clock = Callable[[], datetime]
STORED, DUPLICATE, CONFLICT = "stored", "duplicate", "conflict"


@dataclass(frozen=True)
class Reply:
    """The answer to one inbound message."""

    control_id: str
    outcome: Outcome
    ack: str | None  # ACK text to send; None when MSH-15 asks for none, or when storing failed
    stored: str | None = None  # stored | duplicate | conflict
    error: AckError | None = None
    failed: bool = False  # the store raised: send nothing, the sender will resend


@dataclass
class ProcessReport:
    processed: int = 0
    errors: int = 0
    matched: int = 0
    unmatched: int = 0
    rematched: int = 0
    encounters: int = 0


@dataclass
class ImportReport:
    file: str
    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    conflicts: list[str] = field(default_factory=list)
    processing: ProcessReport = field(default_factory=ProcessReport)


# --- step 1: store, then acknowledge ------------------------------------------------------


def receive_payloads(
    engine: Engine,
    payloads: Sequence[bytes],
    *,
    policy: ReceivePolicy = ReceivePolicy(),
    clock: Clock = datetime.now,
    identity: tuple[str, str] = ("OPENVBC", ""),
) -> list[Reply]:
    """Inspect, store and answer a group of framed messages (one commit for the group)."""
    inspections = [inspect_payload(payload, policy) for payload in payloads]
    accepted = [item for item in inspections if isinstance(item, Accepted)]
    results = _store_with_fallback(engine, accepted, clock())
    replies: list[Reply] = []
    result_of = iter(results)
    for item in inspections:
        if isinstance(item, Refused):
            code = choose_ack_code(item.header, item.outcome)
            control = item.header.control_id if item.header else ""
            replies.append(
                _reply(item.header, control, item.outcome, code, item.error, None, clock, identity)
            )
            continue
        stored = next(result_of)
        header = item.header
        if stored is None:
            replies.append(Reply(header.control_id, Outcome.ERROR, None, failed=True))
            continue
        outcome, error = Outcome.ACCEPTED, None
        if stored == CONFLICT:
            outcome = Outcome.ERROR
            error = AckError("205", "MSH-10", "control id already received with a different message body")
        code = choose_ack_code(header, outcome)
        replies.append(_reply(header, header.control_id, outcome, code, error, stored, clock, identity))
    return replies


def _reply(
    header: Any,
    control: str,
    outcome: Outcome,
    code: str | None,
    error: AckError | None,
    stored: str | None,
    clock: Clock,
    identity: tuple[str, str],
) -> Reply:
    ack = None
    if code is not None:
        ack = build_ack(
            header,
            code,
            control_id=uuid.uuid4().hex[:20],
            timestamp=clock(),
            error=error,
            receiving_application=identity[0],
            receiving_facility=identity[1],
        )
    return Reply(control, outcome, ack, stored, error)


def _store_with_fallback(engine: Engine, items: list[Accepted], received_at: datetime) -> list[str | None]:
    """Store as one transaction; if that fails, one by one so a single bad item cannot block others."""
    if not items:
        return []
    try:
        return list(store_accepted(engine, items, received_at))
    except Exception:
        if len(items) == 1:
            return [None]
    results: list[str | None] = []
    for item in items:
        try:
            results.extend(store_accepted(engine, [item], received_at))
        except Exception:
            results.append(None)
    return results


def store_accepted(engine: Engine, items: Sequence[Accepted], received_at: datetime) -> list[str]:
    """Insert raw messages idempotently in one committed transaction; stored|duplicate|conflict each."""
    with engine.connect() as connection:
        begin_write(connection)
        results = [_store_one(connection, item, received_at) for item in items]
        connection.commit()
    return results


def _insert(connection: Connection, table: Any) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _store_one(connection: Connection, item: Accepted, received_at: datetime) -> str:
    header = item.header
    key = (header.sending_application, header.sending_facility, header.control_id)
    inserted = connection.execute(
        _insert(connection, hl7_message)
        .values(
            sending_application=key[0],
            sending_facility=key[1],
            control_id=key[2],
            sha256=item.sha256,
            raw=item.text,
            encoding=item.encoding[:32],
            message_type=f"{header.message_type}^{item.event.trigger}"[:16],
            received_at=received_at,
            status="received",
            duplicates=0,
        )
        .on_conflict_do_nothing(index_elements=["sending_application", "sending_facility", "control_id"])
        # RETURNING rather than rowcount: the driver's rowcount is not reliable for ON CONFLICT.
        .returning(hl7_message.c.hl7_message_id)
    ).first()
    if inserted is not None:
        return STORED
    existing = connection.execute(
        select(hl7_message.c.hl7_message_id, hl7_message.c.sha256).where(
            hl7_message.c.sending_application == key[0],
            hl7_message.c.sending_facility == key[1],
            hl7_message.c.control_id == key[2],
        )
    ).one()
    if existing.sha256 == item.sha256:
        connection.execute(
            update(hl7_message)
            .where(hl7_message.c.hl7_message_id == existing.hl7_message_id)
            .values(duplicates=hl7_message.c.duplicates + 1)
        )
        return DUPLICATE
    connection.execute(
        _insert(connection, hl7_conflict)
        .values(
            hl7_message_id=existing.hl7_message_id, sha256=item.sha256, raw=item.text, received_at=received_at
        )
        .on_conflict_do_nothing(index_elements=["hl7_message_id", "sha256"])
    )
    return CONFLICT


# --- step 2: replayable processing ---------------------------------------------------------


def process_received(engine: Engine, *, batch_size: int = 200) -> ProcessReport:
    """Process every stored message not yet processed; safe to run again at any time."""
    report = ProcessReport()
    _rematch_unmatched(engine, report)
    while True:
        with engine.connect() as connection:
            begin_write(connection)
            rows = connection.execute(
                select(hl7_message.c.hl7_message_id, hl7_message.c.raw)
                .where(hl7_message.c.status == "received")
                .order_by(hl7_message.c.hl7_message_id)
                .limit(batch_size)
            ).all()
            if not rows:
                connection.rollback()
                return report
            merges = _load_merges(connection)
            affected: set[int] = set()
            for row in rows:
                _process_one(connection, row.hl7_message_id, row.raw, merges, affected, report)
            report.encounters += _rebuild_encounters(connection, affected, merges)
            connection.commit()


def _process_one(
    connection: Connection,
    message_id: int,
    raw: str,
    merges: dict[str, str],
    affected: set[int],
    report: ProcessReport,
) -> None:
    try:
        event = read_adt_event(parse_message(raw))
    except (MessageError, AdtContentError) as error:
        connection.execute(
            update(hl7_message)
            .where(hl7_message.c.hl7_message_id == message_id)
            .values(status="error", error=str(error), processed_at=datetime.now())
        )
        report.errors += 1
        return
    member_id, member_key = _match_member(connection, event.member_keys, merges)
    header = event.header
    event_key = format_event_key(header.sending_application, header.sending_facility, header.control_id)
    connection.execute(
        _insert(connection, adt_event)
        .values(
            event_key=event_key,
            member_id=member_id,
            member_key=member_key,
            trigger=event.trigger,
            patient_class=event.patient_class,
            event_at=event.event_at,
            admit_at=event.admit_at,
            discharge_at=event.discharge_at,
            facility_npi=event.facility_npi,
            visit_number=(event.visit_number or None) and event.visit_number[:40],
            discharge_disposition=event.discharge_disposition,
        )
        .on_conflict_do_nothing(index_elements=["event_key"])
    )
    if event.trigger == "A40":
        merges.update({prior: member_key for prior in event.prior_member_keys if prior != member_key})
        affected.update(_apply_merge(connection, event.prior_member_keys, member_id))
    if member_id is None:
        report.unmatched += 1
    else:
        report.matched += 1
        affected.add(member_id)
    connection.execute(
        update(hl7_message)
        .where(hl7_message.c.hl7_message_id == message_id)
        .values(status="processed", processed_at=datetime.now(), error=None)
    )
    report.processed += 1


def _resolve(key: str, merges: dict[str, str]) -> str:
    seen = {key}
    while key in merges and merges[key] not in seen:  # bounded: merge cycles are broken
        key = merges[key]
        seen.add(key)
    return key


def _match_member(
    connection: Connection, keys: Iterable[str], merges: dict[str, str]
) -> tuple[int | None, str]:
    candidates = [_resolve(key, merges) for key in keys]
    found = dict(
        connection.execute(
            select(member.c.member_key, member.c.member_id).where(member.c.member_key.in_(candidates))
        ).all()
    )
    for key in candidates:
        if key in found:
            return int(found[key]), key
    return None, candidates[0]


def _load_merges(connection: Connection) -> dict[str, str]:
    """prior identifier -> surviving identifier, from every processed A40."""
    merges: dict[str, str] = {}
    rows = connection.execute(
        select(hl7_message.c.raw).where(
            hl7_message.c.message_type == "ADT^A40", hl7_message.c.status == "processed"
        )
    )
    for (raw,) in rows:
        try:
            event = read_adt_event(parse_message(raw))
        except (MessageError, AdtContentError):
            continue
        for prior in event.prior_member_keys:
            if prior != event.member_keys[0]:
                merges[prior] = event.member_keys[0]
    return merges


def _apply_merge(connection: Connection, prior_keys: Sequence[str], survivor_id: int | None) -> set[int]:
    """Move the prior identifiers' events to the survivor; return the members to rebuild."""
    prior_ids = {
        int(value)
        for (value,) in connection.execute(
            select(member.c.member_id).where(member.c.member_key.in_(prior_keys))
        )
    }
    if survivor_id is None:
        return prior_ids
    connection.execute(
        update(adt_event)
        .where(
            adt_event.c.member_id.in_(prior_ids)
            | (adt_event.c.member_id.is_(None) & adt_event.c.member_key.in_(prior_keys))
        )
        .values(member_id=survivor_id)
    )
    return prior_ids | {survivor_id}


def _rematch_unmatched(engine: Engine, report: ProcessReport) -> None:
    with engine.connect() as connection:
        begin_write(connection)
        pairs = connection.execute(
            select(adt_event.c.adt_event_id, member.c.member_id)
            .join(member, member.c.member_key == adt_event.c.member_key)
            .where(adt_event.c.member_id.is_(None))
        ).all()
        for event_id, member_id in pairs:
            connection.execute(
                update(adt_event).where(adt_event.c.adt_event_id == event_id).values(member_id=member_id)
            )
        if pairs:
            report.rematched += len(pairs)
            report.encounters += _rebuild_encounters(
                connection, {m for _, m in pairs}, _load_merges(connection)
            )
        connection.commit()


def _rebuild_encounters(connection: Connection, member_ids: set[int], merges: dict[str, str]) -> int:
    """Recompute every ADT encounter of these members from all their events."""
    written = 0
    for member_id in sorted(member_ids):
        member_key = connection.execute(
            select(member.c.member_key).where(member.c.member_id == member_id)
        ).scalar_one()
        groups: dict[str, list[VisitEvent]] = {}
        keys = connection.execute(
            select(adt_event.c.event_key).where(
                adt_event.c.member_id == member_id, adt_event.c.trigger != "A40"
            )
        ).scalars()
        for event_key in keys:
            event = _reread_event(connection, event_key)
            if event is None:
                continue
            facility = event.header.sending_facility
            groups.setdefault(encounter_key_for(facility, event, member_key), []).append(
                VisitEvent.from_adt(event_key, event)
            )
        for encounter_key, events in groups.items():
            state = summarize_visit(events)
            if state is None:
                continue
            values = {
                "member_id": member_id,
                "setting": state.setting,
                "status": state.status,
                "start_at": state.start_at,
                "end_at": state.end_at,
                "discharge_disposition": state.discharge_disposition,
                "provider_npi": state.provider_npi,
                "facility_npi": state.facility_npi,
                "source": "adt",
            }
            key = (
                encounter_key
                if len(encounter_key) <= 96
                else "adt|" + hashlib.sha256(encounter_key.encode()).hexdigest()
            )
            connection.execute(
                _insert(connection, encounter)
                .values(encounter_key=key, **values)
                .on_conflict_do_update(index_elements=["encounter_key"], set_=values)
            )
            written += 1
        kept = [k if len(k) <= 96 else "adt|" + hashlib.sha256(k.encode()).hexdigest() for k in groups]
        # Encounters whose events all moved away (an A40 merge) no longer describe this member.
        connection.execute(
            delete(encounter).where(
                encounter.c.member_id == member_id,
                encounter.c.source == "adt",
                encounter.c.encounter_key.not_in(kept),
            )
        )
    return written


def _reread_event(connection: Connection, event_key: str) -> AdtEvent | None:
    application, facility, control_id = split_event_key(event_key)
    raw = connection.execute(
        select(hl7_message.c.raw).where(
            hl7_message.c.sending_application == application,
            hl7_message.c.sending_facility == facility,
            hl7_message.c.control_id == control_id,
        )
    ).scalar_one_or_none()
    if raw is None:
        return None
    try:
        return read_adt_event(parse_message(raw))
    except (MessageError, AdtContentError):
        return None


# --- batch files ---------------------------------------------------------------------------


def import_adt_file(
    engine: Engine, path: Path, *, policy: ReceivePolicy = ReceivePolicy(), clock: Clock = datetime.now
) -> ImportReport:
    """Load one ADT file (with or without FHS/BHS wrappers): all messages or none, then process."""
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InvalidInput([InputIssue(name, None, None, f"cannot read file: {error.strerror}")]) from None
    messages, problems = split_batch(data)
    issues = [InputIssue(name, p.line, p.segment, p.message) for p in problems]
    accepted: list[Accepted] = []
    for message in messages:
        result = inspect_payload(message.payload, policy)
        if isinstance(result, Refused):
            code = choose_ack_code(None, result.outcome)
            issues.append(
                InputIssue(
                    name,
                    message.line,
                    result.error.location,
                    f"{code} {result.error.code}: {result.error.text}",
                )
            )
        else:
            accepted.append(result)
    if not messages and not issues:
        issues.append(InputIssue(name, None, None, "no HL7 message (MSH segment) found"))
    if issues:
        raise InvalidInput(issues)
    report = ImportReport(file=name, messages=len(messages))
    results = store_accepted(engine, accepted, clock())
    report.stored = results.count(STORED)
    report.duplicates = results.count(DUPLICATE)
    report.conflicts = [
        item.header.control_id for item, r in zip(accepted, results, strict=True) if r == CONFLICT
    ]
    report.processing = process_received(engine)
    return report
