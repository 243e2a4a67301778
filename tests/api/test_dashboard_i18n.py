"""The dashboard's message catalogues (``gateway/dashboard/i18n.<tag>.json``): every language has
the same keys and placeholders, every key the page and its scripts use exists, the closed sets
of SPEC §3 are all named, and no label is left in the HTML or JS outside the catalogues."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest

from gateway.api.routes_dashboard import DASHBOARD_DIR
from triage.models import Agency, Category, Severity, Source, TicketStatus

CATALOGUES = {p.name[len("i18n."):-len(".json")]: p for p in DASHBOARD_DIR.glob("i18n.*.json")}
SCRIPTS = {p.name: p.read_text(encoding="utf-8") for p in DASHBOARD_DIR.glob("*.js")}
PLACEHOLDER = re.compile(r"\{(\w+)\}")

# Keys the scripts build at run time ("field." + k ...), listed where they are built.
DYNAMIC_KEYS = (
    [f"feed.{s}" for s in ("live", "reconnecting", "offline")]  # ops.js showFeedStatus
    + [f"actions.{a}" for a in ("ack", "assign", "note", "resolve", "reopen", "override")]  # tickets.js
    + [f"field.{f}" for f in ("severity", "category", "district", "status", "opened", "places",
                              "observations")]  # ops.js openIncident
    + [f"field.{f}" for f in ("severity", "category", "agency", "district", "sla_due", "assigned_to",
                              "acknowledged", "resolved", "incident", "actions")]  # tickets.js renderTicket
    + ["devices.count", "devices.count_more"]  # app.js loadDevices
)
# Closed sets named through label(set, value): every value needs its name in every language.
CLOSED_SETS = {
    "severity": [s.value for s in Severity], "category": [c.value for c in Category],
    "agency": [a.value for a in Agency], "ticket_status": [s.value for s in TicketStatus],
    "source": [s.value for s in Source], "role": ["operator", "manager", "admin"],
    "kind": ["sensor", "robot", "drone"], "state": ["online", "offline", "busy", "charging", "error"],
    "incident_status": ["open", "closed"],
    "action": ["created", "retriaged", "ack", "assign", "note", "resolve", "reopen", "override", "escalate"],
    "place": ["school", "hospital", "residential", "market", "road", "park", "river", "industrial", "metro",
              "elderly_home", "highway"],
    "obs": ["fire", "smoke", "garbage", "flooding", "pothole", "fallen_tree", "debris", "damaged_manhole",
            "person_down", "crowd", "vehicle", "illegal_parking", "spill", "obstacle", "stuck", "bin_full",
            "low_battery", "offline", "diagnostic_error", "clock_skew", "implausible_value"],
}


def load(tag: str) -> dict[str, str]:
    data = json.loads(CATALOGUES[tag].read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_languages_and_catalogues_match() -> None:
    registry = re.search(r"const LANGUAGES = \{([^}]*)\}", SCRIPTS["i18n.js"])
    assert registry, "i18n.js lost its LANGUAGES registry"
    tags = set(re.findall(r'"?([A-Za-z-]+)"?\s*:', registry.group(1)))
    assert tags == set(CATALOGUES) and {"zh-CN", "en"} <= tags


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    en = load("en")
    for tag in CATALOGUES:
        other = load(tag)
        assert set(other) == set(en), (tag, set(en) ^ set(other))
        for key, text in other.items():
            assert isinstance(text, str) and text.strip(), (tag, key)
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(en[key])), (tag, key)


def test_chinese_is_chinese() -> None:
    zh, en = load("zh-CN"), load("en")
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for prefix in ("severity.", "category.", "agency.", "ticket_status.", "field.", "actions."):
        keys = [k for k in zh if k.startswith(prefix)]
        assert keys and all(cjk.search(zh[k]) for k in keys), prefix
    names = [zh[f"agency.{a.value}"] for a in Agency]
    assert len(set(names)) == len(names) and zh["agency.fire_rescue"] == "消防救援"
    assert len({zh[f"severity.{s.value}"] for s in Severity}) == len(Severity)
    assert en["severity.critical"] == "critical"


def keys_used() -> set[str]:
    html = (DASHBOARD_DIR / "index.html").read_text(encoding="utf-8")
    used = set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', html))
    for text in SCRIPTS.values():
        used |= set(re.findall(r'\bt\(\s*"([a-z0-9_.]*[a-z0-9_])"', text))  # "x." + k: DYNAMIC_KEYS
    return used | set(DYNAMIC_KEYS)


def test_every_key_used_exists() -> None:
    used = keys_used()
    assert len(used) > 100
    for tag in CATALOGUES:
        missing = used - set(load(tag))
        assert not missing, (tag, sorted(missing))


def test_closed_sets_are_named() -> None:
    sets_used = {m for text in SCRIPTS.values() for m in re.findall(r'\blabel\(\s*"([a-z_]+)"', text)}
    sets_used |= {"severity", "category", "agency"}  # tickets.js: label(k, ...) over these
    assert set(CLOSED_SETS) | {"health", "component", "metric"} >= sets_used, sets_used - set(CLOSED_SETS)
    for tag in CATALOGUES:
        cat = load(tag)
        for name, values in CLOSED_SETS.items():
            missing = [v for v in values if f"{name}.{v}" not in cat]
            assert not missing, (tag, name, missing)


def test_script_closed_sets_match_the_taxonomy() -> None:
    ops = SCRIPTS["ops.js"]
    for const, enum in (("CATEGORIES", Category), ("SEVERITIES", Severity), ("AGENCIES", Agency)):
        m = re.search(rf"const {const} = \[([^\]]*)\]", ops)
        assert m, const
        assert set(re.findall(r'"([a-z_]+)"', m.group(1))) == {e.value for e in enum}, const


class _Text(HTMLParser):
    """Collects text and label attributes that are not taken from the catalogue."""

    ALLOWED_TEXT: ClassVar[set[str]] = {"urbanops", "…", "urbanops tokens create --role operator --name NAME"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for attr in ("placeholder", "title", "aria-label", "alt"):
            if attr in names:
                self.found.append(f"<{tag} {attr}={names[attr]!r}> (use data-i18n-{attr})")
        if tag not in {"meta", "link", "input", "br", "img"}:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        text = data.strip()
        if text and text not in self.ALLOWED_TEXT and (not self.stack or self.stack[-1] not in {"script", "style"}):
            self.found.append(repr(text))


def test_no_label_left_in_the_html() -> None:
    parser = _Text()
    parser.feed((DASHBOARD_DIR / "index.html").read_text(encoding="utf-8"))
    assert parser.found == []


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_no_label_left_in_the_scripts(script: str) -> None:
    text = SCRIPTS[script]
    # Words put on the page straight from a string literal: el("td", "none ..."), x.textContent = "...",
    # placeholder = "...", alt/title/aria-label literals.
    patterns = [r'\bel\(\s*"[a-z0-9]+"\s*,\s*["`][^"`]*[A-Za-z]{2}',
                r'\.(?:textContent|placeholder|alt|title)\s*=\s*["`][^"`]*[A-Za-z]{2}',
                r'"aria-label"\s*:\s*["`]']
    hits = [m.group(0) for p in patterns for m in re.finditer(p, text)]
    assert hits == [], hits


def test_catalogue_files_are_served_with_the_dashboard() -> None:
    assert Path(DASHBOARD_DIR / "i18n.js").exists()
    for path in CATALOGUES.values():
        json.loads(path.read_text(encoding="utf-8"))  # valid JSON, UTF-8
