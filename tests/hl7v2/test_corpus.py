"""Every corpus message gives an answer: accepted ADT, or AR/AE with the reason (tests/data/hl7v2)."""

from __future__ import annotations

import pytest

from hl7v2.samples import DATA
from openvbc.interop.hl7v2.ack import Outcome
from openvbc.interop.hl7v2.batch import split_batch
from openvbc.interop.hl7v2.inbound import Accepted, Refused, inspect_payload

ALL_FILES = sorted((DATA / "linuxforhealth").glob("*.hl7"))

# Expected refusals, read off each file by hand: (HL7 table 0357 code, field).
REFUSED = {
    # MSH-10 empty: no control id to acknowledge or de-duplicate on.
    **{f"ADT_A01_HL7ConditionFHIRConversionTest_0{n}.hl7": ("101", "MSH-10") for n in (29, 30, 31)},
    # MSH-11 processing id empty.
    **{
        name: ("202", "MSH-11")
        for name in (
            *(f"ADT_A01_HL7DataExtractorTest_0{n}.hl7" for n in range(24, 29)),
            "ADT_A01_Hl7EncounterFHIRConversionTest_046.hl7",
            "ADT_A01_Hl7EncounterFHIRConversionTest_047.hl7",
            *(f"ADT_A01_Hl7ExpressionTest_00{n}.hl7" for n in (4, 5, 6)),
            *(f"ADT_A01_Hl7MessageTest_0{n}.hl7" for n in (15, 18, 19, 20, 21)),
            "ADT_A01_Hl7ObservationFHIRConversionTest_058.hl7",
            "ADT_A01_Hl7PatientFHIRConversionTest_059.hl7",
            *(f"ADT_A01_ResourceExpressionTest_0{n:02d}.hl7" for n in range(7, 15)),
        )
    },
    "ADT_A01_HL7EventTypeFHIRConversionTest_032.hl7": ("100", "PID"),
    **{f"ADT_A01_Hl7AllergyFHIRConversionTest_0{n}.hl7": ("100", "PV1") for n in (33, 34, 35)},
    **{f"ADT_A01_Hl7IdentifierFHIRConversionTest_0{n}.hl7": ("100", "PV1") for n in (48, 49, 50, 56)},
    "ADT_A01_Hl7IdentifierFHIRConversionTest_051.hl7": ("101", "EVN-2"),
    "ADT_A01_Hl7IdentifierFHIRConversionTest_052.hl7": ("101", "EVN-2"),
    # MSH-7 "201610015080000" has 15 digits: not a valid DTM.
    "ADT_A01_Hl7IdentifierFHIRConversionTest_053.hl7": ("102", "MSH-7"),
    "ADT_A01_IssueFixTest_003.hl7": ("100", "PV1"),
    # MSH-2 "^~\\&" declares the backslash twice.
    "sample_unix.hl7": ("102", "MSH-2"),
}


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_linuxforhealth_message(path: object) -> None:
    result = inspect_payload(path.read_bytes())  # type: ignore[attr-defined]
    name = path.name  # type: ignore[attr-defined]
    if name in REFUSED:
        assert isinstance(result, Refused)
        assert (result.error.code, result.error.location) == REFUSED[name]
        # 2xx codes and an unreadable header are rejections (AR); the rest are errors (AE).
        rejected = result.error.code.startswith("2") or result.error.location == "MSH-2"
        assert result.outcome is (Outcome.REJECTED if rejected else Outcome.ERROR)
    else:
        assert isinstance(result, Accepted), getattr(result, "error", None)
        assert result.event.trigger == name[4:7]


def test_a08_fields_are_read() -> None:
    result = inspect_payload((DATA / "linuxforhealth" / "ADT_A08_SegmentUtilTest_001.hl7").read_bytes())
    assert isinstance(result, Accepted)
    event = result.event
    # From the file: PID-3 555444222111, PV1-2 I, PV1-19 1400, PV1-44 199501102300, no PV1-45,
    # no EVN (so MSH-7 200603081747 is the event time).
    assert event.member_keys == ("555444222111",)
    assert (event.patient_class, event.visit_number) == ("I", "1400")
    assert event.admit_at is not None and event.admit_at.isoformat() == "1995-01-10T23:00:00"
    assert event.discharge_at is None
    assert event.event_at.isoformat() == "2006-03-08T17:47:00"


BATCHES_OK = {  # file -> number of messages (counted by hand)
    "sample_batch.hl7": 1, "sample_batch1.hl7": 2, "sample_batch2.hl7": 2, "sample_batch3.hl7": 1,
    "sample_batch4.hl7": 1, "sample_file.hl7": 1, "sample_file1.hl7": 3, "sample_file2.hl7": 2,
    "sample_file3.hl7": 1, "sample_file4.hl7": 1, "sample_file5.hl7": 1, "sample_file6.hl7": 1,
}  # fmt: skip


@pytest.mark.parametrize(("name", "count"), sorted(BATCHES_OK.items()))
def test_python_hl7_batches_split_into_accepted_messages(name: str, count: int) -> None:
    messages, problems = split_batch((DATA / "python-hl7" / name).read_bytes())
    assert problems == []
    assert len(messages) == count
    assert all(isinstance(inspect_payload(m.payload), Accepted) for m in messages)


@pytest.mark.parametrize(
    "name", [f"sample_bad_{n}.hl7" for n in ("batch", "batch1", "file", "file1", "file2", "file3")]
)
def test_python_hl7_bad_batches_are_reported_with_a_line(name: str) -> None:
    _, problems = split_batch((DATA / "python-hl7" / name).read_bytes())
    assert problems and all(p.line > 1 for p in problems)


@pytest.mark.parametrize("name", ["sample_hl7.hl7", "rep_sample_hl7.hl7"])
def test_oru_is_rejected_on_an_adt_receiver(name: str) -> None:
    result = inspect_payload((DATA / "python-hl7" / name).read_bytes())
    assert isinstance(result, Refused) and result.outcome is Outcome.REJECTED
    assert result.header is not None and result.header.control_id == "CNTRL-3456"
    assert result.error.code == "200"
