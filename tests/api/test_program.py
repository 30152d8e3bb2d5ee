"""The program-year pages and endpoints on SQLite and PostgreSQL, against hand-calculated figures.

The world (tests/api/world.py, ``seed_program_world``) is worked by hand there: pharmacy A has
12 attributed members, BP controlled 8/12 = 66.7 % against the example 72 % target (one more
member needed), tobacco-free 12/12 met, A1c no data; so the clinical gate is closed and the
projected payment is $0.00, and one more BP-controlled member is worth 12 x $6.00 = $72.00.
Documenting a 10-minute CMR for A1 with BP 128/78 then adds the encounter fee 99605 x1 = $75.00
(new patient, any_partial rounding: 1 unit) and closes A1's BP gap: 9/12 = 75 % >= 72 %, two
benchmarks met, tier 1 = $72.00; projected total $147.00.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from api.conftest import build_settings, key_headers
from api.test_route_matrix import sign_in_cookies
from api.world import PHARMACY_A, World, seed_program_world, seed_world
from openvbc.api.app import create_app
from openvbc.domain.npi import make_npi
from openvbc.services.audit import GENESIS_SHA256
from openvbc.store.tables import audit_head

PHARMACIST = make_npi("400000001")


@pytest.fixture
def program_client(store_engine: Engine, tmp_path: Path) -> Iterator[tuple[TestClient, World]]:
    ensure_audit_head(store_engine)
    world = seed_world(store_engine)
    seed_program_world(store_engine)
    app = create_app(build_settings(store_engine, world, tmp_path / "exports"), store_engine)
    try:
        with TestClient(app, base_url="http://testserver") as client:
            assert app.state.program_views.wait(timeout=300) is not None, app.state.program_views.status()
            yield client, world
    finally:
        app.state.program_views.wait(timeout=300)
        clear_audit_log(store_engine)


def ensure_audit_head(engine: Engine) -> None:
    """The shared PostgreSQL fixture empties every table, the migration's audit head row too."""
    with engine.begin() as connection:
        if connection.execute(select(audit_head)).first() is None:
            connection.execute(
                audit_head.insert().values(audit_head_id=1, last_event_id=0, last_sha256=GENESIS_SHA256)
            )


