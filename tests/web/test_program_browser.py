"""Real-browser flows over the program year (Debian Chromium, headless): the pharmacist works
the worklist, documents an encounter with the running timer and watches the projected
payment change; the care manager runs the CCM timer and sees the month bill; the analyst
sorts performance, drills into a statement and runs the what-if simulator.

Expected figures are the hand calculation in tests/api/world.py (``seed_program_world``):
$0.00 before, $147.00 after a 10-minute CMR that closes A1's BP gap.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from api.world import PASSWORD, PHARMACY_A, World, seed_program_world, seed_world
from web.conftest import CHROMIUM, CHROMIUM_ARGS, require_browser

pytestmark = pytest.mark.browser
PHARMACIST = "4000000016"  # make_npi("400000001")


@pytest.fixture
def live_world(sqlite_engine: Engine) -> World:
    world = seed_world(sqlite_engine)
    seed_program_world(sqlite_engine)
    return world


@pytest.fixture
def page(live_server: str) -> Iterator:  # type: ignore[type-arg]
    require_browser()
    from playwright.sync_api import sync_playwright

    manager = sync_playwright().start()
    browser = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()
        browser.close()
        manager.stop()


def _sign_in(page, base: str, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")


def _wait_for_payment(page, base: str, amount: str) -> None:  # type: ignore[no-untyped-def]
    # The program year is recomputed in the background after a write; the page polls with htmx.
    page.goto(f"{base}/pharmacy")
    page.wait_for_function(
        "text => (document.querySelector('#projected-payment') || {}).textContent === text",
        arg=amount,
        timeout=240_000,
    )
    page.reload()  # the worklist below the polled section is rendered with the page


def test_pharmacist_documents_an_encounter_and_the_payment_changes(
    page,
    live_server: str,
    live_world: World,
    artefacts: Path,  # type: ignore[no-untyped-def]
) -> None:
    _sign_in(page, live_server, "pharm_a")
    page.wait_for_url(f"{live_server}/pharmacy")
    _wait_for_payment(page, live_server, "$0.00")
    assert page.inner_text("#worklist-rows tbody tr:first-child td:nth-child(2)").startswith("A1")
    page.screenshot(path=str(artefacts / "pharmacy-worklist.png"), full_page=True)
    row = page.locator("#worklist-rows tr[data-member=A1]")
    row.locator("select[name=outcome]").select_option("reached")
    row.locator("button.outreach").click()
    page.wait_for_url(f"{live_server}/pharmacy#worklist")
    page.click("#worklist-rows tr[data-member=A1] a.document-mtm")
    page.click("#timer-start")
    page.wait_for_selector("#timer")
    # app.js ticks the running seconds (the test server's clock is fixed, the browser's is not).
    first = page.inner_text("#timer")
    page.wait_for_function("t => document.querySelector('#timer').textContent !== t", arg=first)
    live_world.advance(timedelta(minutes=10))
    page.click("#timer-stop")
    assert "10 min" in page.inner_text("#timer-result")
    page.fill("#pharmacist-npi", PHARMACIST)
    page.select_option("#problem-code", "697958005")
    page.fill("#problem-text", "Misses evening doses")
    page.fill("#systolic", "128")
    page.fill("#diastolic", "78")
    page.click("#preview")
    assert page.inner_text("#program-fee") == "$75.00"
    page.screenshot(path=str(artefacts / "mtm-encounter.png"), full_page=True)
    page.click("#save-encounter")
    page.wait_for_selector("#saved-notice")
    assert "Misses evening doses" in page.inner_text("#member-dtps")
    _wait_for_payment(page, live_server, "$147.00")
    page.screenshot(path=str(artefacts / "pharmacy-after-encounter.png"), full_page=True)
    page.click("#sign-out")


def test_care_manager_timer_and_analyst_flows(
    page,
    live_server: str,
    live_world: World,
    artefacts: Path,  # type: ignore[no-untyped-def]
) -> None:
    _sign_in(page, live_server, "cm_c")
    page.wait_for_url(f"{live_server}/care-manager")
    page.click("#ccm-panel tr[data-member=A1] button.ccm-start")
    page.wait_for_selector("#running-timer")
    live_world.advance(timedelta(minutes=12))
    page.click("#ccm-stop")
    page.wait_for_selector("#month-bill")
    # 25 logged minutes + 12 on the timer = 37 clinical-staff minutes this month.
    assert "37 / 0" in page.inner_text("#month-bill tr[data-member=A1]")
    page.screenshot(path=str(artefacts / "care-manager-month-bill.png"), full_page=True)
    page.click("#sign-out")

    _sign_in(page, live_server, "analyst")
    page.wait_for_url(f"{live_server}/analyst")
    for _ in range(120):  # the program year may still be computing
        if page.query_selector("#pharmacy-performance a.statement-link"):
            break
        page.wait_for_timeout(2000)
        page.reload()
    page.click("#pharmacy-performance th >> nth=2")  # sort by attributed members
    page.wait_for_selector("div.vega svg", timeout=10_000)
    page.screenshot(path=str(artefacts / "analyst-performance.png"), full_page=True)
    page.click(f"a.statement-link[href='/analyst/statements/{PHARMACY_A}']")
    assert page.inner_text("#statement-total") == "$0.00"
    assert "8 / 12" in page.inner_text("#statement-scores")
    page.goto(f"{live_server}/analyst/what-if")
    page.fill("#target-bp_control", "60")
    page.click("#simulate")
    assert "$72.00" in page.inner_text("#what-if-results")
    page.screenshot(path=str(artefacts / "analyst-what-if.png"), full_page=True)
    page.click("#sign-out")
