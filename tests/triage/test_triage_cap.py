"""CAP 1.2 XML and FIWARE Alert exports, checked against the CAP 1.2 schema's structure."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from tests.triage.conftest import incident
from triage.backend import RulesBackend
from triage.cap import CAP_NS, cap_xml, fiware_alert
from triage.models import Ticket

SENT = datetime(2026, 11, 28, 0, 20, 5, 123456, tzinfo=UTC)
N = f"{{{CAP_NS}}}"
# Element order of the CAP 1.2 XSD sequences (OASIS CAP-v1.2.xsd), with minOccurs=1 marked.
ALERT_SEQ = ["identifier!", "sender!", "sent!", "status!", "msgType!", "source", "scope!",
             "restriction", "addresses", "code", "note", "references", "incidents", "info"]
INFO_SEQ = ["language", "category!", "event!", "responseType", "urgency!", "severity!",
            "certainty!", "audience", "eventCode", "effective", "onset", "expires", "senderName",
            "headline", "description", "instruction", "web", "contact", "parameter", "resource",
            "area"]
AREA_SEQ = ["areaDesc!", "polygon", "circle", "geocode", "altitude", "ceiling"]
ENUMS = {
    "status": {"Actual", "Exercise", "System", "Test", "Draft"},
    "msgType": {"Alert", "Update", "Cancel", "Ack", "Error"},
    "scope": {"Public", "Restricted", "Private"},
    "category": {"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env",
                 "Transport", "Infra", "CBRNE", "Other"},
    "urgency": {"Immediate", "Expected", "Future", "Past", "Unknown"},
    "severity": {"Extreme", "Severe", "Moderate", "Minor", "Unknown"},
    "certainty": {"Observed", "Likely", "Possible", "Unlikely", "Unknown"},
}
CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")


def check_sequence(el: ET.Element, seq: list[str]) -> None:
    names = [c.tag.removeprefix(N) for c in el]
    assert all(c.tag.startswith(N) for c in el), "every element in the CAP namespace"
    order = [s.rstrip("!") for s in seq]
    positions = [order.index(n) for n in names]  # unknown element -> ValueError
    assert positions == sorted(positions), f"out of schema order: {names}"
    for s in seq:
        if s.endswith("!"):
            assert s[:-1] in names, f"missing required {s[:-1]}"


def ticket(*obs: dict[str, object], tags: tuple[str, ...] = (), address: str | None = None) -> Ticket:
    inc = incident(*obs, tags=tags)
    if address:
        loc = inc.location.model_copy(update={"address": address}) if inc.location else None
        inc = inc.model_copy(update={"location": loc})
    return RulesBackend().assess(inc).ticket


@pytest.mark.parametrize(("obs", "tags", "cap_cat", "cap_sev"), [
    ({"source": "vision", "label": "fire", "confidence": 0.9}, ("school",), "Fire", "Extreme"),
    ({"source": "sensor", "metric": "water_level_cm", "value": 35.0}, (), "Met", "Severe"),
    ({"source": "citizen", "text": "路口有个坑洼"}, (), "Transport", "Minor"),
    ({"source": "sensor", "metric": "pm25", "value": 130.0}, (), "Env", "Moderate"),
    ({"source": "device", "device_id": "x", "label": "clock_skew"}, (), "Other", "Minor"),
])
def test_cap_document_follows_cap_1_2(obs: dict[str, object], tags: tuple[str, ...], cap_cat: str,
                                     cap_sev: str) -> None:
    t = ticket(obs, tags=tags, address="深南大道1001号 & <B座>")
    xml = cap_xml(t, sent=SENT)
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml.split("\n", 1)[1])
    assert root.tag == f"{N}alert"
    check_sequence(root, ALERT_SEQ)
    info = root.find(f"{N}info")
    assert info is not None
    check_sequence(info, INFO_SEQ)
    area = info.find(f"{N}area")
    assert area is not None
    check_sequence(area, AREA_SEQ)
    for el in root.iter():
        name = el.tag.removeprefix(N)
        if name in ENUMS and el in list(root) + list(info):
            assert el.text in ENUMS[name], (name, el.text)
    text = {c.tag.removeprefix(N): c.text for c in [*root, *info]}
    assert (text["category"], text["severity"]) == (cap_cat, cap_sev)
    assert text["urgency"] == t.urgency.value and text["certainty"] == t.certainty.value
    assert CAP_TIME.match(text["sent"] or "") and text["sent"] == "2026-11-28T00:20:05-00:00"
    assert not re.search(r"[\s,<&]", text["identifier"] or "")
    assert not re.search(r"[\s,<&]", text["sender"] or "")
    circle = area.findtext(f"{N}circle") or ""
    assert re.fullmatch(r"-?\d+\.\d+,-?\d+\.\d+ \d+(\.\d+)?", circle)
    lat, lon = (float(v) for v in circle.split(" ")[0].split(","))
    assert t.location is not None and (lat, lon) == pytest.approx((t.location.lat, t.location.lon))
    assert "&" in (area.findtext(f"{N}areaDesc") or "")  # escaped on write, intact on read
    params = {p.findtext(f"{N}valueName"): p.findtext(f"{N}value") for p in info.findall(f"{N}parameter")}
    assert params["urbanops:agency"] == t.agency.value


def test_cap_update_needs_references() -> None:
    t = ticket({"source": "vision", "label": "fire"})
    with pytest.raises(ValueError, match="references"):
        cap_xml(t, sent=SENT, msg_type="Update")
    xml = cap_xml(t, sent=SENT, msg_type="Update",
                  references="triage@urbanops.local,tkt-inc-test.20261128T001500,2026-11-28T00:15:00-00:00")
    assert "<references>" in xml


def test_fiware_alert_entity() -> None:
    t = ticket({"source": "vision", "label": "person_down", "confidence": 0.9}, tags=("metro",))
    alert = fiware_alert(t, issued=SENT)
    for key in ("id", "type", "alertSource", "category", "dateIssued"):  # required by the model
        assert key in alert
    assert alert["type"] == "Alert" and alert["id"].startswith("urn:ngsi-ld:Alert:")
    assert alert["category"] in {"traffic", "naturalDisaster", "weather", "environment", "health",
                                 "security", "agriculture"}
    assert alert["subCategory"] == "fallenPatient" and alert["severity"] == t.severity.value
    assert alert["location"] == {"type": "Point", "coordinates": [114.0579, 22.5431]}
    assert re.fullmatch(r"^[\w\-.{}$+*\[\]`|~^@!,:\\]+$", alert["id"])