def clear_audit_log(engine: Engine) -> None:
    """Let the shared fixture empty the store after us: on PostgreSQL the audit log refuses
    DELETE (append-only trigger), so the test's records are removed with triggers off."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        connection.exec_driver_sql("DELETE FROM audit_event")


def _form_token(page: str) -> str:
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def test_pharmacy_year_from_worklist_to_payment(program_client: tuple[TestClient, World]) -> None:
    client, world = program_client
    pharm_a = key_headers(world, "pharm_a")

    statement = client.get(f"/api/pharmacies/{PHARMACY_A}/statement", headers=pharm_a).json()
    assert statement["total"] == "0.00"
    bp = next(s for s in statement["scores"] if s["key"] == "bp_control")
    assert (bp["numerator"], bp["denominator"], bp["members_needed"], bp["status"]) == (8, 12, 1, "not_met")
    worth = {w["key"]: w["worth"] for w in statement["worth_of_one_more"]}
    assert worth["bp_control"] == "72.00"
    # Another pharmacy's statement looks missing; the plan analyst may read it.
    assert (
        client.get(
            f"/api/pharmacies/{PHARMACY_A}/statement", headers=key_headers(world, "pharm_b")
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"/api/pharmacies/{PHARMACY_A}/statement", headers=key_headers(world, "analyst")
        ).status_code
        == 200
    )

    worklist = client.get(f"/api/pharmacies/{PHARMACY_A}/worklist", headers=pharm_a).json()["items"]
    # A1, A2, A11, A12 have an open BP gap (3 points) on top of the shared gaps, and they are
    # benchmark movers (+5): they rank first, lowest member id first among equals.
    assert [item["member_key"] for item in worklist[:4]] == ["A1", "A2", "A11", "A12"]
    assert "bp_not_controlled" in worklist[0]["gaps"] and "never contacted" in worklist[0]["reason"]
    assert all(not item["member_key"].startswith("B") for item in worklist)

    # What-if: with a 60 % BP target, 8/12 meets it, the gate opens: tier 1 = 12 x 6.00.
    what_if = client.post(
        "/api/analytics/what-if", json={"targets": {"bp_control": 60}}, headers=key_headers(world, "analyst")
    ).json()
    change = next(p for p in what_if["pharmacies"] if p["pharmacy_npi"] == PHARMACY_A)
    assert (change["before"], change["after"], change["change"]) == ("0.00", "72.00", "72.00")
    assert (
        client.post(
            "/api/analytics/what-if", json={"targets": {"bp_control": 60}}, headers=pharm_a
        ).status_code
        == 403
    )

    # The pharmacist works the worklist on the pages: outreach, then an MTM encounter with the timer.
    cookies = sign_in_cookies(client, "pharm_a")
    home = client.get("/pharmacy", cookies=cookies)
    assert (
        'id="projected-payment">$0.00' in home.text and "Filler" in home.text and "Bumblebee" not in home.text
    )
    token = _form_token(home.text)
    outreach = {"csrf_token": token, "member_key": "A1", "channel": "phone", "outcome": "reached"}
    answer = client.post("/pharmacy/outreach", data=outreach, cookies=cookies, follow_redirects=False)
    assert answer.status_code == 303
    foreign = client.post("/pharmacy/outreach", data={**outreach, "member_key": "B1"}, cookies=cookies)
    assert foreign.status_code == 404

    started = client.post(
        "/mtm/new", data={"csrf_token": token, "member": "A1", "action": "start"}, cookies=cookies
    )
    start_at = started.text.split('name="start_at" value="')[1].split('"')[0]
    world.advance(timedelta(minutes=9, seconds=30))
    stopped = client.post(
        "/mtm/new",
        data={"csrf_token": token, "member": "A1", "action": "stop", "start_at": start_at, "kind": "CMR"},
        cookies=cookies,
    )
    # 9.5 minutes round up to 10 whole minutes; one 15-minute unit under any_partial: 99605 x1.
    assert "10 min" in stopped.text and "99605" in stopped.text and 'id="program-fee">$75.00' in stopped.text
    end_at = stopped.text.split('name="end_at" value="')[1].split('"')[0]
    form = {
        "csrf_token": token,
        "member": "A1",
        "action": "save",
        "start_at": start_at,
        "end_at": end_at,
        "minutes": "10",
        "kind": "CMR",
        "pharmacist_npi": PHARMACIST,
        "problem_code": "697958005",
        "problem_text": "Misses evening doses",
        "systolic": "128",
        "diastolic": "78",
    }
    refused = client.post("/mtm/new", data={**form, "pharmacist_npi": "123"}, cookies=cookies)
    assert refused.status_code == 422 and "pharmacist_npi" in refused.text
    saved = client.post("/mtm/new", data=form, cookies=cookies, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert client.app.state.program_views.wait(timeout=300) is not None  # type: ignore[attr-defined]
    after = client.get("/pharmacy", cookies=cookies)
    assert 'id="projected-payment">$147.00' in after.text
    chart = client.get("/members/A1", cookies=cookies)
    assert "Misses evening doses" in chart.text and "careplan.cda" in chart.text
    assert chart.headers["cache-control"] == "no-store"
    assert client.get("/members/A1/careplan.cda", cookies=cookies).text.startswith("<?xml")

    # FHIR: A1 is now in CMS165's numerator; the pharmacy's summary counts 9 of 12.
    report = client.get(
        "/fhir/Measure/CMS165/$evaluate-measure", params={"subject": "Patient/A1"}, headers=pharm_a
    ).json()
    populations = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}
    assert populations["numerator"] == 1 and populations["denominator"] == 1
    summary = client.get("/fhir/Measure/CMS165/$evaluate-measure", headers=pharm_a).json()
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in summary["group"][0]["population"]}
    assert (counts["denominator"], counts["numerator"]) == (12, 9)
    gaps = client.get(
        "/fhir/Measure/$care-gaps", params={"measureId": "CMS165", "status": "open-gap"}, headers=pharm_a
    )
    open_subjects = sorted(e["resource"]["subject"]["reference"] for e in gaps.json()["entry"])
    assert open_subjects == ["Patient/A11", "Patient/A12", "Patient/A2"]
    assert client.get("/fhir/MeasureReport/CMS165.B1", headers=pharm_a).status_code == 404
    assert client.get("/fhir/CarePlan/A1/$document", headers=pharm_a).json()["type"] == "document"


def test_care_manager_timer_and_month_bill(program_client: tuple[TestClient, World]) -> None:
    client, world = program_client
    cm = key_headers(world, "cm_c")
    assert client.post("/api/ccm/timer/start", json={"member_key": "B1"}, headers=cm).status_code == 404
    assert client.post("/api/ccm/timer/start", json={"member_key": "A1"}, headers=cm).status_code == 201
    world.advance(timedelta(minutes=12))
    stopped = client.post("/api/ccm/timer/stop", headers=cm).json()
    assert stopped["minutes"] == 12
    month = client.get("/api/ccm/months/2026-03", headers=cm).json()
    a1 = next(p for p in month["patients"] if p["member_key"] == "A1")
    # The world logged 2026-03-02 10:01-10:26 (25 min) for A1; plus the 12-minute timer = 37.
    assert a1["minutes_clinical_staff"] == 37
    assert {p["member_key"] for p in month["patients"]} == {"A1", "A2"}
    assert (
        client.get("/api/ccm/months/2026-03", headers=key_headers(world, "cm_d")).json()["patients"][0][
            "member_key"
        ]
        == "B1"
    )
    cookies = sign_in_cookies(client, "cm_c")
    page = client.get("/care-manager", cookies=cookies)
    assert 'id="month-bill"' in page.text and "Bumblebee" not in page.text
    assert client.get(f"/api/pharmacies/{PHARMACY_A}/worklist", headers=cm).status_code == 404
