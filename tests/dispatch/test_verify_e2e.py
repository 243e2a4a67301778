"""Drone verification over the real broker, the real gateway runtime (ingest, triage, dispatch)
and simulated drones that obey ``cmd``.

A street camera's single ``smoke`` detection (0.55, next to a school) → fire ticket, critical,
certainty Possible, one source → the nearest idle drone with battery is sent to ``inspect``
(a nearer robot and a nearer drone at 15 % are not) → it acks, flies there, hovers, publishes
its own ``smoke`` detection and ``task_done`` with its confidence → the ticket turns Observed
(history ``verify_result``, body ``verification``, a NOTIFY on ``urbanops_feed``), and the
drone's detection joins the incident as a second source. A drone that sees nothing lowers the
ticket to Unlikely and one severity step down.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from gateway.dispatch import DispatchConfig
from gateway.dispatch.verify import single_source, verdict_of, why_verify
from gateway.local_services import Mosquitto
from gateway.store.observations import FEED_CHANNEL, ObservationRow, insert_observations
from gateway.webhooks import WebhookConfig
from simulators.commands import CommandedDrone, CommandedRobot
from tests.dispatch.loop import SPILL, gateway, near, retire, rows, ticket_history, ticket_of
from tests.helpers import wait_for

FAST = DispatchConfig(ack_timeout_s=3.0, task_deadline_s=120.0, verify_deadline_s=60.0, tick_s=0.2)
HOOKS = WebhookConfig(poll_s=0.5)


def _body(db_url: str, ticket_id: str) -> dict[str, Any]:
    return dict(rows(db_url, "SELECT body FROM tickets WHERE ticket_id = %s", (ticket_id,))[0][0])


def _camera_smoke(db_url: str) -> float:
    """One street camera's smoke detection by a school, through the normal observation path."""
    now = datetime.now(UTC)
    row = ObservationRow(ts=now, observation_id=f"cam-school:{uuid.uuid4().hex[:8]}", source="vision",
                         device_id="cam-school", device_kind="sensor", district="futian", label="smoke",
                         confidence=0.55, lat=SPILL.lat, lon=SPILL.lon, place_tags=["school"])
    t0 = time.monotonic()
    with psycopg.connect(db_url) as conn:
        assert insert_observations(conn, [row]) == 1
    return t0


def _fleet(broker_url: str, sees: float) -> list[CommandedRobot]:
    return [CommandedDrone("drone-near", "futian", broker_url, near(400, 450), speed_factor=20.0, hover_s=10.0,
                           sees=sees),
            CommandedDrone("drone-far", "futian", broker_url, near(-1800, 900), speed_factor=20.0, sees=sees),
            CommandedDrone("drone-flat", "futian", broker_url, near(30, 0), battery_pct=15.0, speed_factor=20.0),
            CommandedRobot("robot-by", "futian", broker_url, near(10, 0), speed_factor=20.0)]


def _run(broker: Mosquitto, db_url: str, tmp: Path, sees: float,
         ) -> tuple[str, list[tuple[str, str, float, dict[str, Any]]], list[CommandedRobot], list[dict[str, Any]],
                    float]:
    fleet = _fleet(broker.url, sees)
    feed: list[dict[str, Any]] = []
    listen = psycopg.connect(db_url, autocommit=True)
    listen.execute(f"LISTEN {FEED_CHANNEL}")
    try:
        with gateway(broker.url, broker.port, db_url, tmp, FAST, HOOKS):
            for d in fleet:
                d.start()
            assert wait_for(lambda: len(rows(db_url, "SELECT 1 FROM devices WHERE device_id IN"
                                                     " ('drone-near', 'drone-far', 'drone-flat', 'robot-by')"
                                                     " AND lat IS NOT NULL")) == 4, 15)
            t0 = _camera_smoke(db_url)
            assert wait_for(lambda: ticket_of(db_url, "fire") is not None, 20)
            ticket_id = str(ticket_of(db_url, "fire"))
            assert wait_for(lambda: "verification" in _body(db_url, ticket_id), 60), ticket_history(db_url, ticket_id)
            wall_s = time.monotonic() - t0
            if sees >= FAST.verify_confirm_threshold:
                # The drone's own detection is a second source: triage re-triages, the verdict stays.
                assert wait_for(lambda: any(a == "retriaged" for _, a, _, _ in ticket_history(db_url, ticket_id)), 20)
            for n in listen.notifies(timeout=1.0):
                feed.append(json.loads(n.payload))
            history = ticket_history(db_url, ticket_id)
    finally:
        retire(broker.port, fleet)
        listen.close()
    return ticket_id, history, fleet, feed, wall_s


