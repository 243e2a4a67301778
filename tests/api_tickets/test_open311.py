"""Open311 GeoReport v2: services, citizen requests in (to triage) and out (with filters)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.api.conftest import bearer
from tests.api_tickets.conftest import Seed

R = "/open311/v2/requests.json"


def test_services_one_per_category(client: TestClient) -> None:
    services = client.get("/open311/v2/services.json").json()
    codes = [s["service_code"] for s in services]
    assert len(codes) == 10 and "fire" in codes and "device_fault" in codes
    fire = next(s for s in services if s["service_code"] == "fire")
    assert fire["group"] == "fire_rescue" and fire["type"] == "realtime" and fire["metadata"] is False


def test_post_form_creates_citizen_observation_and_inbox_row(
        client: TestClient, seed: Seed, tokens: dict[str, str]) -> None:
    form = {"api_key": tokens["operator"], "service_code": "sanitation", "description": "垃圾堆在路边很多天了",
            "lat": "22.5431", "long": "114.0579", "email": "someone@example.org"}
    res = client.post(R, data=form)
    assert res.status_code == 201, res.text
    (created,) = res.json()
    rid = created["service_request_id"]
    rows = seed.db.execute("SELECT source, text, lat, lon, district, extra FROM observations"
                           " WHERE observation_id = %s", (rid,))
    assert rows and rows[0][:5] == ("citizen", "垃圾堆在路边很多天了", 22.5431, 114.0579, "futian")
    assert rows[0][5]["service_code"] == "sanitation" and "email" not in rows[0][5]
    assert seed.db.execute("SELECT count(*) FROM triage_inbox WHERE observation_id = %s", (rid,))[0][0] == 1
    # it is listed, open and awaiting triage
    (req,) = client.get(R, headers=bearer(tokens["operator"])).json()
    assert req["service_request_id"] == rid and req["status"] == "open" and req["service_code"] == "sanitation"
    assert req["status_notes"] == "awaiting triage" and req["long"] == 114.0579


def test_post_json_with_bearer_and_errors(client: TestClient, tokens: dict[str, str]) -> None:
    op = bearer(tokens["operator"])
    ok = client.post(R, headers=op, json={"service_code": "flood", "description": "water", "address_string": "X"})
    assert ok.status_code == 201
    for bad in ({"service_code": "ufo", "description": "x", "lat": 1, "long": 1},
                {"service_code": "flood", "description": " ", "lat": 1, "long": 1},
                {"service_code": "flood", "description": "x"},
                {"service_code": "flood", "description": "x", "lat": 91, "long": 1},
                {"service_code": "flood", "description": "x", "lat": "nan", "long": 1}):
        res = client.post(R, headers=op, json=bad)
        assert res.status_code == 400, bad
        assert res.json()[0]["code"] == 400 and res.json()[0]["description"]
    assert client.post(R, json={"service_code": "flood", "description": "x"}).status_code == 401


def test_get_filters_and_closed_status(client: TestClient, seed: Seed, tokens: dict[str, str]) -> None:
    op = bearer(tokens["operator"])
    seed.incident("inc-1", category="sanitation", agency="urban_management")
    now = datetime.now(UTC)
    seed.db.execute("INSERT INTO observations (ts, observation_id, source, text, lat, lon, incident_id, extra)"
                    " VALUES (%s, 'citizen-a', 'citizen', 'rubbish', 22.54, 114.05, 'inc-1',"
                    " '{\"service_code\": \"sanitation\"}'), (%s, 'citizen-b', 'citizen', 'loud', 22.54, 114.05,"
                    " NULL, '{\"service_code\": \"noise\"}')", (now - timedelta(hours=2), now))
    assert {r["service_request_id"] for r in client.get(R, headers=op).json()} == {"citizen-a", "citizen-b"}
    got = client.get(R, params={"service_code": "noise"}, headers=op).json()
    assert [r["service_request_id"] for r in got] == ["citizen-b"]
    got = client.get(R, params={"start_date": (now - timedelta(minutes=5)).isoformat()}, headers=op).json()
    assert [r["service_request_id"] for r in got] == ["citizen-b"]
    got = client.get(R, params={"end_date": (now - timedelta(hours=1)).isoformat()}, headers=op).json()
    assert [r["service_request_id"] for r in got] == ["citizen-a"]
    assert got[0]["agency_responsible"] == "urban_management" and got[0]["status_notes"] == "ticket open"
    client.post("/api/v1/tickets/tkt-inc-1/resolve", headers=bearer(tokens["manager"]))
    got = client.get(R, params={"status": "closed"}, headers=op).json()
    assert [r["service_request_id"] for r in got] == ["citizen-a"]
    got = client.get(R, params={"service_request_id": "citizen-b,zzz"}, headers=op).json()
    assert [r["service_request_id"] for r in got] == ["citizen-b"]
