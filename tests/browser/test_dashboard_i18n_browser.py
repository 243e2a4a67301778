"""The dashboard in Chinese and English, in Debian's Chromium driven by Playwright: the language
follows the browser's (a zh-CN and an en-US browser), every view and a ticket's labels are in it,
the switch changes it and a reload keeps it (localStorage), and times are on the city's clock
(Asia/Shanghai) while the browser sits in New York. The Chinese screenshots go to
docs/screenshots/*.zh-CN.png (the English ones come from test_dashboard_browser.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.api_tickets.conftest import LiveServer, Seed
from tests.browser.test_dashboard_browser import SCREENSHOTS, expect
from tests.browser.test_dashboard_browser import browser as browser
from tests.browser.test_dashboard_browser import pytestmark as pytestmark

CITY_TZ = "Asia/Shanghai"  # the gateway's default city_timezone
BROWSER_TZ = "America/New_York"  # 12 or 13 hours away: a time on the wrong clock shows
WORDS = {
    "zh-CN": {"signin": "登录", "live": "实时", "severity": "较急", "category": "内涝积水", "agency": "水务",
              "district": "福田区", "open": "待处理", "ack": "确认接收", "acked": "已确认", "created": "创建工单",
              "agency_field": "责任部门", "sla_field": "处置时限", "tz": f"城市时区：{CITY_TZ}",
              "no_dead": "无 — 全部数据均已接收", "devices": "设备", "signout": "退出登录",
              "plan_ref": "第4节", "plan_heading": "下穿通道与地铁出入口", "where": "福田站附近（深南大道）"},
    "en": {"signin": "Sign in", "live": "live", "severity": "medium", "category": "flood", "agency": "Water Affairs",
           "district": "Futian", "open": "open", "ack": "Acknowledge", "acked": "acknowledged", "created": "created",
           "agency_field": "Agency", "sla_field": "SLA due", "tz": f"City time: {CITY_TZ}",
           "no_dead": "none — all input was accepted", "devices": "Devices", "signout": "Sign out",
           "plan_ref": "section 4", "plan_heading": "Underpasses and Metro Entrances",
           "where": "Futian Station (Shennan Boulevard)"},
}
LOCALES = {"zh-CN": "zh-CN", "en-US": "en"}  # browser locale -> the dashboard's language
OTHER = {"zh-CN": "en", "en": "zh-CN"}
# A citation as triage writes it (tickets cite in their own language: this one is Chinese).
CITATION = {"plan": "typhoon-flood", "section": 4, "lang": "zh", "title": "台风与城市内涝应急处置预案（演示）",
            "heading": "下穿通道与地铁出入口", "score": 0.42,
            "url": "/api/v1/city/plans/typhoon-flood?lang=zh#section-4"}


def open_dashboard(browser: Any, url: str, locale: str) -> tuple[Any, Any]:
    ctx = browser.new_context(locale=locale, timezone_id=BROWSER_TZ, viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.on("pageerror", lambda e: print("PAGEERROR", e))
    page.goto(url + "/")
    return ctx, page


def wait_language(page: Any, lang: str) -> None:
    page.wait_for_selector(f'html[lang="{lang}"][data-i18n-ready="{lang}"]', timeout=10_000)
    expect(page.locator(f'#lang-switch button[data-lang="{lang}"]')).to_have_attribute("aria-pressed", "true")


def check_views(page: Any, w: dict[str, str]) -> None:
    """Header, feed, map, queue, devices and dead letters, all in one language."""
    expect(page.locator("#feed-status")).to_have_text(w["live"], timeout=10_000)
    expect(page.locator("#signout")).to_have_text(w["signout"])
    expect(page.locator("#city-tz")).to_have_text(w["tz"])
    row = page.locator('#incidents tr[data-incident="inc-i18n"]')
    for word in ("severity", "category", "district"):
        expect(row).to_contain_text(w[word], timeout=5_000)
    expect(page.locator("#map .district-label").filter(has_text=w["district"])).to_have_count(1)
    queue = page.locator('#tickets tr[data-ticket="tkt-inc-i18n"]')
    expect(queue).to_contain_text(w["agency"], timeout=5_000)
    expect(page.locator("#devices").locator("xpath=ancestor::section//h2")).to_contain_text(w["devices"])
    expect(page.locator("#dead-letters tbody")).to_contain_text(w["no_dead"], timeout=5_000)


@pytest.mark.parametrize("locale", list(LOCALES))
def test_dashboard_speaks_the_browsers_language(browser: Any, live_server: LiveServer, seed: Seed,
                                                tokens: dict[str, str], locale: str) -> None:
    lang = LOCALES[locale]
    w, other = WORDS[lang], OTHER[lang]
    seed.incident("inc-i18n", category="flood", severity="medium", agency="water_affairs", district="futian",
                  sla_in=timedelta(minutes=45), citations=[CITATION])
    [(sla_due,)] = seed.db.execute("SELECT sla_due FROM tickets WHERE ticket_id = 'tkt-inc-i18n'")
    on_city_clock = sla_due.astimezone(ZoneInfo(CITY_TZ)).strftime("%H:%M")
    on_browser_clock = sla_due.astimezone(ZoneInfo(BROWSER_TZ)).strftime("%H:%M")
    full_on_city_clock = sla_due.astimezone(ZoneInfo(CITY_TZ)).strftime("%Y-%m-%d %H:%M")

    ctx, page = open_dashboard(browser, live_server.url, locale)
    wait_language(page, lang)
    expect(page.locator("#signin-view h2")).to_have_text(w["signin"])
    page.fill("#token-input", tokens["manager"])
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#app-view:not([hidden])", timeout=10_000)
    check_views(page, w)

    # The queue's SLA time is on the city's clock, not the browser's.
    queue = page.locator('#tickets tr[data-ticket="tkt-inc-i18n"]')
    sla = queue.locator("td.sla").inner_text()
    assert on_city_clock in sla and on_browser_clock not in sla, (sla, on_city_clock)
    if lang == "zh-CN":
        page.screenshot(path=str(SCREENSHOTS / "feed.zh-CN.png"), full_page=False)

    # The map's incident popup: what and where in the language, and the evidence image.
    page.click('#map .incident-icon[data-incident="inc-i18n"]')
    popup = page.locator('#map .leaflet-popup .incident-popup[data-incident="inc-i18n"]')
    expect(popup).to_contain_text(w["where"], timeout=5_000)
    expect(popup).to_contain_text(w["severity"])
    expect(popup.locator("img.popup-evidence")).to_have_js_property("naturalWidth", 64, timeout=5_000)
    expect(page.locator("#incident-meta")).to_contain_text(w["where"], timeout=5_000)

    # A ticket: field names, values, history and actions in the language; its SLA on the city clock.
    queue.click()
    page.wait_for_selector("#ticket-detail:not([hidden])")
    meta = page.locator("#ticket-meta")
    for word in ("agency_field", "agency", "category", "severity", "sla_field"):
        expect(meta).to_contain_text(w[word])
    assert full_on_city_clock in meta.inner_text(), meta.inner_text()
    expect(page.locator('#ticket-history li[data-action="created"]')).to_contain_text(w["created"])
    expect(page.locator('#ticket-actions button[data-action="ack"]')).to_have_text(w["ack"])
    # Its plan citation opens the cited section of the city's plan, in the page's language.
    cite = page.locator('#ticket-plans a[data-plan="typhoon-flood"]')
    expect(cite).to_contain_text(w["plan_ref"])
    cite.click()
    cited = page.locator("#plan-sections section.cited")
    expect(cited).to_have_count(1, timeout=5_000)
    expect(cited.locator("h5")).to_have_text("4. " + w["plan_heading"])
    expect(page.locator("#plan-sections section")).to_have_count(8)
    page.click('#ticket-actions button[data-action="ack"]')
    badge = page.locator("#ticket-status-badge")
    expect(badge).to_have_text(w["acked"], timeout=5_000)
    if lang == "zh-CN":
        page.locator("#ticket-detail").scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / "ticket.zh-CN.png"), full_page=True)

    # Switch: everything, the open ticket included, changes at once ...
    o = WORDS[other]
    page.click(f'#lang-switch button[data-lang="{other}"]')
    wait_language(page, other)
    expect(badge).to_have_text(o["acked"])
    expect(meta).to_contain_text(o["agency_field"])
    expect(page.locator('#ticket-actions button[data-action="reopen"]')).to_be_visible()
    expect(page.locator('#ticket-history li[data-action="ack"]')).to_be_visible()
    check_views(page, o)
    assert page.evaluate("localStorage.getItem('urbanops.lang')") == other

    # ... and a reload keeps the choice over the browser's language.
    page.reload()
    wait_language(page, other)
    page.wait_for_selector("#app-view:not([hidden])", timeout=10_000)
    check_views(page, o)
    assert on_city_clock in page.locator('#tickets tr[data-ticket="tkt-inc-i18n"] td.sla').inner_text()
    ctx.close()
