"""``/healthz`` and ``/metrics``, including a database that cannot be reached."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter

from gateway.api import create_app
from gateway.local_services import free_port
from tests.api.conftest import bearer, make_settings
from tests.api.test_auth import ENDPOINTS


def test_healthz_ok(client: TestClient) -> None:
    res = client.get("/healthz")
    assert res.status_code == 200
    assert res.json() == {"status": "ok", "components": {"database": "ok"}}


def test_healthz_reports_components(db_url: str) -> None:
    states = {"ingest": "ok"}
    app = create_app(make_settings(database_url=db_url), health=lambda: dict(states))
    with TestClient(app) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        states["ingest"] = "degraded"
        body = client.get("/healthz").json()
        assert body == {"status": "degraded",
                        "components": {"database": "ok", "ingest": "degraded"}}

    def broken() -> dict[str, str]:
        raise RuntimeError("probe crashed")

    with TestClient(create_app(make_settings(database_url=db_url),
                               health=broken)) as client:
        res = client.get("/healthz")
        assert res.status_code == 200 and res.json()["status"] == "degraded"


def test_database_down() -> None:
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/nothing?connect_timeout=1"
    with TestClient(create_app(make_settings(database_url=url))) as client:
        res = client.get("/healthz")  # the app starts anyway and says why it is degraded
        assert res.status_code == 200
        assert res.json() == {"status": "degraded", "components": {"database": "down"}}
        res = client.get("/api/v1/devices", headers=bearer("uo_whatever"))
        assert res.status_code == 503 and res.headers["Retry-After"] == "5"
        # no token is refused at once, before waiting for a database connection
        for ep in ENDPOINTS:
            res = client.request(ep.method, ep.path.format(victim=1), json=ep.json)
            assert res.status_code == 401, (ep, res.text)


def test_metrics_renders_given_registry(db_url: str) -> None:
    registry = CollectorRegistry()
    ingested = Counter("urbanops_ingest_messages", "test counter", registry=registry)
    ingested.inc(42)
    app = create_app(make_settings(database_url=db_url), registry=registry)
    with TestClient(app) as client:
        client.get("/healthz")
        client.get("/api/v1/devices/aq-1")  # 401, counted under its route template
        res = client.get("/metrics")
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/plain")
    text = res.text
    assert "urbanops_ingest_messages_total 42.0" in text
    assert 'urbanops_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert ('urbanops_http_requests_total{method="GET",route="/api/v1/devices/{device_id}",'
            'status="401"} 1.0') in text
    assert "urbanops_http_request_duration_seconds_bucket" in text