def test_single_source_smoke_sends_nearest_drone_and_turns_observed(broker: Mosquitto, db_url: str,
                                                                     tmp_path: Path) -> None:
    ticket_id, history, fleet, feed, wall_s = _run(broker, db_url, tmp_path, sees=0.91)
    actions = [a for _, a, _, _ in history]
    for step in ("created", "dispatch_proposed", "dispatch_sent", "dispatch_acked", "dispatch_progress",
                 "dispatch_done", "verify_result", "retriaged"):
        assert step in actions, actions
    ts = {a: t for _, a, t, _ in reversed(history)}  # first occurrence of each action
    created = next(d for _, a, _, d in history if a == "created")
    assert created["severity"] == "critical" and created["category"] == "fire"
    proposed = next(d for _, a, _, d in history if a == "dispatch_proposed")
    assert proposed["kind"] == "drone" and proposed["action"] == "inspect" and "single source" in proposed["reason"]
    sent = next(d for _, a, _, d in history if a == "dispatch_sent")
    assert sent["device_id"] == "drone-near"  # drone-flat is nearer but at 15 %; robot-by cannot inspect
    assert [d["pct"] for _, a, _, d in history if a == "dispatch_progress"] == [25.0, 50.0, 75.0]
    result = next(d for _, a, _, d in history if a == "verify_result")
    assert result["outcome"] == "confirmed" and result["confidence"] == 0.91
    assert result["certainty"] == ["Possible", "Observed"] and result["severity"] == ["critical", "critical"]
    assert all(actor == "dispatch" for actor, a, _, _ in history if a.startswith(("dispatch_", "verify_")))
    order = ["created", "dispatch_sent", "dispatch_acked", "dispatch_done", "verify_result", "retriaged"]
    assert [ts[a] for a in order] == sorted(ts[a] for a in order)

    body = _body(db_url, ticket_id)  # after the re-triage that the drone's detection caused
    assert body["certainty"] == "Observed" and body["verification"]["outcome"] == "confirmed"
    ticket = rows(db_url, "SELECT status, severity, assigned_to FROM tickets WHERE ticket_id = %s", (ticket_id,))
    assert ticket == [("open", "critical", None)]  # a drone only looks: the ticket stays with its agency
    kept = rows(db_url, "SELECT overrides, established->>'certainty' FROM tickets WHERE ticket_id = %s",
                (ticket_id,))
    assert kept == [({}, "Observed")]  # what the drone established is not shown as set by a person
    tasks = rows(db_url, "SELECT device_id, kind, action, status, attempts FROM tasks WHERE ticket_id = %s",
                 (ticket_id,))
    assert tasks == [("drone-near", "drone", "inspect", "done", 1)]
    assert [len(d.seen_cmds) for d in fleet] == [1, 0, 0, 0]  # one command, one device, never a second drone
    sources = rows(db_url, "SELECT DISTINCT device_id FROM observations o JOIN tickets t USING (incident_id)"
                           " WHERE t.ticket_id = %s ORDER BY 1", (ticket_id,))
    assert sources == [("cam-school",), ("drone-near",)]
    assert any(f["type"] == "ticket" and f["id"] == ticket_id and f["data"].get("action") == "verify_result"
               and f["data"]["certainty"] == ["Possible", "Observed"] for f in feed), feed
    assert any(f["type"] == "incident" and f["data"].get("certainty") == "Observed" for f in feed)

    figures = {"ticket_to_drone_sent_ms": round((ts["dispatch_sent"] - ts["created"]) * 1000, 1),
               "sent_to_ack_ms": round((ts["dispatch_acked"] - ts["dispatch_sent"]) * 1000, 1),
               "sent_to_verdict_s": round(ts["verify_result"] - ts["dispatch_sent"], 2),
               "report_to_observed_wall_s": round(wall_s, 2), "flight_m": sent["distance_m"]}
    print("VERIFY_FIGURES", figures)
    assert wall_s < 60


def test_drone_that_sees_nothing_lowers_certainty_and_severity(broker: Mosquitto, db_url: str,
                                                               tmp_path: Path) -> None:
    ticket_id, history, fleet, _feed, _wall = _run(broker, db_url, tmp_path, sees=0.05)
    result = next(d for _, a, _, d in history if a == "verify_result")
    assert result["outcome"] == "not_confirmed"
    assert result["certainty"] == ["Possible", "Unlikely"] and result["severity"] == ["critical", "high"]
    body = _body(db_url, ticket_id)
    assert body["certainty"] == "Unlikely" and body["severity"] == "high"
    assert rows(db_url, "SELECT severity FROM tickets WHERE ticket_id = %s", (ticket_id,)) == [("high",)]
    assert rows(db_url, "SELECT i.severity FROM incidents i JOIN tickets t USING (incident_id)"
                        " WHERE t.ticket_id = %s", (ticket_id,)) == [("high",)]
    # Nothing seen, so no detection was published: the incident still rests on the camera alone.
    assert rows(db_url, "SELECT count(*) FROM observations WHERE device_id = 'drone-near'") == [(0,)]
    assert [len(d.seen_cmds) for d in fleet] == [1, 0, 0, 0]


def test_verification_rules() -> None:
    cam = {"source": "vision", "device_id": "cam-1"}
    assert single_source([cam, cam])  # one camera seeing it twice is still one source
    assert not single_source([cam, {"source": "vision", "device_id": "drone-1"}])
    assert not single_source([{"source": "citizen"}, {"source": "citizen"}])  # two citizens are two
    cfg = DispatchConfig()
    t = {"status": "open", "lat": 22.5, "lon": 114.0, "severity": "high", "certainty": "Possible",
         "incident_body": {"observations": [cam]}}
    assert why_verify(t, cfg) is not None
    assert why_verify({**t, "severity": "medium"}, cfg) is None
    assert why_verify({**t, "certainty": "Observed"}, cfg) is None
    assert why_verify({**t, "incident_body": {"observations": [cam, {"source": "citizen"}]}}, cfg) is None
    assert why_verify({**t, "lat": None}, cfg) is None
    assert why_verify(t, DispatchConfig(verify_enabled=False)) is None
    assert verdict_of("task_done", 0.5, None, 0.5).confirmed is True
    assert verdict_of("task_done", 0.49, None, 0.5).confirmed is False
    assert verdict_of("task_done", None, "no frame", 0.5).confirmed is None
    assert verdict_of("task_failed", 0.9, "rotor fault", 0.5).confirmed is None
