"""ASC X12 837 Professional claims, implementation guide 005010X222A1 (pure).

Writes the envelope (ISA/GS/ST … SE/GE/IEA), the submitter and receiver (loops 1000A/1000B), one
billing-provider hierarchy per billing NPI (2000A/2010AA), one subscriber hierarchy per claim
(2000B/2010BA, payer 2010BB; the subscriber is the patient, so there is no 2000C), the claim
(2300 with HI diagnoses), the rendering provider (2310B) and service lines (2400 SV1 + DTP).
Control numbers and the creation time are inputs: the caller owns the counters and the clock.
Every value is checked against its X12 element before anything is returned; all problems are
raised together as :class:`InvalidInput`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from openvbc.domain.errors import InputIssue, InvalidInput
from openvbc.interop.x12.elements import (
    COMPONENT_SEPARATOR,
    ELEMENT_SEPARATOR,
    REPETITION_SEPARATOR,
    SEGMENT_TERMINATOR,
    check_element,
)

IMPLEMENTATION_GUIDE = "005010X222A1"
MAX_DIAGNOSES = 12  # HI01..HI12 in loop 2300
MAX_MODIFIERS = 4  # SV101-3..SV101-6


@dataclass(frozen=True)
class Envelope:
    sender_id: str
    receiver_id: str
    interchange_control_number: int  # ISA13 / IEA02
    group_control_number: int  # GS06 / GE02
    transaction_control_number: int  # ST02 / SE02
    created_at: datetime
    usage: Literal["T", "P"] = "T"
    sender_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"


@dataclass(frozen=True)
class Submitter:
    name: str
    submitter_id: str
    contact_name: str
    contact_phone: str


@dataclass(frozen=True)
class Receiver:
    name: str
    receiver_id: str


@dataclass(frozen=True)
class Address:
    line1: str
    city: str
    state: str
    zip: str


@dataclass(frozen=True)
class BillingProvider:
    npi: str
    name: str
    tin: str
    address: Address
    taxonomy: str | None = None


@dataclass(frozen=True)
class RenderingProvider:
    npi: str
    last_name: str
    first_name: str
    taxonomy: str | None = None


@dataclass(frozen=True)
class Subscriber:
    member_id: str
    last_name: str
    first_name: str
    birth_date: date
    sex: str  # F | M | U
    address: Address
    claim_filing_indicator: str  # SBR09: CI commercial, MC Medicaid, MB Medicare Part B, ...


@dataclass(frozen=True)
class Payer:
    name: str
    payer_id: str


@dataclass(frozen=True)
class ServiceLine:
    procedure_code: str
    charge: Decimal
    units: int
    service_date: date
    modifiers: tuple[str, ...] = ()
    diagnosis_pointers: tuple[int, ...] = (1,)


@dataclass(frozen=True)
class Claim:
    source: str  # what the claim bills, named in error messages (e.g. "mtm_encounter MTM-1")
    claim_id: str  # CLM01, the patient control number
    subscriber: Subscriber
    payer: Payer
    place_of_service: str
    diagnoses: tuple[str, ...]  # ICD-10-CM without the dot, principal first
    lines: tuple[ServiceLine, ...]
    rendering: RenderingProvider | None = None

    @property
    def total_charge(self) -> Decimal:
        return sum((line.charge for line in self.lines), Decimal("0"))


@dataclass(frozen=True)
class BillingGroup:
    provider: BillingProvider
    claims: tuple[Claim, ...]


@dataclass(frozen=True)
class Batch837P:
    envelope: Envelope
    submitter: Submitter
    receiver: Receiver
    groups: tuple[BillingGroup, ...]


@dataclass
class _Writer:
    """Collects segments and every element problem found on the way."""

    segments: list[str] = field(default_factory=list)
    issues: list[InputIssue] = field(default_factory=list)

    def put(self, seg_id: str, *elements: str) -> None:
        trimmed = list(elements)
        while trimmed and trimmed[-1] == "":
            trimmed.pop()  # X12 forbids trailing empty elements
        self.segments.append(ELEMENT_SEPARATOR.join([seg_id, *trimmed]))

    def el(self, ref: str, value: str, source: str, label: str) -> str:
        self.issues.extend(check_element(ref, value, source, label))
        return value


def build_837p(batch: Batch837P) -> str:
    """The 837P interchange as text, one segment per line; raises InvalidInput on any bad value."""
    if not batch.groups or not any(group.claims for group in batch.groups):
        raise InvalidInput([InputIssue("837P batch", None, None, "there are no claims to write")])
    w = _Writer()
    env = batch.envelope
    _write_interchange_header(w, env)
    st_index = len(w.segments)
    st02 = f"{env.transaction_control_number:04d}"
    w.put("ST", "837", w.el("ST02", st02, "envelope", "ST"), IMPLEMENTATION_GUIDE)
    w.put(
        "BHT",
        "0019",
        "00",
        w.el("BHT03", st02, "envelope", "BHT"),
        env.created_at.strftime("%Y%m%d"),
        env.created_at.strftime("%H%M"),
        "CH",
    )
    _write_parties(w, batch.submitter, batch.receiver)
    hl_number = 0
    for group in batch.groups:
        hl_number += 1
        provider_hl = hl_number
        _write_billing_provider(w, group.provider, provider_hl)
        for claim in group.claims:
            hl_number += 1
            _write_claim(w, claim, hl_number, provider_hl)
    segment_count = len(w.segments) - st_index + 1  # ST through SE inclusive
    w.put("SE", str(segment_count), st02)
    w.put("GE", "1", str(env.group_control_number))
    w.put("IEA", "1", f"{env.interchange_control_number:09d}")
    if w.issues:
        raise InvalidInput(w.issues)
    return "".join(segment + SEGMENT_TERMINATOR + "\n" for segment in w.segments)


def _write_interchange_header(w: _Writer, env: Envelope) -> None:
    issues = []
    for label, value in (
        ("ISA06 (Interchange Sender ID)", env.sender_id),
        ("ISA08 (Receiver ID)", env.receiver_id),
    ):
        if not 1 <= len(value) <= 15:
            issues.append(InputIssue("envelope", None, label, f"value {value!r} must be 1-15 characters"))
    if not 1 <= env.interchange_control_number <= 999_999_999:
        issues.append(InputIssue("envelope", None, "ISA13", "control number must be 1..999999999"))
    w.issues.extend(issues)
    w.put(
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        env.sender_qualifier,
        env.sender_id.ljust(15),
        env.receiver_qualifier,
        env.receiver_id.ljust(15),
        env.created_at.strftime("%y%m%d"),
        env.created_at.strftime("%H%M"),
        REPETITION_SEPARATOR,
        "00501",
        f"{env.interchange_control_number:09d}",
        "0",
        env.usage,
        COMPONENT_SEPARATOR,
    )
    w.put(
        "GS",
        "HC",
        w.el("GS02", env.sender_id, "envelope", "GS"),
        w.el("GS03", env.receiver_id, "envelope", "GS"),
        env.created_at.strftime("%Y%m%d"),
        env.created_at.strftime("%H%M"),
        w.el("GS06", str(env.group_control_number), "envelope", "GS"),
        "X",
        IMPLEMENTATION_GUIDE,
    )


def _write_parties(w: _Writer, submitter: Submitter, receiver: Receiver) -> None:
    src = "submitter"
    w.put(
        "NM1",
        "41",
        "2",
        w.el("NM103", submitter.name, src, "1000A NM1"),
        "",
        "",
        "",
        "",
        "46",
        w.el("NM109", submitter.submitter_id, src, "1000A NM1"),
    )
    w.put(
        "PER",
        "IC",
        w.el("PER02", submitter.contact_name, src, "1000A PER"),
        "TE",
        w.el("PER04", submitter.contact_phone, src, "1000A PER"),
    )
    w.put(
        "NM1",
        "40",
        "2",
        w.el("NM103", receiver.name, "receiver", "1000B NM1"),
        "",
        "",
        "",
        "",
        "46",
        w.el("NM109", receiver.receiver_id, "receiver", "1000B NM1"),
    )


def _write_billing_provider(w: _Writer, provider: BillingProvider, hl: int) -> None:
    src = f"billing provider {provider.npi}"
    w.put("HL", str(hl), "", "20", "1")
    if provider.taxonomy:
        w.put("PRV", "BI", "PXC", w.el("PRV03", provider.taxonomy, src, "2000A PRV"))
    w.put(
        "NM1",
        "85",
        "2",
        w.el("NM103", provider.name, src, "2010AA NM1"),
        "",
        "",
        "",
        "",
        "XX",
        w.el("NM109", provider.npi, src, "2010AA NM1"),
    )
    _write_address(w, provider.address, src, "2010AA")
    w.put("REF", "EI", w.el("REF02", provider.tin, src, "2010AA REF"))


def _write_address(w: _Writer, address: Address, src: str, loop: str) -> None:
    w.put("N3", w.el("N301", address.line1, src, f"{loop} N3"))
    w.put(
        "N4",
        w.el("N401", address.city, src, f"{loop} N4"),
        w.el("N402", address.state, src, f"{loop} N4"),
        w.el("N403", address.zip, src, f"{loop} N4"),
    )


def _write_claim(w: _Writer, claim: Claim, hl: int, parent_hl: int) -> None:
    src = claim.source
    sub = claim.subscriber
    w.put("HL", str(hl), str(parent_hl), "22", "0")
    w.put(
        "SBR", "P", "18", "", "", "", "", "", "", w.el("SBR09", sub.claim_filing_indicator, src, "2000B SBR")
    )
    w.put(
        "NM1",
        "IL",
        "1",
        w.el("NM103", sub.last_name, src, "2010BA NM1 (subscriber last name)"),
        w.el("NM104", sub.first_name, src, "2010BA NM1 (subscriber first name)"),
        "",
        "",
        "",
        "MI",
        w.el("NM109", sub.member_id, src, "2010BA NM1 (member id)"),
    )
    _write_address(w, sub.address, src, "2010BA")
    w.put("DMG", "D8", sub.birth_date.strftime("%Y%m%d"), w.el("DMG03", sub.sex, src, "2010BA DMG"))
    w.put(
        "NM1",
        "PR",
        "2",
        w.el("NM103", claim.payer.name, src, "2010BB NM1 (payer name)"),
        "",
        "",
        "",
        "",
        "PI",
        w.el("NM109", claim.payer.payer_id, src, "2010BB NM1 (payer id)"),
    )
    _write_claim_information(w, claim)
    for number, line in enumerate(claim.lines, start=1):
        _write_service_line(w, claim, line, number)


def _write_claim_information(w: _Writer, claim: Claim) -> None:
    src = claim.source
    if not claim.lines:
        w.issues.append(InputIssue(src, None, "2400", "a claim needs at least one service line"))
    if not claim.diagnoses:
        w.issues.append(InputIssue(src, None, "2300 HI", "a claim needs at least one diagnosis"))
    if len(claim.diagnoses) > MAX_DIAGNOSES:
        w.issues.append(InputIssue(src, None, "2300 HI", f"at most {MAX_DIAGNOSES} diagnoses fit one claim"))
    facility = COMPONENT_SEPARATOR.join([w.el("CLM05-1", claim.place_of_service, src, "2300 CLM"), "B", "1"])
    w.put(
        "CLM",
        w.el("CLM01", claim.claim_id, src, "2300 CLM (claim id)"),
        w.el("CLM02", _money(claim.total_charge), src, "2300 CLM (total charge)"),
        "",
        "",
        facility,
        "Y",
        "A",
        "Y",
        "Y",
    )
    codes = []
    for index, code in enumerate(claim.diagnoses[:MAX_DIAGNOSES]):
        qualifier = "ABK" if index == 0 else "ABF"  # ICD-10-CM principal / other
        value = w.el("HI01-2", code.replace(".", ""), src, f"2300 HI{index + 1:02d}")
        codes.append(f"{qualifier}{COMPONENT_SEPARATOR}{value}")
    w.put("HI", *codes)
    if claim.rendering is not None:
        r = claim.rendering
        w.put(
            "NM1",
            "82",
            "1",
            w.el("NM103", r.last_name, src, "2310B NM1 (rendering last name)"),
            w.el("NM104", r.first_name, src, "2310B NM1 (rendering first name)"),
            "",
            "",
            "",
            "XX",
            w.el("NM109", r.npi, src, "2310B NM1 (rendering NPI)"),
        )
        if r.taxonomy:
            w.put("PRV", "PE", "PXC", w.el("PRV03", r.taxonomy, src, "2310B PRV"))


def _write_service_line(w: _Writer, claim: Claim, line: ServiceLine, number: int) -> None:
    src = claim.source
    label = f"2400 line {number} SV1"
    if len(line.modifiers) > MAX_MODIFIERS:
        w.issues.append(InputIssue(src, None, label, f"at most {MAX_MODIFIERS} modifiers per line"))
    if line.units < 1:
        w.issues.append(InputIssue(src, None, label, f"units must be at least 1, not {line.units}"))
    bad_pointers = [p for p in line.diagnosis_pointers if not 1 <= p <= len(claim.diagnoses)]
    if bad_pointers or not line.diagnosis_pointers:
        w.issues.append(
            InputIssue(src, None, label, f"diagnosis pointers {line.diagnosis_pointers} do not fit HI")
        )
    procedure = [
        "HC",
        w.el("SV101-2", line.procedure_code, src, label),
        *(w.el("SV101-3", modifier, src, label) for modifier in line.modifiers[:MAX_MODIFIERS]),
    ]
    w.put("LX", w.el("LX01", str(number), src, "2400 LX"))
    w.put(
        "SV1",
        COMPONENT_SEPARATOR.join(procedure),
        w.el("SV102", _money(line.charge), src, label),
        "UN",
        w.el("SV104", str(line.units), src, label),
        "",
        "",
        COMPONENT_SEPARATOR.join(str(p) for p in line.diagnosis_pointers[:4]),
    )
    w.put("DTP", "472", "D8", line.service_date.strftime("%Y%m%d"))


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'))}"


def claim_count(groups: Sequence[BillingGroup]) -> int:
    return sum(len(group.claims) for group in groups)
