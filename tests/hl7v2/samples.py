"""Hand-written ADT messages for tests (synthetic people; layout per HL7 v2.5.1 chapter 3)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent.parent / "data" / "hl7v2"


def make_adt(
    control_id: str = "MSG0001",
    trigger: str = "A01",
    *,
    member_key: str = "M0001",
    event_at: str = "20250301080000",
    patient_class: str = "I",
    visit: str = "V100",
    admit_at: str = "20250301075500",
    discharge_at: str = "",
    accept_ack: str = "",
    app_ack: str = "",
    facility: str = "GENHOSP",
    extra_segments: tuple[str, ...] = (),
    name: str = "DOE^JANE",
    charset: str = "",
) -> str:
    msh = (
        f"MSH|^~\\&|ADTAPP|{facility}|OPENVBC|PLAN|{event_at}||ADT^{trigger}^ADT_A01|{control_id}|P|2.5.1"
        f"|||{accept_ack}|{app_ack}||{charset}"
    )
    pv1 = (
        ["PV1", "1", patient_class, "4N^401^1^GENHOSP"]
        + [""] * 15
        + [visit]
        + [""] * 24
        + [admit_at, discharge_at]
    )
    segments = [
        msh,
        f"EVN|{trigger}|{event_at}",
        f"PID|1||{member_key}^^^PLAN^MB||{name}||19600101|F",
        *extra_segments,
        "|".join(pv1),
    ]
    if trigger == "A40":
        segments = [
            msh,
            f"EVN|A40|{event_at}",
            f"PID|1||{member_key}^^^PLAN^MB||{name}",
            "MRG|OLD0001^^^PLAN^MB",
        ]
    return "\r".join(segments) + "\r"
