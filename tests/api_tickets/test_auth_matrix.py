"""Every endpoint this package adds, against no token, bad tokens and each role."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.security.auth import Role
from tests.api.conftest import Endpoint, bearer
from tests.api_tickets.conftest import EVIDENCE_REL, Seed

T = "/api/v1/tickets/tkt-inc-0001"
ENDPOINTS = [
    Endpoint("GET", "/api/v1/incidents", Role.OPERATOR),
    Endpoint("GET", "/api/v1/incidents/inc-0001", Role.OPERATOR),
    Endpoint("GET", f"/api/v1/evidence/{EVIDENCE_REL}", Role.OPERATOR),
    Endpoint("GET", "/api/v1/incidents.geojson", Role.OPERATOR),
    Endpoint("GET", "/api/v1/alerts.atom", Role.OPERATOR),
    Endpoint("GET", "/api/v1/map/layers.geojson", Role.OPERATOR),
    Endpoint("GET", "/api/v1/tickets", Role.OPERATOR),
    Endpoint("GET", T, Role.OPERATOR),
    Endpoint("GET", T + "/cap", Role.OPERATOR),
    Endpoint("GET", T + "/alert", Role.OPERATOR),
    Endpoint("GET", "/ngsi-ld/v1/entities?type=Alert", Role.OPERATOR),
    Endpoint("GET", T + "/tasks", Role.OPERATOR),
    Endpoint("POST", T + "/dispatch", Role.MANAGER, 409),  # the seeded ticket is a fire: no robot for it
    Endpoint("POST", T + "/ack", Role.MANAGER),
    Endpoint("POST", T + "/assign", Role.MANAGER, json={"assignee": "engine 21"}),
    Endpoint("POST", T + "/resolve", Role.MANAGER),
    Endpoint("POST", T + "/reopen", Role.MANAGER, 409),  # the seeded ticket is open: allowed, but a conflict
    Endpoint("POST", T + "/note", Role.MANAGER, json={"note": "on scene"}),
    Endpoint("POST", T + "/override", Role.MANAGER, json={"severity": "critical", "reason": "school"}),
    Endpoint("POST", "/open311/v2/requests.json", Role.OPERATOR, 201,
             json={"service_code": "sanitation", "description": "rubbish", "lat": 22.54, "long": 114.05}),
]
# GeoReport v2 GETs: public, a token only widens the view (tests/gateway/test_open311_public.py).
PUBLIC = [("GET", "/open311/v2/requests.json"), ("GET", "/open311/v2/requests/{service_request_id}.json")]


def _call(client: TestClient, ep: Endpoint, secret: str | None) -> Any:
    headers = bearer(secret) if secret is not None else {}
    return client.request(ep.method, ep.path, headers=headers, json=ep.json)


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_endpoint_auth_matrix(ep: Endpoint, client: TestClient, seed: Seed, tokens: dict[str, str]) -> None:
    res = _call(client, ep, None)
    assert res.status_code == 401, res.text
    assert "missing" in res.json()["detail"]
    assert res.headers["www-authenticate"].startswith("Bearer")
    for bad in ("wrong", "expired", "revoked"):
        res = _call(client, ep, tokens[bad])
        assert res.status_code == 401, (bad, res.text)
    for role in Role:
        seed.db.execute("DELETE FROM ticket_history; DELETE FROM tickets; DELETE FROM observations;"
                        " DELETE FROM incidents")
        seed.incident()
        res = _call(client, ep, tokens[role.value])
        expected = ep.ok if role.allows(ep.least) else 403
        assert res.status_code == expected, (role, res.text)
        if expected == 403:
            assert "needs role" in res.json()["detail"]


def test_feed_and_services_auth(client: TestClient, tokens: dict[str, str]) -> None:
    # The feed streams forever, so only the refusals are checked here (test_feed streams it).
    assert client.get("/api/v1/feed").status_code == 401
    assert client.get("/api/v1/feed", params={"token": tokens["wrong"]}).status_code == 401
    assert client.get("/api/v1/feed", headers=bearer(tokens["revoked"])).status_code == 401
    # The Open311 service catalogue is public, as GeoReport v2 clients expect.
    assert client.get("/open311/v2/services.json").status_code == 200
    # Reading requests is public too; api_key works where a GeoReport client cannot send a header,
    # and a presented token must be valid (a wrong one is refused, not read as "no token").
    assert client.get("/open311/v2/requests.json").status_code == 200
    assert client.get("/open311/v2/requests.json", params={"api_key": tokens["operator"]}).status_code == 200
    assert client.get("/open311/v2/requests.json", params={"api_key": tokens["wrong"]}).status_code == 401
    assert client.get("/open311/v2/requests.json", headers=bearer(tokens["revoked"])).status_code == 401


def test_every_new_route_is_in_the_matrix(client: TestClient) -> None:
    # tests/api/test_auth.py covers the older routes; every route this package adds is here.
    tested = {(e.method, e.path) for e in ENDPOINTS} | set(PUBLIC)
    mine = ("/api/v1/incidents", "/api/v1/tickets", "/api/v1/evidence", "/api/v1/alerts", "/api/v1/map",
            "/open311/v2/requests")
    for path, item in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        if not path.startswith(mine):
            continue
        for method in item:
            concrete = (path.replace("{incident_id}", "inc-0001").replace("{ticket_id}", "tkt-inc-0001")
                        .replace("{path}", EVIDENCE_REL))
            assert (method.upper(), concrete) in tested, (method, path)
