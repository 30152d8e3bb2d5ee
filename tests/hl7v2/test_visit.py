"""Encounter fold (pure): order independence and the status rules, derived by hand."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from openvbc.interop.hl7v2.visit import VisitEvent, choose_setting, summarize_visit

T = datetime(2025, 3, 1, 8, 0)
EVENTS = [
    VisitEvent("k1", "A04", T.replace(hour=8), patient_class="E"),
    VisitEvent("k2", "A01", T.replace(hour=10), patient_class="I", admit_at=T.replace(hour=9, minute=50)),
    VisitEvent(
        "k3", "A03", T.replace(day=3), discharge_at=T.replace(day=3, hour=7), discharge_disposition="01"
    ),
]


def test_admit_then_discharge() -> None:
    state = summarize_visit(EVENTS)
    assert state is not None
    assert (state.setting, state.status) == ("inpatient", "finished")
    assert (state.start_at, state.end_at, state.discharge_disposition) == (
        T.replace(hour=9, minute=50), T.replace(day=3, hour=7), "01",
    )  # fmt: skip


def test_ed_visit_only_presented() -> None:
    state = summarize_visit(EVENTS[:1])
    assert state is not None and (state.setting, state.status, state.start_at) == ("ed", "arrived", T)


def test_cancel_discharge_then_cancel_admit() -> None:
    a13 = VisitEvent("k4", "A13", T.replace(day=3, hour=9))
    assert summarize_visit([*EVENTS, a13]).status == "in-progress"  # type: ignore[union-attr]
    a11 = VisitEvent("k5", "A11", T.replace(day=3, hour=10))
    state = summarize_visit([*EVENTS, a13, a11])
    assert state is not None and (state.status, state.end_at) == ("cancelled", None)


def test_observation_setting() -> None:
    assert choose_setting("O", "OBS") == "observation"
    assert choose_setting("O", None) == "ambulatory"
    assert choose_setting(None, None) == "ambulatory"


@settings(max_examples=200, deadline=None)
@given(st.permutations([*EVENTS, VisitEvent("k6", "A08", T.replace(day=2), patient_class="I")]))
def test_any_arrival_order_gives_the_same_encounter(events: list[VisitEvent]) -> None:
    assert summarize_visit(events) == summarize_visit(sorted(events, key=lambda e: e.event_key))
