"""ACK code per MSH-15/MSH-16 and outcome (H6: 5 x 5 x 3 = 75 combinations).

Expected values written from HL7 v2.5.1 section 2.9 and table 0155: both fields empty ->
original mode AA/AE/AR; otherwise enhanced mode CA/CE/CR, sent per MSH-15: AL always,
NE never, ER only CE/CR, SU only CA; empty MSH-15 in enhanced mode is treated as AL.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from hl7v2.samples import make_adt
from openvbc.interop.hl7v2.ack import Outcome, build_ack, choose_ack_code
from openvbc.interop.hl7v2.inbound import Accepted, Refused, inspect_payload
from openvbc.interop.hl7v2.message import parse_message

VALUES = ["", "AL", "NE", "ER", "SU"]
ENHANCED = {  # MSH-15 -> (ok, content error, unsupported)
    "": ("CA", "CE", "CR"),
    "AL": ("CA", "CE", "CR"),
    "NE": (None, None, None),
    "ER": (None, "CE", "CR"),
    "SU": ("CA", None, None),
}


def expected(msh15: str, msh16: str, index: int) -> str | None:
    if not msh15 and not msh16:
        return ("AA", "AE", "AR")[index]
    return ENHANCED[msh15][index]


def message_for(kind: int, msh15: str, msh16: str) -> bytes:
    text = make_adt("K1", accept_ack=msh15, app_ack=msh16)
    if kind == 1:  # content error: PID-3 emptied
        text = text.replace("M0001^^^PLAN^MB", "")
    if kind == 2:  # unsupported message type
        text = text.replace("ADT^A01^ADT_A01", "ORU^R01^ORU_R01")
    return text.encode()


@pytest.mark.parametrize("msh15", VALUES)
@pytest.mark.parametrize("msh16", VALUES)
@pytest.mark.parametrize("kind", [0, 1, 2])
def test_ack_code_table(msh15: str, msh16: str, kind: int) -> None:
    result = inspect_payload(message_for(kind, msh15, msh16))
    if isinstance(result, Accepted):
        header, outcome = result.header, Outcome.ACCEPTED
    else:
        assert isinstance(result, Refused)
        header, outcome = result.header, result.outcome
    assert outcome is [Outcome.ACCEPTED, Outcome.ERROR, Outcome.REJECTED][kind]
    assert choose_ack_code(header, outcome) == expected(msh15, msh16, kind)


def test_ack_echoes_control_id_and_explains_the_error() -> None:
    result = inspect_payload(message_for(1, "", ""))
    assert isinstance(result, Refused)
    ack = build_ack(
        result.header, "AE", control_id="ACK1", timestamp=datetime(2025, 3, 1, 8, 0), error=result.error
    )
    parsed = parse_message(ack)
    msh, msa, err = parsed.segments
    assert msh.value(3) == "OPENVBC" and msh.value(5) == "ADTAPP" and msh.value(6) == "GENHOSP"
    assert msh.value(9, 1) == "ACK" and msh.value(10) == "ACK1"
    assert (msa.value(1), msa.value(2)) == ("AE", "K1")
    assert (err.value(2, 1), err.value(2, 3), err.value(3, 1), err.value(4)) == ("PID", "3", "101", "E")


def test_unreadable_message_gets_ar_with_empty_msa2() -> None:
    result = inspect_payload(b"PID|1||123")
    assert isinstance(result, Refused) and result.header is None and result.outcome is Outcome.REJECTED
    ack = build_ack(None, "AR", control_id="X", timestamp=datetime(2025, 1, 1), error=result.error)
    assert parse_message(ack).segments[1].fields[:3] == ("MSA", "AR", "")
