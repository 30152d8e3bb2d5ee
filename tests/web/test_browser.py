"""Real-browser flows on Debian Chromium (headless): sign in per role, open a member chart,
sign out, and check that nothing about members stays in browser storage (ONC (d)(7))."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.world import PASSWORD, World
from web.conftest import CHROMIUM, CHROMIUM_ARGS, require_browser

pytestmark = pytest.mark.browser


def _browser():  # type: ignore[no-untyped-def]
    require_browser()
    from playwright.sync_api import sync_playwright

    manager = sync_playwright().start()
    browser = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    return manager, browser


def _sign_in(page, base: str, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")


def test_pharmacist_and_care_manager_and_analyst_flows(
    live_server: str, live_world: World, artefacts: Path
) -> None:
    manager, browser = _browser()
    try:
        context = browser.new_context()
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on(
            "console",
            lambda message: (
                errors.append(f"console {message.type}: {message.text}") if message.type == "error" else None
            ),
        )
        _sign_in(page, live_server, "pharm_a")
        page.wait_for_url(f"{live_server}/pharmacy")
        assert page.inner_text("#attributed-count") == "2"
        page.screenshot(path=str(artefacts / "pharmacy-home.png"), full_page=True)
        with page.expect_response(lambda r: "/members/A1" in r.url) as info:
            page.click("text=A1")
        assert info.value.headers["cache-control"] == "no-store"
        assert "Aardvark" in page.inner_text("#member-name")
        page.wait_for_selector("div.vega svg", timeout=10_000)  # the BP chart rendered under the CSP
        page.screenshot(path=str(artefacts / "member-chart.png"), full_page=True)
        assert page.goto(f"{live_server}/members/B1").status == 404
        page.goto(f"{live_server}/members")
        page.fill("#q", "Aa")
        page.wait_for_timeout(600)  # htmx search as you type
        assert "Aardvark" in page.inner_text("#member-rows")
        page.click("#sign-out")
        page.wait_for_url(f"{live_server}/login")
        storage = page.evaluate("""async () => ({
            local: JSON.stringify(Object.entries(localStorage)),
            session: JSON.stringify(Object.entries(sessionStorage)),
            caches: (await caches.keys()).length,
            idb: (await indexedDB.databases()).length,
            cookies: document.cookie })""")
        for marker in ("Aardvark", "Anteater", "A1"):
            assert marker not in storage["local"] + storage["session"] + storage["cookies"]
        assert storage["caches"] == 0 and storage["idb"] == 0
        assert page.goto(f"{live_server}/members/A1").url.startswith(f"{live_server}/login")
        # The only console error allowed is the deliberate 404 for the foreign member above.
        assert [e for e in errors if "status of 404" not in e] == []

        _sign_in(page, live_server, "cm_c")
        page.wait_for_url(f"{live_server}/care-manager")
        assert "Aardvark" in page.inner_text("#tcm-cases") and "Bumblebee" not in page.content()
        page.screenshot(path=str(artefacts / "care-manager.png"), full_page=True)
        page.click("#sign-out")

        _sign_in(page, live_server, "analyst")
        page.wait_for_url(f"{live_server}/analyst")
        page.click("#performance th >> nth=3")  # sort by member count
        page.wait_for_selector("div.vega svg", timeout=10_000)
        page.screenshot(path=str(artefacts / "analyst.png"), full_page=True)
        page.click("#sign-out")
        context.close()
    finally:
        browser.close()
        manager.stop()
