"""The telemetry chart (vendored uPlot) in Chromium: a device's bucketed readings drawn as a line
over the min-max band, zoomed by dragging across it and reset by a double-click, its legend in
the page's language, and a gap in the data left as a gap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.conftest import Db
from tests.api_tickets.conftest import LiveServer
from tests.browser.test_dashboard_browser import SCREENSHOTS, expect, sign_in
from tests.browser.test_dashboard_browser import browser as browser
from tests.browser.test_dashboard_browser import pytestmark as pytestmark


def test_telemetry_chart_zooms_by_drag_and_resets(browser: Any, live_server: LiveServer, db: Db,
                                                  tokens: dict[str, str]) -> None:
    db.device("wl-chart", lat=22.54, lon=114.05)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    # 20 hours of water level every 10 minutes, with a 3-hour hole in the middle (sensor offline).
    points = [(now - timedelta(minutes=10 * k), 10.0 + (k % 12)) for k in range(120) if not 50 <= k < 68]
    db.telemetry("wl-chart", "water_level_cm", points)
    page = sign_in(browser, live_server.url, tokens["operator"])
    page.click('#devices tr[data-device="wl-chart"]')
    chart = page.locator("#chart")
    canvas = chart.locator(".uplot canvas")
    expect(canvas).to_be_visible(timeout=10_000)
    expect(chart).to_have_attribute("data-points", "102", timeout=10_000)  # a bucket per reading
    expect(chart).to_have_attribute("data-gaps", "1")  # the 3-hour hole, not a straight jump
    expect(chart.locator(".u-legend")).to_contain_text("average")
    full = (int(chart.get_attribute("data-from") or 0), int(chart.get_attribute("data-to") or 0))
    assert full[1] - full[0] > 19 * 3600
    # Drag across the middle third: the x scale narrows to about that span.
    box = chart.locator(".u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 2 / 3, y, steps=8)
    page.mouse.up()
    expect(chart).not_to_have_attribute("data-from", str(full[0]), timeout=5_000)
    zoomed = int(chart.get_attribute("data-to") or 0) - int(chart.get_attribute("data-from") or 0)
    assert 0.2 < zoomed / (full[1] - full[0]) < 0.5, (zoomed, full)
    chart.screenshot(path=str(SCREENSHOTS / "chart-zoomed.png"))
    # A double-click zooms back out to the whole range.
    chart.locator(".u-over").dblclick()
    expect(chart).to_have_attribute("data-from", str(full[0]), timeout=5_000)
    # In Chinese the legend follows.
    page.click('#lang-switch button[data-lang="zh-CN"]')
    expect(chart.locator(".u-legend")).to_contain_text("平均值", timeout=5_000)
    page.close()
