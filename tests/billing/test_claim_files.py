"""The steps every 837P billing run shares: control numbers, staged files, commit-or-nothing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from openvbc.domain.errors import UserError
from openvbc.services.claim_files import (
    MAX_CONTROL_NUMBER,
    ClaimsProfile,
    open_billing_transaction,
    refuse_existing_files,
    reserve_envelope,
    split_person_name,
    take_control_number,
)
from openvbc.store.tables import x12_counter

NOW = datetime(2025, 4, 1, 9, 15)


def counters(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {row.name: row.value for row in conn.execute(select(x12_counter))}


def test_control_numbers_start_at_1_and_wrap_after_nine_digits(store_engine: Engine) -> None:
    # ISA13 is nine digits, so 999999999 is the last number; the next run starts again at 1.
    with store_engine.begin() as conn:
        assert take_control_number(conn, "ISA13:A") == 1
        assert take_control_number(conn, "ISA13:A") == 2
        conn.execute(insert(x12_counter).values(name="ISA13:B", value=MAX_CONTROL_NUMBER - 1))
        assert take_control_number(conn, "ISA13:B") == 999_999_999
        assert take_control_number(conn, "ISA13:B") == 1


def test_the_envelope_takes_one_number_of_each_sequence_per_sender(store_engine: Engine) -> None:
    with store_engine.begin() as conn:
        first = reserve_envelope(conn, ClaimsProfile(sender_id="S1"), NOW)
        second = reserve_envelope(conn, ClaimsProfile(sender_id="S1"), NOW)
        other = reserve_envelope(conn, ClaimsProfile(sender_id="S2", usage="P"), NOW)
    assert (first.interchange_control_number, second.interchange_control_number) == (1, 2)
    assert (second.group_control_number, second.transaction_control_number) == (2, 2)
    assert (other.interchange_control_number, other.sender_id, other.usage) == (1, "S2", "P")


def test_a_run_that_writes_no_file_gives_its_control_numbers_back(store_engine: Engine) -> None:
    with open_billing_transaction(store_engine) as billing:
        reserve_envelope(billing.conn, ClaimsProfile(), NOW)
    assert counters(store_engine) == {}


def test_a_written_file_is_published_only_with_the_commit(store_engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "run.837"
    with open_billing_transaction(store_engine) as billing:
        reserve_envelope(billing.conn, ClaimsProfile(), NOW)
        billing.write_file(out, "ISA~")
        assert not out.exists() and (tmp_path / "run.837.partial").read_text() == "ISA~"
    assert out.read_text() == "ISA~" and not (tmp_path / "run.837.partial").exists()
    assert counters(store_engine)["ISA13:OPENVBC"] == 1


def test_a_failure_after_writing_leaves_no_file_and_no_number(store_engine: Engine, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    out = outbox / "run.837"
    with pytest.raises(RuntimeError, match="payer down"), open_billing_transaction(store_engine) as billing:
        reserve_envelope(billing.conn, ClaimsProfile(), NOW)
        billing.write_file(out, "ISA~")
        raise RuntimeError("payer down")
    assert list(outbox.iterdir()) == []
    assert counters(store_engine) == {}


def test_an_existing_output_stops_the_run(tmp_path: Path) -> None:
    kept = tmp_path / "sent.837"
    kept.write_text("sent")
    refuse_existing_files(None, tmp_path / "new.837")  # absent or not asked for: fine
    with pytest.raises(UserError, match="never overwritten"):
        refuse_existing_files(tmp_path / "new.csv", kept)
    assert kept.read_text() == "sent"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Smith, Anna", ("Smith", "Anna")),
        ("Anna Maria Smith", ("Smith", "Anna Maria")),
        ("Cher", ("Cher", "Cher")),  # one word stands for both names
        ("Smith,", ("Smith", "Smith")),
    ],
)
def test_provider_names_split_into_last_and_first(name: str, expected: tuple[str, str]) -> None:
    assert split_person_name(name) == expected
