"""Every operation in the API's OpenAPI document, called with no token, a wrong, an expired
and a revoked token, and with each role: 401, 403 or an answer as the role model says,
and never a 5xx."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.api import create_app
from gateway.security.auth import Role, new_secret
from tests.api.conftest import Db, bearer, make_settings
from tests.hardening.openapi_calls import OPTIONAL_AUTH, api_routes, build_app, operation_calls, required_role

# What a caller with enough rights may get; 400 is the NGSI-LD view's answer to a query without
# type or id (its errors are NGSI-LD problem documents, not FastAPI's 422).
ALLOWED = {200, 201, 202, 204, 400, 404, 409, 422}


@pytest.fixture()
def walk_client(db_url: str) -> Iterator[TestClient]:
    big = {"api_rate_per_s": 1000.0, "api_rate_burst": 100_000, "api_auth_fail_burst": 100_000}
    with TestClient(build_app(db_url, **big)) as c:
        yield c


def test_every_route_against_every_credential(walk_client: TestClient, db_url: str) -> None:
    db = Db(db_url)
    db.device("aq-0001")
    victim, _ = db.token(Role.OPERATOR, name="victim")
    past = datetime.now(UTC) - timedelta(minutes=1)
    creds: dict[str, str | None] = {
        "none": None, "wrong": new_secret(), "garbage": "x" * 5000,
        "expired": db.token(Role.ADMIN, name="old", expires_at=past)[1],
        "revoked": db.token(Role.ADMIN, name="gone", revoked=True)[1],
        **{r.value: db.token(r, name=r.value)[1] for r in Role},
    }
    app = walk_client.app
    assert isinstance(app, FastAPI)
    calls = operation_calls(app, {"device_id": "aq-0001", "token_id": victim})
    # Nothing under /api escapes the walk: every route there is in OpenAPI and needs a role.
    under_api = {(r.method, r.path) for r in api_routes(app) if r.path.startswith("/api/")}
    assert under_api and under_api <= {(c.method, c.template) for c in calls}
    unprotected = [c.template for c in calls if c.template.startswith("/api/") and c.least is None]
    assert unprotected == []
    seen: Counter[str] = Counter()
    for call in calls:
        for name, secret in creds.items():
            role = Role(name) if name in Role.__members__.values() else None
            allowed = call.least is None or (role is not None and role.allows(call.least))
            if allowed and call.streams:
                continue  # an endless stream; its refusals are what this test is about
            res = walk_client.request(call.method, call.url, headers=bearer(secret) if secret else {},
                                      json=call.body, data=call.form)
            where = f"{call.method} {call.url} as {name}: {res.status_code} {res.text[:200]}"
            assert res.status_code < 500, where
            if (call.method, call.template) in OPTIONAL_AUTH:
                # 404: the example id of a lookup names no request
                ok = {401} if secret and role is None else {200, 404} if "{" in call.template else {200}
                assert res.status_code in ok, where
            elif call.least is None:
                assert 200 <= res.status_code < 300, where
            elif role is None:
                assert res.status_code == 401, where
                assert res.headers["www-authenticate"].startswith("Bearer"), where
            elif not allowed:
                assert res.status_code == 403, where
            else:
                assert res.status_code in ALLOWED, where
            seen[str(res.status_code)] += 1
    print(f"\nroute walk: {len(calls)} operations x {len(creds)} credentials -> {dict(sorted(seen.items()))}")
    assert seen["401"] and seen["403"] and seen["200"]


def test_required_roles_match_the_documented_model() -> None:
    app = create_app(make_settings())
    roles = {(r.method, r.path): required_role(r) for r in api_routes(app)}
    assert roles[("GET", "/healthz")] is None and roles[("GET", "/metrics")] is None
    assert roles[("GET", "/api/v1/devices")] is Role.OPERATOR
    assert roles[("POST", "/api/v1/tokens")] is Role.ADMIN
    assert roles[("DELETE", "/api/v1/tokens/{token_id}")] is Role.ADMIN
