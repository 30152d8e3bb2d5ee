"""The X12 reader on the published 837P examples (LinuxForHealth/x12, tests/data/x12/SOURCE.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openvbc.domain.errors import InvalidInput
from openvbc.interop.x12.reader import assign_837_loops, check_envelope, parse_x12
from openvbc.interop.x12.validate import validate_x12

DATA = Path(__file__).parent.parent / "data" / "x12"
SAMPLES = sorted(path.name for path in DATA.glob("*.837"))


def test_all_samples_are_present() -> None:
    assert len(SAMPLES) == 18


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_parses_into_segments_and_loops(name: str) -> None:
    document = parse_x12((DATA / name).read_text(), name)
    assert document.segments[0].seg_id == "ISA" and document.segments[-1].seg_id == "IEA"
    assert check_envelope(document, name) == []
    loops = {item.loop for item in assign_837_loops(document)}
    assert {"1000A", "1000B", "2000A", "2010AA", "2000B", "2010BA", "2010BB", "2300", "2400"} <= loops
    # Every CLM opens a 2300 loop and every SV1 sits in a 2400 loop.
    for item in assign_837_loops(document):
        if item.segment.seg_id == "SV1":
            assert item.loop == "2400"


def test_example1_subscriber_and_patient_loops() -> None:
    document = parse_x12((DATA / "demo.example1.837").read_text())
    by_loop = {(item.loop, item.segment.seg_id): item.segment for item in assign_837_loops(document)}
    assert by_loop[("2010BA", "NM1")].get(3) == "SMITH"
    assert by_loop[("2010CA", "NM1")].get(4) == "TED"
    assert by_loop[("2300", "CLM")].get(2) == "100.00"


# Samples whose content fits the X222A1 map once GS08/ST03 say A1 (the others use A2-only
# structures, or a '>' component separator while their ISA16 declares ':').
PYX12_CLEAN = [
    "demo.autoaccident.837",
    "demo.cob.example3.B.837",
    "demo.cob.example3.C.837",
    "demo.drug.example10.1.837",
    "demo.example1.837",
    "demo.example2.837",
    "demo.example7.837",
]


@pytest.mark.parametrize("name", PYX12_CLEAN)
def test_clean_samples_validate_with_pyx12(name: str) -> None:
    text = (DATA / name).read_text().replace("005010X222A2", "005010X222A1")
    assert validate_x12(text) == []


def test_component_separator_mismatch_in_a_sample_is_reported() -> None:
    text = (DATA / "demo.example6.837").read_text().replace("005010X222A2", "005010X222A1")
    assert any("CLM05-01" in problem for problem in validate_x12(text))


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda t: t.replace("GE*1*1~", "GE*1*2~"), "GE02"),
        (lambda t: t.replace("SE*40*0021~", "SE*40*0022~"), "SE02"),
        (lambda t: t.replace("SE*40*0021~", "SE*41*0021~"), "SE01"),
        (lambda t: t.replace("IEA*1*000000907~", "IEA*1*000000908~"), "IEA02"),
        (lambda t: t[: t.index("GE*")], "IEA"),
    ],
)
def test_envelope_errors_are_named(mutate: object, field: str) -> None:
    text = mutate((DATA / "demo.example1.837").read_text())  # type: ignore[operator]
    assert field in {issue.field for issue in check_envelope(parse_x12(text))}


def test_not_an_interchange() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_x12("PID|1|", "x.txt")
    assert caught.value.issues[0].field == "ISA"
