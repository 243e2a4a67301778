"""API rate limiting: token buckets per bearer token or address, 429 with Retry-After, and
a failure budget per address that throttles token guessing but not good tokens."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.api.ratelimit import RateLimit, TokenBuckets
from gateway.security.auth import Role, new_secret
from tests.api.conftest import Db, bearer
from tests.hardening.openapi_calls import build_app


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_refills_at_its_rate_and_reports_the_wait() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate_per_s=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token comes back in 1/rate seconds
    assert buckets.take("b") == 0.0  # buckets are per key
    clock.now += 0.5
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0
    clock.now += 100
    assert [buckets.take("a") for _ in range(4)].count(0.0) == 3  # never above the burst


def test_bucket_memory_is_bounded() -> None:
    buckets = TokenBuckets(rate_per_s=1.0, burst=1, max_keys=100)
    for i in range(1000):
        buckets.take(f"k{i}")
    assert len(buckets) == 100


@pytest.fixture()
def limited(db_url: str) -> TestClient:
    app = build_app(db_url, api_rate_per_s=0.01, api_rate_burst=5, api_auth_fail_burst=3)
    return TestClient(app)


def test_api_answers_429_with_retry_after_per_token(limited: TestClient, db_url: str) -> None:
    db = Db(db_url)
    busy = db.token(Role.OPERATOR, name="busy")[1]
    calm = db.token(Role.OPERATOR, name="calm")[1]
    with limited as client:
        codes = [client.get("/api/v1/tokens/me", headers=bearer(busy)).status_code for _ in range(7)]
        assert codes == [200] * 5 + [429] * 2
        res = client.get("/api/v1/devices", headers=bearer(busy))
        assert res.status_code == 429 and int(res.headers["retry-after"]) >= 1
        assert "rate limit" in res.json()["detail"]
        assert client.get("/api/v1/tokens/me", headers=bearer(calm)).status_code == 200  # its own bucket
        assert all(client.get("/healthz").status_code == 200 for _ in range(20))  # probes are exempt
        limiter = _limiter(client)
        assert limiter.limited == 3


def test_guessing_tokens_is_throttled_but_good_tokens_still_work(limited: TestClient, db_url: str) -> None:
    good = Db(db_url).token(Role.OPERATOR, name="good")[1]
    with limited as client:
        assert client.get("/api/v1/tokens/me", headers=bearer(good)).status_code == 200
        guesses = [client.get("/api/v1/tokens/me", headers=bearer(new_secret())).status_code for _ in range(6)]
        assert guesses == [401, 401, 401, 429, 429, 429]  # a fresh random token each time
        assert client.get("/api/v1/tokens/me", headers=bearer(good)).status_code == 200
        # The same budget covers keys in the query string (GeoReport v2 api_key, the SSE feed's token).
        assert client.get(f"/open311/v2/requests.json?api_key={new_secret()}").status_code == 429
        assert client.get(f"/open311/v2/requests.json?api_key={good}").status_code == 200


def _limiter(client: TestClient) -> RateLimit:
    stack = client.app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(stack, RateLimit):
        stack = stack.app
    return stack
