"""The ADT events also exist as HL7 v2.5.1 messages, one file per day."""

from __future__ import annotations

import re

from .generated import GeneratedPlan


def read_messages(plan: GeneratedPlan) -> list[str]:
    messages: list[str] = []
    for path in sorted((plan.folder / "adt").glob("*.hl7")):
        text = path.read_bytes().decode("utf-8")
        assert "\n" not in text, path.name
        assert text.startswith("MSH|") and text.endswith("\r")
        # Messages follow each other; each segment, the last one too, ends with a carriage return.
        parts = text.split("\rMSH|")
        messages.extend([parts[0], *("MSH|" + part for part in parts[1:])])
    return messages


def test_messages_are_well_formed_and_match_the_event_rows(plan: GeneratedPlan) -> None:
    messages = read_messages(plan)
    events = plan.frame("adt_events")
    assert len(messages) == len(events) == plan.manifest.hl7_messages
    controls = []
    members = set(plan.frame("members").member_key)
    for message in messages:
        segments = [s for s in message.split("\r") if s]
        assert [s[:3] for s in segments] == ["MSH", "EVN", "PID", "PV1"]
        msh = segments[0].split("|")
        assert msh[1] == "^~\\&" and msh[11] == "2.5.1" and msh[10] == "P"
        trigger = msh[8].split("^")[1]
        assert msh[8].startswith("ADT^") and trigger in {"A01", "A03", "A04", "A08"}
        controls.append(msh[9])
        evn = segments[1].split("|")
        assert evn[1] == trigger and re.fullmatch(r"\d{14}", evn[2])
        pid = segments[2].split("|")
        assert pid[3].split("^")[0] in members
        pv1 = segments[3].split("|")
        assert pv1[2] in {"E", "I"}
        if trigger == "A03":
            assert re.fullmatch(r"\d{14}", pv1[45]) and pv1[36]
        assert re.fullmatch(r"\d{14}", pv1[44])
    assert len(set(controls)) == len(controls)
    assert set(events.event_key.str.split("|").str[2]) == set(controls)


def test_ed_registrations_admissions_and_discharges_are_present(plan: GeneratedPlan) -> None:
    events = plan.frame("adt_events")
    counts = events.trigger.value_counts()
    assert counts["A04"] > counts["A01"] > 0 and counts["A03"] > 0 and counts["A08"] > 0
    inpatient_discharges = events[(events.trigger == "A03") & (events.patient_class == "I")]
    assert inpatient_discharges.discharge_disposition.isin(["50", "51"]).any()
