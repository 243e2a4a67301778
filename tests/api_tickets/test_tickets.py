"""The ticket queue, state transitions, history (who and when), notes and overrides."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from tests.api.conftest import bearer
from tests.api_tickets.conftest import Seed

T = "/api/v1/tickets/tkt-inc-0001"


def test_queue_sorted_by_severity_then_sla_overdue_flagged(
        client: TestClient, seed: Seed, tokens: dict[str, str]) -> None:
    seed.incident("inc-a", severity="medium", sla_in=timedelta(minutes=5))
    seed.incident("inc-b", severity="critical", sla_in=timedelta(hours=2))
    seed.incident("inc-c", severity="critical", sla_in=timedelta(minutes=-10))  # overdue
    seed.incident("inc-d", severity="low", sla_in=timedelta(minutes=1), status="resolved")
    seed.incident("inc-e", category="flood", severity="high", agency="water_affairs")
    op = bearer(tokens["operator"])
    items = client.get("/api/v1/tickets", headers=op).json()["items"]
    assert [t["incident_id"] for t in items] == ["inc-c", "inc-b", "inc-e", "inc-a"]  # resolved left out
    assert [t["overdue"] for t in items] == [True, False, False, False]
    everything = client.get("/api/v1/tickets", params={"status": "all"}, headers=op).json()["items"]
    assert len(everything) == 5
    got = client.get("/api/v1/tickets", params={"agency": "water_affairs"}, headers=op).json()["items"]
    assert [t["incident_id"] for t in got] == ["inc-e"]
    got = client.get("/api/v1/tickets", params={"status": "resolved"}, headers=op).json()["items"]
    assert [t["incident_id"] for t in got] == ["inc-d"] and not got[0]["overdue"]
    # keyset pages of 2 give the same order
    page = client.get("/api/v1/tickets", params={"limit": 2}, headers=op).json()
    rest = client.get("/api/v1/tickets", params={"limit": 2, "cursor": page["next_cursor"]}, headers=op).json()
    assert [t["incident_id"] for t in page["items"] + rest["items"]] == ["inc-c", "inc-b", "inc-e", "inc-a"]
    bad = client.get("/api/v1/tickets", params={"cursor": "nope"}, headers=op)
    assert bad.status_code == 422
    assert client.get("/api/v1/tickets", params={"severity": "bogus"}, headers=op).status_code == 422


def test_lifecycle_records_who_and_when(client: TestClient, seed: Seed, tokens: dict[str, str]) -> None:
    seed.incident()
    mgr = bearer(tokens["manager"])
    before = datetime.now(UTC)
    res = client.post(T + "/ack", headers=mgr, json={"note": "seen"})
    assert res.status_code == 200, res.text
    t = res.json()
    assert t["status"] == "acknowledged" and t["acknowledged_by"] == "mgr" and t["body"]["status"] == "acknowledged"
    assert before <= datetime.fromisoformat(t["acknowledged_at"]) <= datetime.now(UTC)
    assert client.post(T + "/ack", headers=mgr).status_code == 409  # already acknowledged
    assert client.post(T + "/assign", headers=mgr, json={}).status_code == 422  # no assignee
    t = client.post(T + "/assign", headers=mgr, json={"assignee": "Futian fire station 2"}).json()
    assert t["status"] == "assigned" and t["assigned_to"] == "Futian fire station 2"
    t = client.post(T + "/note", headers=mgr, json={"note": "engine 21 on scene"}).json()
    assert t["status"] == "assigned"
    t = client.post(T + "/resolve", headers=mgr, json={"note": "extinguished"}).json()
    assert t["status"] == "resolved" and t["resolved_by"] == "mgr" and t["resolved_at"]
    res = client.post(T + "/resolve", headers=mgr)
    assert res.status_code == 409 and "resolved" in res.json()["detail"]
    assert client.post(T + "/assign", headers=mgr, json={"assignee": "x"}).status_code == 409
    t = client.post(T + "/reopen", headers=mgr).json()
    assert t["status"] == "open" and t["resolved_at"] is None
    assert client.post(T + "/reopen", headers=mgr).status_code == 409
    history = t["history"]
    assert [h["action"] for h in history] == ["created", "ack", "assign", "note", "resolve", "reopen"]
    assert all(h["actor"] == "mgr" for h in history[1:])
    assert history[1]["details"] == {"from": "open", "to": "acknowledged", "note": "seen"}
    assert history[2]["details"]["assignee"] == "Futian fire station 2"
    assert history[3]["details"] == {"note": "engine 21 on scene"}
    stamps = [datetime.fromisoformat(h["ts"]) for h in history[1:]]
    assert stamps == sorted(stamps) and stamps[0] >= before
    # the operator may read all of it but change nothing
    op = bearer(tokens["operator"])
    assert client.get(T, headers=op).json()["history"] == history
    assert client.post(T + "/ack", headers=op).status_code == 403


def test_unknown_ticket_and_bad_bodies(client: TestClient, seed: Seed, tokens: dict[str, str]) -> None:
    seed.incident()
    mgr = bearer(tokens["manager"])
    assert client.get("/api/v1/tickets/nope", headers=mgr).status_code == 404
    assert client.post("/api/v1/tickets/nope/ack", headers=mgr).status_code == 404
    assert client.post("/api/v1/tickets/nope/note", headers=mgr, json={"note": "x"}).status_code == 404
    assert client.post(T + "/note", headers=mgr, json={"note": "   "}).status_code == 422
    assert client.post(T + "/ack", headers=mgr, json={"surprise": 1}).status_code == 422
    assert client.post(T + "/override", headers=mgr, json={"reason": "nothing to change"}).status_code == 422
    assert client.post(T + "/override", headers=mgr, json={"severity": "huge", "reason": "x"}).status_code == 422


def test_override_applies_to_body_and_history(client: TestClient, seed: Seed, tokens: dict[str, str]) -> None:
    seed.incident()
    mgr = bearer(tokens["manager"])
    res = client.post(T + "/override", headers=mgr,
                      json={"severity": "critical", "agency": "emergency_management", "reason": "school next door"})
    assert res.status_code == 200, res.text
    out = res.json()
    assert out["changes"] == {"severity": ["high", "critical"], "agency": ["fire_rescue", "emergency_management"]}
    t = out["ticket"]
    assert t["severity"] == "critical" and t["agency"] == "emergency_management" and t["category"] == "fire"
    assert t["body"]["severity"] == "critical" and t["body"]["agency"] == "emergency_management"
    assert t["overrides"] == {"severity": "critical", "agency": "emergency_management"}
    last = t["history"][-1]
    assert last["action"] == "override" and last["actor"] == "mgr"
    assert last["details"]["reason"] == "school next door"


def test_actions_notify_the_feed_channel(client: TestClient, seed: Seed, tokens: dict[str, str],
                                         db_url: str) -> None:
    seed.incident()
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN urbanops_feed")
        assert client.post(T + "/ack", headers=bearer(tokens["manager"])).status_code == 200
        notes = list(listener.notifies(timeout=2.0, stop_after=1))
    assert len(notes) == 1
    doc = json.loads(notes[0].payload)
    assert doc["type"] == "ticket" and doc["id"] == "tkt-inc-0001"
    assert doc["data"]["status"] == "acknowledged" and doc["data"]["actor"] == "mgr"
    assert doc["data"]["district"] == "futian" and doc["data"]["severity"] == "high"
    assert datetime.fromisoformat(doc["ts"]).tzinfo is not None
