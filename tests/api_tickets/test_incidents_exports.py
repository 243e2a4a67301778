"""Incidents list/detail, evidence images (path-traversal safe), CAP 1.2, Atom and GeoJSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from citypack import DEMO_PACK
from gateway.api.routes_incidents import resolve_evidence
from tests.api.conftest import bearer
from tests.api_tickets.conftest import EVIDENCE_REL, Seed, png

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
ATOM = "{http://www.w3.org/2005/Atom}"


def test_incident_list_filters_and_pages(client: TestClient, seed: Seed, tokens: dict[str, str]) -> None:
    seed.incident("inc-1", category="fire")
    seed.incident("inc-2", category="flood", district="nanshan", severity="medium", ticket=False)
    seed.incident("inc-3", category="fire", severity="critical")
    op = bearer(tokens["operator"])
    got = client.get("/api/v1/incidents", headers=op).json()
    assert [i["incident_id"] for i in got["items"]] == ["inc-3", "inc-2", "inc-1"]  # newest change first
    assert got["items"][1]["ticket_id"] is None and got["items"][0]["ticket_id"] == "tkt-inc-3"
    ids = lambda **q: [i["incident_id"] for i in client.get("/api/v1/incidents", params=q, headers=op).json()["items"]]  # noqa: E731
    assert ids(district="nanshan") == ["inc-2"]
    assert ids(category="fire") == ["inc-3", "inc-1"]
    assert ids(severity="critical") == ["inc-3"]
    assert ids(since=(datetime.now(UTC) + timedelta(minutes=1)).isoformat()) == []
    page = client.get("/api/v1/incidents", params={"limit": 2}, headers=op).json()
    rest = client.get("/api/v1/incidents", params={"limit": 2, "cursor": page["next_cursor"]}, headers=op).json()
    assert [i["incident_id"] for i in page["items"] + rest["items"]] == ["inc-3", "inc-2", "inc-1"]
    assert client.get("/api/v1/incidents", params={"category": "ufo"}, headers=op).status_code == 422
    assert client.get("/api/v1/incidents", params={"since": "yesterday"}, headers=op).status_code == 422


def test_incident_detail_and_evidence(client: TestClient, seed: Seed, tokens: dict[str, str]) -> None:
    seed.incident()
    op = bearer(tokens["operator"])
    inc = client.get("/api/v1/incidents/inc-0001", headers=op).json()
    assert inc["ticket_id"] == "tkt-inc-0001" and inc["body"]["incident_id"] == "inc-0001"
    (obs,) = inc["observations"]
    assert obs["label"] == "smoke" and obs["evidence_url"] == f"/api/v1/evidence/{EVIDENCE_REL}"
    img = client.get(obs["evidence_url"], headers=op)
    assert img.status_code == 200 and img.headers["content-type"] == "image/png" and img.content == png()
    assert client.get("/api/v1/incidents/nope", headers=op).status_code == 404


@pytest.mark.parametrize("path", [
    "../secret.png", "evidence/../../secret.png", "%2e%2e/secret.png", "..%2fsecret.png",
    "%2Ftmp%2Fsecret.png", "evidence/futian/20261128/missing.png", "evidence", "evidence/futian/x.txt",
])
def test_evidence_refuses_traversal(client: TestClient, tokens: dict[str, str], path: str) -> None:
    res = client.get(f"/api/v1/evidence/{path}", headers=bearer(tokens["operator"]))
    assert res.status_code == 404, res.text


def test_cap_alert_update_cancel(client: TestClient, seed: Seed, tokens: dict[str, str]) -> None:
    seed.incident()
    op, mgr = bearer(tokens["operator"]), bearer(tokens["manager"])
    res = client.get("/api/v1/tickets/tkt-inc-0001/cap", headers=op)
    assert res.status_code == 200 and res.headers["content-type"].startswith("application/cap+xml")
    alert = ET.fromstring(res.content)  # well-formed
    assert alert.tag == f"{CAP}alert"
    for tag in ("identifier", "sender", "sent", "status", "msgType", "scope"):
        assert (alert.findtext(f"{CAP}{tag}") or "").strip(), tag
    assert alert.findtext(f"{CAP}msgType") == "Alert" and alert.findtext(f"{CAP}status") == "Actual"
    info = alert.find(f"{CAP}info")
    assert info is not None
    for tag in ("category", "event", "urgency", "severity", "certainty"):
        assert (info.findtext(f"{CAP}{tag}") or "").strip(), tag
    assert info.findtext(f"{CAP}severity") == "Severe"  # high -> Severe (SPEC §3)
    assert info.find(f"{CAP}area/{CAP}circle") is not None
    first_id = alert.findtext(f"{CAP}identifier")
    assert client.get("/api/v1/tickets/tkt-inc-0001/cap", headers=op).text == res.text  # stable

    client.post("/api/v1/tickets/tkt-inc-0001/override", headers=mgr, json={"severity": "critical", "reason": "r"})
    upd = ET.fromstring(client.get("/api/v1/tickets/tkt-inc-0001/cap", headers=op).content)
    assert upd.findtext(f"{CAP}msgType") == "Update" and (first_id or "?") in (upd.findtext(f"{CAP}references") or "")
    assert upd.findtext(f"{CAP}info/{CAP}severity") == "Extreme"
    client.post("/api/v1/tickets/tkt-inc-0001/resolve", headers=mgr)
    cancel = ET.fromstring(client.get("/api/v1/tickets/tkt-inc-0001/cap", headers=op).content)
    assert cancel.findtext(f"{CAP}msgType") == "Cancel"
    assert client.get("/api/v1/tickets/nope/cap", headers=op).status_code == 404


def test_cap_of_a_malformed_body_is_409_not_500(client: TestClient, seed: Seed, tokens: dict[str, str]) -> None:
    seed.incident()
    seed.db.execute("UPDATE tickets SET body = '{\"ticket_id\": \"tkt-inc-0001\"}'")
    assert client.get("/api/v1/tickets/tkt-inc-0001/cap", headers=bearer(tokens["operator"])).status_code == 409


def test_atom_and_geojson_list_only_active(client: TestClient, seed: Seed, tokens: dict[str, str]) -> None:
    seed.incident("inc-1")
    seed.incident("inc-2", status="resolved")
    seed.incident("inc-3", ticket=False)
    seed.db.execute("UPDATE incidents SET status = 'closed' WHERE incident_id = 'inc-2'")
    op = bearer(tokens["operator"])
    res = client.get("/api/v1/alerts.atom", headers=op)
    assert res.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(res.content)
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == ["urn:urbanops:ticket:tkt-inc-1"]
    link = entries[0].find(f"{ATOM}link")
    assert link is not None and link.get("href", "").endswith("/api/v1/tickets/tkt-inc-1/cap")
    geo = client.get("/api/v1/incidents.geojson", headers=op)
    assert geo.headers["content-type"].startswith("application/geo+json")
    fc = geo.json()
    assert fc["type"] == "FeatureCollection"
    assert sorted(f["id"] for f in fc["features"]) == ["inc-1", "inc-3"]
    f1 = next(f for f in fc["features"] if f["id"] == "inc-1")
    assert f1["geometry"] == {"type": "Point", "coordinates": [114.056, 22.5375]}
    assert f1["properties"]["ticket_id"] == "tkt-inc-1"


def test_map_layers(client: TestClient, tokens: dict[str, str]) -> None:
    fc = client.get("/api/v1/map/layers.geojson", headers=bearer(tokens["operator"])).json()
    districts = {f["id"] for f in fc["features"] if f["properties"]["kind"] == "district"}
    assert {"futian", "nanshan", "luohu"} <= districts
    futian = next(f for f in fc["features"] if f.get("id") == "futian")
    ring = futian["geometry"]["coordinates"][0]  # the pack's outline, as drawn (not a bounding box)
    pack = json.loads((DEMO_PACK / "districts.geojson").read_text())
    drawn = next(f for f in pack["features"] if f["properties"]["id"] == "futian")["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == len(drawn) > 5
    assert any(f["properties"]["kind"] == "street" and f["properties"]["name_en"] == "Shennan Boulevard"
               for f in fc["features"])


def test_resolve_evidence_stays_inside_data_dir(data_dir: Path) -> None:
    # Clients normalise "../" in URLs, so the check itself is exercised directly too.
    assert resolve_evidence(data_dir, EVIDENCE_REL) == (data_dir / EVIDENCE_REL).resolve()
    (data_dir / "link.png").symlink_to(data_dir.parent / "secret.png")
    for path in ("../secret.png", "evidence/../../secret.png", str(data_dir.parent / "secret.png"), "link.png",
                 "a\x00.png"):
        with pytest.raises(FileNotFoundError):
            resolve_evidence(data_dir, path)
