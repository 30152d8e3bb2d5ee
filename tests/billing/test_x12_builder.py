"""The 837P builder: golden files, element checks and pyx12 validation with the X222A1 map."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

import openvbc.interop.x12.build_837p as x12
from openvbc.domain.errors import InvalidInput
from openvbc.interop.x12.reader import check_envelope, parse_x12
from openvbc.interop.x12.validate import validate_x12

GOLDEN = Path(__file__).parent / "golden"


def batch_from_yaml(data: dict[str, Any]) -> x12.Batch837P:
    def address(a: dict[str, str]) -> x12.Address:
        return x12.Address(a["line1"], a["city"], a["state"], str(a["zip"]))

    def claim(c: dict[str, Any]) -> x12.Claim:
        s = c["subscriber"]
        r = c.get("rendering")
        return x12.Claim(
            source=c["source"],
            claim_id=c["claim_id"],
            subscriber=x12.Subscriber(
                s["member_id"],
                s["last_name"],
                s["first_name"],
                s["birth_date"],
                s["sex"],
                address(s["address"]),
                s["claim_filing_indicator"],
            ),
            payer=x12.Payer(c["payer"]["name"], c["payer"]["payer_id"]),
            place_of_service=c["place_of_service"],
            diagnoses=tuple(c["diagnoses"]),
            lines=tuple(
                x12.ServiceLine(
                    line["procedure_code"],
                    Decimal(line["charge"]),
                    line["units"],
                    line["service_date"],
                    tuple(line.get("modifiers", ())),
                    tuple(line.get("diagnosis_pointers", (1,))),
                )
                for line in c["lines"]
            ),
            rendering=x12.RenderingProvider(r["npi"], r["last_name"], r["first_name"], r.get("taxonomy"))
            if r
            else None,
        )

    e = data["envelope"]
    return x12.Batch837P(
        envelope=x12.Envelope(
            e["sender_id"],
            e["receiver_id"],
            e["interchange_control_number"],
            e["group_control_number"],
            e["transaction_control_number"],
            e["created_at"],
            e["usage"],
        ),
        submitter=x12.Submitter(**data["submitter"]),
        receiver=x12.Receiver(**data["receiver"]),
        groups=tuple(
            x12.BillingGroup(
                x12.BillingProvider(
                    g["provider"]["npi"],
                    g["provider"]["name"],
                    g["provider"]["tin"],
                    address(g["provider"]["address"]),
                    g["provider"].get("taxonomy"),
                ),
                tuple(claim(c) for c in g["claims"]),
            )
            for g in data["groups"]
        ),
    )


CASES = sorted(path.name.removesuffix(".in.yaml") for path in GOLDEN.glob("*.in.yaml"))


@pytest.mark.parametrize("case", CASES)
def test_golden_837p(case: str) -> None:
    batch = batch_from_yaml(yaml.safe_load((GOLDEN / f"{case}.in.yaml").read_text()))
    produced = x12.build_837p(batch)
    assert produced == (GOLDEN / f"{case}.out.837").read_text()
    assert validate_x12(produced) == []
    assert check_envelope(parse_x12(produced)) == []


def small_batch(**claim_changes: Any) -> x12.Batch837P:
    batch = batch_from_yaml(yaml.safe_load((GOLDEN / "mtm_two_pharmacies.in.yaml").read_text()))
    first = batch.groups[0]
    changed = replace(first.claims[0], **claim_changes)
    return replace(batch, groups=(replace(first, claims=(changed,)),))


def test_a_name_too_long_for_nm103_is_refused_naming_the_element() -> None:
    claim = small_batch().groups[0].claims[0]
    long_name = replace(claim.subscriber, last_name="X" * 61)
    with pytest.raises(InvalidInput) as caught:
        x12.build_837p(small_batch(subscriber=long_name))
    (issue,) = caught.value.issues
    assert issue.file == "mtm_encounter CMR-1"
    assert issue.field is not None and "2010BA NM1" in issue.field and "NM103" in issue.field
    assert "at most 60" in issue.message


def test_every_problem_is_reported_at_once() -> None:
    claim = small_batch().groups[0].claims[0]
    bad_line = replace(claim.lines[0], modifiers=("U1X",), units=0)
    bad_subscriber = replace(claim.subscriber, member_id="M*1", first_name="J" * 36)
    with pytest.raises(InvalidInput) as caught:
        x12.build_837p(small_batch(lines=(bad_line,), subscriber=bad_subscriber, claim_id="C" * 39))
    fields = " ".join(issue.field or "" for issue in caught.value.issues)
    for element in ("SV101-3", "NM109", "NM104", "CLM01"):
        assert element in fields
    assert any("units must be at least 1" in issue.message for issue in caught.value.issues)


def test_generated_variants_validate_with_pyx12() -> None:
    # Many lines, four modifiers and twelve diagnoses: the limits of one claim.
    lines = tuple(
        x12.ServiceLine(
            "99607", Decimal("25.00"), n, date(2025, 3, 4), ("U1", "U2", "U3", "U4"), (1, 2, 3, 4)
        )
        for n in range(1, 11)
    )
    diagnoses = (*(f"E11{n}" for n in range(10)), "I10", "Z79899")
    text = x12.build_837p(small_batch(lines=lines, diagnoses=diagnoses))
    assert validate_x12(text) == []


def test_pyx12_really_runs_and_reports_a_broken_file() -> None:
    good = (GOLDEN / "mtm_two_pharmacies.out.837").read_text()
    broken = good.replace("SE*60*0003~", "SE*59*0003~").replace("IEA*1*000000042~", "IEA*1*000000043~")
    problems = validate_x12(broken)
    assert any("SE count" in p for p in problems)
    assert any("IEA id=000000043 does not match ISA id=000000042" in p for p in problems)
    envelope_issues = {issue.field for issue in check_envelope(parse_x12(broken))}
    assert envelope_issues == {"SE01", "IEA02"}


def test_created_at_is_injected_not_read() -> None:
    batch = small_batch()
    later = replace(batch, envelope=replace(batch.envelope, created_at=datetime(2030, 1, 2, 3, 4)))
    assert "*300102*0304*" in x12.build_837p(later)
