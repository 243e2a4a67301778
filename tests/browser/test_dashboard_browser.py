"""The dashboard in Debian's Chromium, driven by Playwright: sign in, see a new incident arrive
over the live feed within 2 s, open it and its evidence image, acknowledge and resolve its
ticket as a manager, and check an operator gets no action buttons. Screenshots go to
docs/screenshots/ (checked in for the README)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.api_tickets.conftest import LiveServer, Seed

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists() and shutil.which("chromium") is None,
                       reason="Debian's chromium is not installed (apt-get install -y chromium)"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="playwright is not installed (pip install playwright==1.65.2)"),
]


@pytest.fixture()
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def expect(locator: Any) -> Any:
    # Locator assertions run in Playwright's injected script, which the page's CSP (no eval) allows.
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def sign_in(browser: Any, url: str, secret: str) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page.on("console", lambda m: print("CONSOLE", m.type, m.text))
    page.on("pageerror", lambda e: print("PAGEERROR", e))
    page.goto(url + "/")
    page.fill("#token-input", secret)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#app-view:not([hidden])", timeout=10_000)
    expect(page.locator("#feed-status")).to_have_text("live", timeout=10_000)
    return page


def notify_incident(db_url: str, incident_id: str) -> None:
    """What the triage service sends when it opens an incident."""
    doc = {"type": "incident", "id": incident_id, "ts": datetime.now(UTC).isoformat(),
           "data": {"district": "futian", "category": "fire", "severity": "high", "status": "open",
                    "lat": 22.5375, "lon": 114.056, "ticket_id": f"tkt-{incident_id}"}}
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT pg_notify('urbanops_feed', %s)", (json.dumps(doc),))


def test_manager_and_operator_flow(browser: Any, live_server: LiveServer, seed: Seed,
                                   tokens: dict[str, str], db_url: str) -> None:
    seed.incident("inc-old", category="flood", severity="medium", agency="water_affairs", district="futian",
                  lat=22.528, lon=114.05)
    # A city's worth of sensors in one corner: the map clusters them instead of drawing 300 dots.
    seed.db.execute("INSERT INTO devices (device_id, district, kind, first_seen, last_seen, state, lat, lon)"
                    " SELECT 'aq-' || g, 'futian', 'sensor', now(), now(), 'online', 22.53 + (g % 20) * 0.0004,"
                    " 114.03 + (g / 20) * 0.0004 FROM generate_series(1, 300) AS g")
    page = sign_in(browser, live_server.url, tokens["manager"])
    page.wait_for_selector('#incidents tr[data-incident="inc-old"]', timeout=5_000)

    # A new incident arrives through the live feed, without a reload.
    seed.incident("inc-live", category="fire", severity="high")
    notify_incident(db_url, "inc-live")
    page.wait_for_selector('#incidents tr[data-incident="inc-live"]', timeout=2_000)
    page.wait_for_selector('#map .incident-icon[data-incident="inc-live"]', timeout=2_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "feed.png"), full_page=False)

    # The map (vendored Leaflet): the pack's districts, clustered devices, pan and zoom, and an
    # incident's popup with its evidence image.
    expect(page.locator("#map .district-label")).to_have_count(3)
    clusters = page.locator("#map .marker-cluster")
    expect(clusters.first).to_be_visible(timeout=5_000)
    assert clusters.count() < 30  # 300 devices drawn as a few clusters
    the_map = page.locator("#map")
    before = float(the_map.get_attribute("data-zoom") or "nan")
    page.click("#map .leaflet-control-zoom-in")
    expect(the_map).to_have_attribute("data-zoom", str(before + 1).removesuffix(".0"), timeout=5_000)
    page.click("#map .leaflet-control-zoom-out")
    expect(the_map).to_have_attribute("data-zoom", str(before).removesuffix(".0"), timeout=5_000)
    page.click('#map .incident-icon[data-incident="inc-live"]')
    popup = page.locator('#map .leaflet-popup .incident-popup[data-incident="inc-live"]')
    expect(popup).to_contain_text("high", timeout=5_000)
    expect(popup.locator("img.popup-evidence")).to_have_js_property("naturalWidth", 64, timeout=5_000)
    page.screenshot(path=str(SCREENSHOTS / "map-popup.png"), full_page=False)

    # Its detail shows the redacted evidence image (fetched with the token).
    page.click('#incidents tr[data-incident="inc-live"]')
    img = page.wait_for_selector("#evidence img", timeout=5_000)
    expect(page.locator("#evidence img")).to_have_js_property("naturalWidth", 64, timeout=5_000)
    assert (img.get_attribute("src") or "").startswith("blob:")

    # Acknowledge and resolve its ticket.
    page.click("#incident-open-ticket")
    page.wait_for_selector("#ticket-detail:not([hidden])")
    page.click('#ticket-actions button[data-action="ack"]')
    expect(page.locator("#ticket-status-badge")).to_have_text("acknowledged", timeout=5_000)
    page.fill("#action-text", "engine 21 on scene")
    page.click('#ticket-actions button[data-action="note"]')
    expect(page.locator("#ticket-history")).to_contain_text("engine 21 on scene", timeout=5_000)
    page.locator("#ticket-detail").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "ticket.png"), full_page=True)
    page.click('#ticket-actions button[data-action="resolve"]')
    expect(page.locator("#ticket-status-badge")).to_have_text("resolved", timeout=5_000)
    history = page.inner_text("#ticket-history")
    assert "mgr: ack" in history and "mgr: resolve" in history
    assert page.is_disabled('#ticket-actions button[data-action="resolve"]')
    rows = seed.db.execute("SELECT status, acknowledged_by, resolved_by FROM tickets WHERE ticket_id = 'tkt-inc-live'")
    assert rows == [("resolved", "mgr", "mgr")]
    page.close()

    # An operator sees the ticket and its history, but no action controls.
    op = sign_in(browser, live_server.url, tokens["operator"])
    op.click('#tickets tr[data-ticket="tkt-inc-old"]')
    op.wait_for_selector("#ticket-detail:not([hidden])")
    expect(op.locator("#ticket-history")).to_contain_text("created", timeout=5_000)
    assert op.locator("#ticket-actions button").count() == 0
    assert op.locator("#ticket-actions input, #ticket-actions select").count() == 0
    op.close()
