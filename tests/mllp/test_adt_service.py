"""Store-then-ACK, duplicates, conflicts and replayable processing, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import random
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select

from hl7v2.samples import DATA, make_adt
from openvbc.domain.errors import InvalidInput
from openvbc.interop.hl7v2.ack import Outcome
from openvbc.services.adt import import_adt_file, process_received, receive_payloads
from openvbc.store.tables import adt_event, encounter, hl7_conflict, hl7_message, member

FIXED = datetime(2025, 3, 1, 12, 0)


def clock() -> datetime:
    return FIXED


def add_member(engine: Engine, key: str) -> int:
    with engine.begin() as connection:
        connection.execute(
            insert(member).values(
                member_key=key, birth_date=date(1960, 1, 1), sex="F", line_of_business="medicare"
            )
        )
        return int(
            connection.execute(select(member.c.member_id).where(member.c.member_key == key)).scalar_one()
        )


def count(engine: Engine, table: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def encounters(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                encounter.c.encounter_key,
                encounter.c.member_id,
                encounter.c.setting,
                encounter.c.status,
                encounter.c.start_at,
                encounter.c.end_at,
            ).order_by(encounter.c.encounter_key)
        )
        return [tuple(row) for row in rows]


def test_duplicate_is_stored_once_and_acknowledged(store_engine: Engine) -> None:
    payload = make_adt("D1").encode()
    first, second = receive_payloads(store_engine, [payload, payload], clock=clock)
    assert (first.stored, second.stored) == ("stored", "duplicate")
    assert first.ack is not None and "MSA|AA|D1" in first.ack
    assert second.ack is not None and "MSA|AA|D1" in second.ack
    with store_engine.connect() as connection:
        assert connection.execute(select(hl7_message.c.duplicates)).scalar_one() == 1


def test_same_control_id_with_another_body_is_a_conflict_and_never_overwrites(store_engine: Engine) -> None:
    original = make_adt("C1", patient_class="I").encode()
    changed = make_adt("C1", patient_class="E").encode()
    receive_payloads(store_engine, [original], clock=clock)
    (reply,) = receive_payloads(store_engine, [changed], clock=clock)
    (again,) = receive_payloads(store_engine, [changed], clock=clock)
    assert reply.outcome is Outcome.ERROR and reply.ack is not None and "MSA|AE|C1" in reply.ack
    assert reply.error is not None and reply.error.code == "205"
    assert again.stored == "conflict"
    assert count(store_engine, hl7_conflict) == 1
    with store_engine.connect() as connection:
        assert connection.execute(select(hl7_message.c.raw)).scalar_one() == original.decode()


def test_store_failure_sends_no_ack(sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import openvbc.services.adt as service

    def broken(*_args: object, **_kwargs: object) -> list[str]:
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "store_accepted", broken)
    (reply,) = receive_payloads(sqlite_engine, [make_adt("F1").encode()], clock=clock)
    assert reply.failed and reply.ack is None
    assert count(sqlite_engine, hl7_message) == 0


def test_processing_builds_encounters_and_keeps_unmatched_for_review(store_engine: Engine) -> None:
    member_id = add_member(store_engine, "M0001")
    receive_payloads(
        store_engine,
        [
            make_adt("P1", "A01", event_at="20250301080000").encode(),
            make_adt("P2", "A03", event_at="20250304100000", discharge_at="20250304093000").encode(),
            make_adt("P3", "A04", member_key="NOBODY", visit="V9", patient_class="E").encode(),
        ],
        clock=clock,
    )
    report = process_received(store_engine)
    assert (report.processed, report.matched, report.unmatched) == (3, 2, 1)
    assert encounters(store_engine) == [
        (
            "adt|GENHOSP|V100",
            member_id,
            "inpatient",
            "finished",
            datetime(2025, 3, 1, 7, 55),
            datetime(2025, 3, 4, 9, 30),
        )
    ]
    assert process_received(store_engine).processed == 0  # replay is a no-op
    later = add_member(store_engine, "NOBODY")
    assert process_received(store_engine).rematched == 1
    assert ("adt|GENHOSP|V9", later, "ed", "arrived") in [row[:4] for row in encounters(store_engine)]


SEQUENCE = [
    ("S1", "A04", "20250301080000", "E", ""),
    ("S2", "A01", "20250301090000", "I", ""),
    ("S3", "A08", "20250301100000", "I", ""),
    ("S4", "A02", "20250302080000", "I", ""),
    ("S5", "A03", "20250303080000", "I", "20250303075000"),
    ("S6", "A13", "20250303090000", "I", ""),
    ("S7", "A03", "20250304080000", "I", "20250304070000"),
]


def deliver(engine: Engine, order: list[int]) -> list[tuple[object, ...]]:
    for index in order:
        control, trigger, at, klass, discharge = SEQUENCE[index]
        payload = make_adt(
            control, trigger, event_at=at, patient_class=klass, discharge_at=discharge
        ).encode()
        receive_payloads(engine, [payload], clock=clock)
        process_received(engine)
    return encounters(engine)


def test_out_of_order_delivery_converges(sqlite_engine: Engine, tmp_path: Path) -> None:
    member_id = add_member(sqlite_engine, "M0001")
    in_order = deliver(sqlite_engine, list(range(len(SEQUENCE))))
    # Hand-derived: ED arrival, admitted, discharged, discharge cancelled, discharged again 4 March 07:00.
    assert in_order == [
        (
            "adt|GENHOSP|V100",
            member_id,
            "inpatient",
            "finished",
            datetime(2025, 3, 1, 7, 55),
            datetime(2025, 3, 4, 7, 0),
        )
    ]
    from openvbc.store.database import open_engine
    from openvbc.store.migrate import upgrade_schema

    rng = random.Random(7)
    for trial in range(3):
        other = open_engine(f"sqlite:///{tmp_path / f'shuffled{trial}.db'}")
        upgrade_schema(other)
        add_member(other, "M0001")
        order = list(range(len(SEQUENCE)))
        rng.shuffle(order)
        assert deliver(other, order) == in_order, order
        other.dispose()


def test_cancel_admit_and_merge(store_engine: Engine) -> None:
    old_id = add_member(store_engine, "OLD0001")
    new_id = add_member(store_engine, "M0001")
    receive_payloads(
        store_engine, [make_adt("X1", "A01", member_key="OLD0001", visit="V7").encode()], clock=clock
    )
    process_received(store_engine)
    assert [row[1] for row in encounters(store_engine)] == [old_id]
    receive_payloads(
        store_engine,
        [make_adt("X2", "A40", member_key="M0001", event_at="20250302000000").encode()],
        clock=clock,
    )
    process_received(store_engine)
    assert [row[1] for row in encounters(store_engine)] == [new_id]
    receive_payloads(
        store_engine,
        [make_adt("X3", "A11", member_key="OLD0001", visit="V7", event_at="20250302010000").encode()],
        clock=clock,
    )
    process_received(store_engine)  # an event for the old identifier after the merge follows it
    assert [row[1:4] for row in encounters(store_engine)] == [(new_id, "inpatient", "cancelled")]
    with store_engine.connect() as connection:
        assert set(connection.execute(select(adt_event.c.member_id)).scalars()) == {new_id}


def test_import_batch_files(store_engine: Engine) -> None:
    report = import_adt_file(store_engine, DATA / "python-hl7" / "sample_file1.hl7", clock=clock)
    # Three messages, two distinct control ids (…890 appears twice with the same body).
    assert (report.messages, report.stored, report.duplicates) == (3, 2, 1)
    again = import_adt_file(store_engine, DATA / "python-hl7" / "sample_file1.hl7", clock=clock)
    assert (again.stored, again.duplicates) == (0, 3)
    assert count(store_engine, hl7_message) == 2


@pytest.mark.parametrize("name", ["sample_bad_batch1.hl7", "sample_hl7.hl7"])
def test_import_rejects_bad_files_with_line_and_field(sqlite_engine: Engine, name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        import_adt_file(sqlite_engine, DATA / "python-hl7" / name, clock=clock)
    first = caught.value.issues[0]
    assert first.file.endswith(name) and first.line is not None and first.field
    assert count(sqlite_engine, hl7_message) == 0


def test_group_commit_of_many(sqlite_engine: Engine) -> None:
    payloads = [make_adt(f"G{i}", visit=f"V{i}").encode() for i in range(50)]
    replies = receive_payloads(sqlite_engine, payloads + payloads[:5], clock=clock)
    assert [r.stored for r in replies] == ["stored"] * 50 + ["duplicate"] * 5
    assert list(itertools.islice((r.control_id for r in replies), 3)) == ["G0", "G1", "G2"]
