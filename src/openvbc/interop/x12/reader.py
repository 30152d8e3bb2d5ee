"""A small X12 reader: delimiters from ISA, segments, 837 loops and envelope checks (pure).

It does not replace pyx12 (which validates against the implementation guide); it gives the
rest of the code a typed view of a file: the segments in order, the 837 loop each belongs to,
and the envelope problems a receiver would answer with a TA1 or 999 (reliability-plan.md §5).
"""

from __future__ import annotations

from dataclasses import dataclass

from openvbc.domain.errors import InputIssue, InvalidInput

ISA_LENGTH = 106  # fixed-length ISA including the segment terminator


@dataclass(frozen=True)
class Delimiters:
    element: str
    component: str
    repetition: str
    segment: str


@dataclass(frozen=True)
class Segment:
    seg_id: str
    elements: tuple[str, ...]  # elements[0] is XX01
    line: int  # 1-based position of the segment in the file

    def get(self, position: int) -> str:
        """Element ``position`` (1-based, as in ``NM103``); empty when absent."""
        return self.elements[position - 1] if 0 < position <= len(self.elements) else ""


@dataclass(frozen=True)
class LoopedSegment:
    loop: str  # e.g. HEADER, 1000A, 2010BA, 2300, 2400
    segment: Segment


@dataclass(frozen=True)
class X12Document:
    delimiters: Delimiters
    segments: tuple[Segment, ...]

    def by_id(self, seg_id: str) -> list[Segment]:
        return [segment for segment in self.segments if segment.seg_id == seg_id]


def parse_x12(text: str, file: str = "<x12>") -> X12Document:
    """Split an interchange into segments using the delimiters its ISA declares."""
    body = text.lstrip("\ufeff\r\n ")
    if not body.startswith("ISA") or len(body) < ISA_LENGTH:
        raise InvalidInput([InputIssue(file, 1, "ISA", "an X12 interchange starts with a 106-character ISA")])
    delimiters = Delimiters(element=body[3], repetition=body[82], component=body[104], segment=body[105])
    segments: list[Segment] = []
    for index, raw in enumerate(body.split(delimiters.segment), start=1):
        raw = raw.strip("\r\n")
        if not raw:
            continue
        parts = raw.split(delimiters.element)
        segments.append(Segment(parts[0], tuple(parts[1:]), index))
    return X12Document(delimiters, tuple(segments))


# 837 loop starts: entity code of NM1 (or segment id) -> loop name, by enclosing area.
_NM1_LOOPS_2000A = {"85": "2010AA", "87": "2010AB", "PE": "2010AC"}
_NM1_LOOPS_2000B = {"IL": "2010BA", "PR": "2010BB"}
_NM1_LOOPS_2300 = {
    "DN": "2310A",
    "P3": "2310A",
    "82": "2310B",
    "77": "2310C",
    "DQ": "2310D",
    "PW": "2310E",
    "45": "2310F",
}
_NM1_LOOPS_2320 = {"IL": "2330A", "PR": "2330B", "DN": "2330C", "82": "2330D", "77": "2330E", "DQ": "2330F"}
_NM1_LOOPS_2400 = {"82": "2420A", "QB": "2420B", "77": "2420C", "DQ": "2420D", "DK": "2420E", "DN": "2420F"}
_HL_LOOPS = {"20": "2000A", "22": "2000B", "23": "2000C"}


def assign_837_loops(document: X12Document) -> list[LoopedSegment]:
    """Label each segment of an 837 with its loop (5010 professional/institutional layout)."""
    out: list[LoopedSegment] = []
    loop = "ENVELOPE"
    area = "ENVELOPE"  # the enclosing hierarchical/claim loop
    for segment in document.segments:
        sid = segment.seg_id
        if sid in ("ISA", "GS", "GE", "IEA", "ST", "SE"):
            loop = area = "ENVELOPE" if sid != "ST" else "HEADER"
        elif sid == "BHT":
            loop = area = "HEADER"
        elif sid == "HL":
            loop = area = _HL_LOOPS.get(segment.get(3), "2000?")
        elif sid == "CLM":
            loop = area = "2300"
        elif sid == "SBR" and area in ("2300", "2320"):
            loop = area = "2320"
        elif sid == "LX":
            loop = area = "2400"
        elif sid == "LIN":
            loop = "2410"
        elif sid == "SVD":
            loop = area = "2430"
        elif sid == "NM1":
            loop = _nm1_loop(area, segment.get(1), loop)
        out.append(LoopedSegment(loop, segment))
    return out


def _nm1_loop(area: str, entity: str, current: str) -> str:
    if area == "HEADER":
        return {"41": "1000A", "40": "1000B"}.get(entity, current)
    table = {
        "2000A": _NM1_LOOPS_2000A,
        "2000B": _NM1_LOOPS_2000B,
        "2000C": {"QC": "2010CA"},
        "2300": _NM1_LOOPS_2300,
        "2320": _NM1_LOOPS_2320,
        "2400": _NM1_LOOPS_2400,
    }.get(area, {})
    return table.get(entity, current)


def check_envelope(document: X12Document, file: str = "<x12>") -> list[InputIssue]:
    """Control-number and count mismatches between headers and trailers."""
    issues: list[InputIssue] = []
    open_st: Segment | None = None
    st_count = 0
    open_gs: Segment | None = None
    sets_in_group = 0
    groups = 0
    isa = document.segments[0]
    for segment in document.segments:
        sid = segment.seg_id
        if open_st is not None:
            st_count += 1
        if sid == "GS":
            open_gs, sets_in_group = segment, 0
            groups += 1
        elif sid == "ST":
            open_st, st_count = segment, 1
            sets_in_group += 1
        elif sid == "SE" and open_st is not None:
            if segment.get(2) != open_st.get(2):
                issues.append(
                    _issue(file, segment, "SE02", f"{segment.get(2)} does not match ST02 {open_st.get(2)}")
                )
            if segment.get(1) != str(st_count):
                issues.append(
                    _issue(file, segment, "SE01", f"says {segment.get(1)} segments, counted {st_count}")
                )
            open_st = None
        elif sid == "GE" and open_gs is not None:
            if segment.get(2) != open_gs.get(6):
                issues.append(
                    _issue(file, segment, "GE02", f"{segment.get(2)} does not match GS06 {open_gs.get(6)}")
                )
            if segment.get(1) != str(sets_in_group):
                issues.append(
                    _issue(file, segment, "GE01", f"says {segment.get(1)} sets, counted {sets_in_group}")
                )
            open_gs = None
        elif sid == "IEA":
            if segment.get(2) != isa.get(13):
                issues.append(
                    _issue(file, segment, "IEA02", f"{segment.get(2)} does not match ISA13 {isa.get(13)}")
                )
            if segment.get(1) != str(groups):
                issues.append(
                    _issue(file, segment, "IEA01", f"says {segment.get(1)} groups, counted {groups}")
                )
    if document.segments[-1].seg_id != "IEA":
        issues.append(InputIssue(file, document.segments[-1].line, "IEA", "interchange ends without IEA"))
    return issues


def _issue(file: str, segment: Segment, field: str, message: str) -> InputIssue:
    return InputIssue(file, segment.line, field, message)
