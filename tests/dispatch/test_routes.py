"""One-click approval and the webhook admin API (router mounted here until app.py includes it),
the dispatcher sending an approved proposal, and webhook retries against a mock transport."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from devices.payloads import Command
from gateway.api import create_app, routes_dispatch
from gateway.dispatch import DispatchConfig
from gateway.dispatch.dispatcher import Dispatcher
from gateway.webhooks import WebhookConfig, WebhookService
from gateway.webhooks.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify
from tests.api.conftest import Db, bearer, make_settings
from tests.api.conftest import db as db
from tests.api.conftest import tokens as tokens
from tests.api_tickets.conftest import Seed
from tests.api_tickets.conftest import seed as seed

SECRET = "a-long-enough-secret-123"


@pytest.fixture()
def client(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(make_settings(database_url=db_url, data_dir=tmp_path))
    app.include_router(routes_dispatch.router)
    with TestClient(app) as c:
        yield c


def test_manager_approves_and_dispatcher_sends(client: TestClient, db: Db, seed: Seed, db_url: str,
                                               tokens: dict[str, str]) -> None:
    ticket = seed.incident("inc-s1", category="sanitation", agency="urban_management", severity="low")
    db.device("robot-01", kind="robot", lat=22.5380, lon=114.0560)
    db.device("drone-01", kind="drone", lat=22.5375, lon=114.0560)  # nearer, but cannot clean
    url = f"/api/v1/tickets/{ticket}/dispatch"
    assert client.post(url, headers=bearer(tokens["operator"])).status_code == 403
    assert client.post(url).status_code == 401
    r = client.post(url, headers=bearer(tokens["manager"]))
    assert r.status_code == 202, r.text
    task = r.json()
    assert task["status"] == "proposed" and task["approved_by"] == "mgr" and task["device_id"] is None
    assert client.post("/api/v1/tickets/nope/dispatch", headers=bearer(tokens["manager"])).status_code == 404
    fire = seed.incident("inc-f1")
    assert client.post(f"/api/v1/tickets/{fire}/dispatch", headers=bearer(tokens["manager"])).status_code == 409

    with psycopg.connect(db_url) as conn:
        d = Dispatcher(conn, DispatchConfig())
        with conn.transaction():
            d.send_approved(datetime.now(UTC))
    [(topic, payload)] = d.outbox
    assert topic == "city/futian/robot/robot-01/cmd"
    cmd = Command.model_validate_json(payload)
    assert cmd.msg_id == task["task_id"] and cmd.action.value == "clean" and cmd.ticket_id == ticket
    tasks = client.get(f"/api/v1/tickets/{ticket}/tasks", headers=bearer(tokens["operator"])).json()
    assert [(t["status"], t["device_id"], t["attempts"]) for t in tasks] == [("sent", "robot-01", 1)]
    status, assigned = db.execute("SELECT status, assigned_to FROM tickets WHERE ticket_id = %s", (ticket,))[0]
    assert (status, assigned) == ("assigned", "robot-01")
    actions = [r[0] for r in db.execute("SELECT action FROM ticket_history WHERE ticket_id = %s ORDER BY id",
                                        (ticket,))]
    assert actions == ["created", "dispatch_approved", "dispatch_sent"]
    # A second approval while the robot is on it is refused; the robot never gets two tasks.
    assert client.post(url, headers=bearer(tokens["manager"])).status_code == 409


def test_webhook_admin_api_and_retries(client: TestClient, seed: Seed, db_url: str,
                                       tokens: dict[str, str]) -> None:
    body = {"agency": "fire_rescue", "url": "http://agency.example/hook", "secret": SECRET}
    assert client.post("/api/v1/webhooks", json=body, headers=bearer(tokens["manager"])).status_code == 403
    r = client.post("/api/v1/webhooks", json=body, headers=bearer(tokens["admin"]))
    assert r.status_code == 201 and "secret" not in r.json()
    assert client.post("/api/v1/webhooks", json={**body, "agency": "nobody"},
                       headers=bearer(tokens["admin"])).status_code == 422
    ticket = seed.incident("inc-w1")  # fire_rescue, created after the subscription

    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500 if len(seen) <= 2 else 204)

    cfg = WebhookConfig(backoff_base_s=0.0, backoff_cap_s=0.0, max_attempts=5)
    svc = WebhookService(db_url, cfg, transport=httpx.MockTransport(answer))
    try:
        for _ in range(5):
            svc.run_once()
    finally:
        svc.stop()
    assert len(seen) == 3  # 500, 500, then delivered once; later passes send nothing
    assert len({r.headers[IDEMPOTENCY_HEADER] for r in seen}) == 1
    assert all(verify(SECRET, r.content, r.headers[SIGNATURE_HEADER]) for r in seen)
    log = client.get("/api/v1/webhooks/deliveries", headers=bearer(tokens["admin"])).json()
    assert [(d["ticket_id"], d["event"], d["status"], d["attempts"]) for d in log] == [
        (ticket, "created", "delivered", 3)]
    assert client.get("/api/v1/webhooks/deliveries", headers=bearer(tokens["operator"])).status_code == 403
    assert client.post(f"/api/v1/webhooks/deliveries/{log[0]['id']}/retry",
                       headers=bearer(tokens["admin"])).status_code == 404  # only failed ones


def test_undeliverable_webhook_ends_failed_and_can_be_retried(client: TestClient, seed: Seed, db_url: str,
                                                              tokens: dict[str, str]) -> None:
    client.post("/api/v1/webhooks", json={"agency": "fire_rescue", "url": "http://down.example/h", "secret": SECRET},
                headers=bearer(tokens["admin"]))
    seed.incident("inc-w2")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    svc = WebhookService(db_url, WebhookConfig(backoff_base_s=0.0, backoff_cap_s=0.0, max_attempts=3),
                         transport=httpx.MockTransport(down))
    try:
        for _ in range(5):
            svc.run_once()
    finally:
        svc.stop()
    [d] = client.get("/api/v1/webhooks/deliveries?status=failed", headers=bearer(tokens["admin"])).json()
    assert d["attempts"] == 3 and "ConnectError" in d["last_error"]
    r = client.post(f"/api/v1/webhooks/deliveries/{d['id']}/retry", headers=bearer(tokens["admin"]))
    assert r.status_code == 200 and r.json()["status"] == "pending"
