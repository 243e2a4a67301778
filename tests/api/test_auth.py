"""Every API endpoint against no token, bad tokens and each role."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from gateway.security.auth import (
    ExpiredToken,
    InvalidToken,
    RevokedToken,
    Role,
    create_token,
    revoke_token,
    verify_token,
)
from tests.api.conftest import Db, Endpoint, bearer

ENDPOINTS = [
    Endpoint("GET", "/api/v1/devices", Role.OPERATOR),
    Endpoint("GET", "/api/v1/devices/aq-0001", Role.OPERATOR),
    Endpoint("GET", "/api/v1/devices/aq-0001/telemetry?metric=pm25", Role.OPERATOR),
    Endpoint("GET", "/api/v1/dead-letters", Role.OPERATOR),
    Endpoint("GET", "/api/v1/tokens/me", Role.OPERATOR),
    Endpoint("GET", "/api/v1/tokens", Role.ADMIN),
    Endpoint("POST", "/api/v1/tokens", Role.ADMIN, 201, {"name": "new", "role": "operator"}),
    Endpoint("DELETE", "/api/v1/tokens/{victim}", Role.ADMIN),
    Endpoint("GET", "/api/v1/webhooks", Role.ADMIN),
    Endpoint("POST", "/api/v1/webhooks", Role.ADMIN, 201,
             {"agency": "fire_rescue", "url": "http://a.example/h", "secret": "0123456789abcdef"}),
    Endpoint("GET", "/api/v1/webhooks/deliveries", Role.ADMIN),
    Endpoint("POST", "/api/v1/webhooks/deliveries/1/retry", Role.ADMIN, 404),
    Endpoint("GET", "/api/v1/city", Role.OPERATOR),
    Endpoint("GET", "/api/v1/city/plans/fire?lang=en", Role.OPERATOR),
    Endpoint("POST", "/api/v1/admin/city/reload", Role.ADMIN),
]


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_endpoint_auth_matrix(
    ep: Endpoint, client: TestClient, db: Db, tokens: dict[str, str]
) -> None:
    db.device("aq-0001")
    victim, _ = db.token(Role.OPERATOR, name="victim")
    path = ep.path.format(victim=victim)

    def call(secret: str | None) -> Any:
        headers = bearer(secret) if secret is not None else {}
        return client.request(ep.method, path, headers=headers, json=ep.json)

    res = call(None)
    assert res.status_code == 401, res.text
    assert res.headers["WWW-Authenticate"].startswith("Bearer")
    assert "missing bearer token" in res.json()["detail"]

    for case, needle in [("wrong", "unknown"), ("expired", "expired"), ("revoked", "revoked")]:
        res = call(tokens[case])
        assert res.status_code == 401, (case, res.text)
        assert 'error="invalid_token"' in res.headers["WWW-Authenticate"], case
        assert needle in res.json()["detail"], case

    res = client.request(ep.method, path, headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert res.status_code == 401, "a non-bearer scheme is no token"

    for role in Role:
        res = call(tokens[role.value])
        if role.allows(ep.least):
            assert res.status_code == ep.ok, (role, res.text)
        else:
            assert res.status_code == 403, (role, res.text)
            assert f"needs role {ep.least.value}" in res.json()["detail"]
            assert f"has role {role.value}" in res.json()["detail"]


def test_every_api_route_is_in_the_matrix(client: TestClient) -> None:
    # A new route must be added to ENDPOINTS above (and so get its auth tested).
    tested = {(e.method, e.path.split("?")[0]) for e in ENDPOINTS}
    # Incident, ticket, alert, map and feed routes have their own matrix in tests/api_tickets.
    elsewhere = ("/api/v1/incidents", "/api/v1/tickets", "/api/v1/evidence", "/api/v1/alerts",
                 "/api/v1/map", "/api/v1/feed")
    for path, item in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        if not path.startswith("/api/") or path.startswith(elsewhere):
            continue
        for method in item:
            concrete = (path.replace("{device_id}", "aq-0001").replace("{token_id}", "{victim}")
                        .replace("{delivery_id}", "1").replace("{plan_id}", "fire"))
            assert (method.upper(), concrete) in tested, (method, path)


def test_role_order() -> None:
    assert Role.ADMIN.allows(Role.MANAGER) and Role.MANAGER.allows(Role.OPERATOR)
    assert not Role.OPERATOR.allows(Role.MANAGER) and not Role.MANAGER.allows(Role.ADMIN)


def test_public_endpoints_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/").status_code == 200


def test_token_functions(db_url: str) -> None:
    async def scenario() -> None:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            t0 = datetime.now(UTC)
            issued = await create_token(
                conn, name=" console ", role=Role.MANAGER, expires_at=t0 + timedelta(hours=1)
            )
            assert issued.secret.startswith("uo_") and len(issued.secret) > 40
            assert issued.token.name == "console" and issued.token.last_used_at is None
            row = await (await conn.execute(
                "SELECT token_hash FROM api_tokens WHERE id = %s", (issued.token.id,)
            )).fetchone()
            assert row is not None and issued.secret not in row[0] and len(row[0]) == 64

            seen = await verify_token(conn, issued.secret, now=t0)
            assert seen.id == issued.token.id and seen.role is Role.MANAGER
            # last_used_at is written, then left alone within a minute.
            again = await verify_token(conn, issued.secret, now=t0 + timedelta(seconds=10))
            assert again.last_used_at == t0
            later = await verify_token(conn, issued.secret, now=t0 + timedelta(minutes=2))
            assert later.last_used_at == t0
            final = await verify_token(conn, issued.secret, now=t0 + timedelta(minutes=3))
            assert final.last_used_at == t0 + timedelta(minutes=2)

            with pytest.raises(ExpiredToken):
                await verify_token(conn, issued.secret, now=t0 + timedelta(hours=2))
            with pytest.raises(InvalidToken):
                await verify_token(conn, issued.secret + "x")
            with pytest.raises(InvalidToken):
                await verify_token(conn, "not-even-our-format")

            first = await revoke_token(conn, issued.token.id, now=t0)
            second = await revoke_token(conn, issued.token.id, now=t0 + timedelta(hours=1))
            assert first.revoked_at == second.revoked_at == t0
            with pytest.raises(RevokedToken):
                await verify_token(conn, issued.secret, now=t0)
            with pytest.raises(ValueError):
                await create_token(conn, name="x", role=Role.OPERATOR, expires_at=t0)
            with pytest.raises(ValueError):
                await create_token(conn, name="  ", role=Role.OPERATOR)

    asyncio.run(scenario())
