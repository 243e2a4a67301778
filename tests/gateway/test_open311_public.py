"""Open311 GeoReport v2 reads: public without a key (privacy-safe fields), full with a token,
lookup by id, service definitions, and the PyPI ``georeport`` client against a live server.

``georeport`` 0.3.1 (and every earlier release) has no call that creates a request, so the
request is POSTed as GeoReport v2 defines it (form fields, ``api_key``) with ``requests``, the
HTTP library georeport itself uses; every read then goes through the client, without a key.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient
from georeport import GeoReport

from gateway.api.open311_view import PUBLIC_DECIMALS
from tests.api.conftest import bearer
from tests.api.conftest import db as db
from tests.api.conftest import tokens as tokens
from tests.api_tickets.conftest import LiveServer, Seed
from tests.api_tickets.conftest import client as client
from tests.api_tickets.conftest import data_dir as data_dir
from tests.api_tickets.conftest import live_server as live_server
from tests.api_tickets.conftest import seed as seed

R = "/open311/v2/requests.json"
LAT, LON = 22.543149, 114.057912
PHONE, EMAIL = "13812345678", "zhang.wei@example.org"
# Every GeoReport v2 request field; contact fields (email, first_name, phone, ...) are not among them.
FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
          "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
          "address", "lat", "long", "media_url"}
CONTACT = {"email", "first_name", "last_name", "phone", "device_id", "account_id"}


def _raw_row(seed: Seed) -> None:
    """A citizen observation stored without masking (as rows from before masking were)."""
    seed.db.execute(
        "INSERT INTO observations (ts, observation_id, source, text, lat, lon, district, extra) VALUES"
        " (now(), 'citizen-raw', 'citizen', %s, %s, %s, 'futian', %s)",
        (f"积水很深 call {PHONE} or {EMAIL}", LAT, LON,
         '{"service_code": "flood", "address_string": "福田区福华三路88号3栋", "media_url": "https://x.example/p.jpg"}'))


def _assert_public(req: dict[str, Any]) -> None:
    assert set(req) <= FIELDS and not CONTACT & set(req)
    assert PHONE not in str(req) and EMAIL not in str(req)
    assert req["lat"] == round(LAT, PUBLIC_DECIMALS) and req["long"] == round(LON, PUBLIC_DECIMALS)
    assert req["media_url"] is None and "88号" not in str(req["address"])


def test_public_list_is_privacy_safe_and_a_token_sees_all(client: TestClient, seed: Seed,
                                                          tokens: dict[str, str]) -> None:
    _raw_row(seed)
    (pub,) = client.get(R).json()
    _assert_public(pub)
    assert "[phone#" in pub["description"] and "[email#" in pub["description"] and "积水很深" in pub["description"]
    assert pub["address"] == "futian" and pub["service_code"] == "flood" and pub["status"] == "open"
    for full in (client.get(R, headers=bearer(tokens["operator"])).json()[0],
                 client.get(R, params={"api_key": tokens["operator"]}).json()[0]):
        assert (full["lat"], full["long"], full["media_url"]) == (LAT, LON, "https://x.example/p.jpg")
        assert full["address"] == "福田区福华三路88号3栋"
    # A presented token must be valid: refused, not quietly downgraded to the public view.
    assert client.get(R, params={"api_key": tokens["wrong"]}).status_code == 401
    assert client.get(R, headers=bearer(tokens["expired"])).status_code == 401


def test_request_by_id(client: TestClient, seed: Seed, tokens: dict[str, str]) -> None:
    _raw_row(seed)
    res = client.get("/open311/v2/requests/citizen-raw.json")
    assert res.status_code == 200, res.text
    (pub,) = res.json()
    _assert_public(pub)
    assert pub["service_request_id"] == "citizen-raw"
    (full,) = client.get("/open311/v2/requests/citizen-raw.json", headers=bearer(tokens["manager"])).json()
    assert (full["lat"], full["long"]) == (LAT, LON)
    missing = client.get("/open311/v2/requests/citizen-nope.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404
    assert client.get("/open311/v2/requests/citizen-raw.json", params={"api_key": "nope"}).status_code == 401
    # ids override the other filters (and the 90-day window): a closed-only query still finds it
    got = client.get(R, params={"service_request_id": "citizen-raw", "status": "closed"}).json()
    assert [r["service_request_id"] for r in got] == ["citizen-raw"]


def test_service_definition(client: TestClient) -> None:
    assert client.get("/open311/v2/services/flood.json").json() == {"service_code": "flood", "attributes": []}
    res = client.get("/open311/v2/services/ufo.json")
    assert res.status_code == 404 and res.json()[0]["code"] == 404


def test_post_still_needs_a_key(client: TestClient) -> None:
    res = client.post(R, data={"service_code": "flood", "description": "water", "lat": "22.5", "long": "114"})
    assert res.status_code == 401


def test_georeport_client_reads_a_posted_request_without_a_key(
        live_server: LiveServer, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEOREPORT_API_KEY", raising=False)  # the client would pick a key up from here
    root = f"{live_server.url}/open311/v2"
    text = f"我叫张伟，电话{PHONE}，垃圾堆在路边很多天了"
    posted = requests.post(f"{root}/requests.json", timeout=10, data={
        "api_key": tokens["operator"], "service_code": "sanitation", "description": text,
        "lat": str(LAT), "long": str(LON), "email": EMAIL, "first_name": "Wei", "phone": PHONE})
    assert posted.status_code == 201, posted.text
    rid = posted.json()[0]["service_request_id"]

    client = GeoReport(root)
    assert client.api_key is None
    codes = {s["service_code"] for s in client.get_service_list()}
    assert "sanitation" in codes and len(codes) == 10
    assert client.get_service_definition("sanitation") == {"service_code": "sanitation", "attributes": []}
    one = client.get_service_request(rid)
    assert one["service_request_id"] == rid and one["service_code"] == "sanitation" and one["status"] == "open"
    assert one["status_notes"] == "awaiting triage"
    assert "张伟" not in one["description"] and PHONE not in one["description"]
    assert "[name#" in one["description"] and "[phone#" in one["description"]
    assert (one["lat"], one["long"]) == (round(LAT, PUBLIC_DECIMALS), round(LON, PUBLIC_DECIMALS))
    assert not CONTACT & set(one) and EMAIL not in str(one) and "Wei" not in str(one)
    listed = client.get_service_requests(service_request_id=rid)
    assert listed == [one]
    assert rid in {r["service_request_id"] for r in client.get_service_requests(service_code="sanitation",
                                                                               status="open")}
    # An unknown id is an HTTP error the client raises, as it does for any GeoReport server.
    with pytest.raises(requests.HTTPError):
        client.get_service_request("citizen-0000000000000000")
