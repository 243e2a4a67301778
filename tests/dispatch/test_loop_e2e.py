"""Closed loop over the real broker, the real gateway runtime (ingest, triage) with dispatch and
webhooks attached, and simulated robots that obey ``cmd``.

A robot reports a spill → ticket (sanitation, urban_management) → the nearest idle robot with
battery is sent (auto policy) → it acks, drives the street grid, reports progress, cleans,
reports done → the ticket resolves; every step is in ticket_history with its time. The agency's
webhook gets the ticket's created and resolved notifications exactly once each although its
first two answers are HTTP 500. A robot that goes offline mid-task is replaced.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg

from gateway.dispatch import DispatchConfig
from gateway.local_services import Mosquitto
from gateway.webhooks import WebhookConfig
from simulators.commands import CommandedRobot
from tests.dispatch.loop import (
    Receiver,
    gateway,
    near,
    plant_spill,
    retire,
    rows,
    ticket_history,
    ticket_of,
    ticket_status,
)
from tests.helpers import wait_for

FAST = DispatchConfig(ack_timeout_s=3.0, task_deadline_s=120.0, tick_s=0.2)
HOOKS = WebhookConfig(poll_s=0.2, backoff_base_s=0.2, backoff_cap_s=1.0, reread_s=5.0)
SECRET = "agency-secret-0123456789"


def test_spill_dispatches_nearest_robot_resolves_and_notifies(broker: Mosquitto, db_url: str,
                                                              tmp_path: Path) -> None:
    receiver = Receiver(SECRET, fail_first=2)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO webhook_subscriptions (agency, url, secret, events) VALUES"
                     " ('urban_management', %s, %s, '{created,resolved}'), ('fire_rescue', %s, %s, '{created}')",
                     (receiver.url, SECRET, receiver.url + "/fire", SECRET))
    robots = [CommandedRobot("robot-near", "futian", broker.url, near(260, 250), speed_factor=40.0, clean_s=20.0),
              CommandedRobot("robot-far", "futian", broker.url, near(-1000, -750), speed_factor=40.0),
              CommandedRobot("robot-flat", "futian", broker.url, near(10, 0), battery_pct=15.0, speed_factor=40.0)]
    try:
        with gateway(broker.url, broker.port, db_url, tmp_path, FAST, HOOKS):
            for r in robots:
                r.start()
            # These three by name: a retained status another test left on the session broker may
            # register a device too; and on a loaded machine the robots' connections take a while.
            placed = "SELECT 1 FROM devices WHERE device_id = ANY(%s) AND lat IS NOT NULL"
            names = [r.device_id for r in robots]
            assert wait_for(lambda: len(rows(db_url, placed, (names,))) == 3, 45)
            t_spill = plant_spill(broker.port)
            assert wait_for(lambda: ticket_of(db_url, "sanitation") is not None, 20)
            ticket_id = ticket_of(db_url, "sanitation")
            assert ticket_id is not None
            resolved = wait_for(lambda: ticket_status(db_url, ticket_id) == "resolved", 60)
            assert resolved, ticket_history(db_url, ticket_id)
            wall_s = time.monotonic() - t_spill
            assert wait_for(lambda: len(receiver.accepted()) >= 2, 20)
            time.sleep(1.0)  # any duplicate would arrive within the backoff window
            history = ticket_history(db_url, ticket_id)
            accepted = receiver.accepted()
            requests = list(receiver.requests)
    finally:
        retire(broker.port, robots)
        receiver.close()

    actions = [a for _, a, _, _ in history]
    for step in ("created", "dispatch_proposed", "dispatch_sent", "dispatch_acked",
                 "dispatch_progress", "dispatch_done", "resolve"):
        assert step in actions, actions
    ts = {a: t for _, a, t, _ in reversed(history)}  # first occurrence of each action
    sent = next(d for _, a, _, d in history if a == "dispatch_sent")
    assert sent["device_id"] == "robot-near"  # nearest idle with battery; robot-flat is nearer but at 15 %
    assert [d["pct"] for _, a, _, d in history if a == "dispatch_progress"] == [25.0, 50.0, 75.0]
    assert all(actor == "dispatch" for actor, a, _, _ in history if a.startswith("dispatch_") or a == "resolve")
    assert ts["created"] <= ts["dispatch_sent"] <= ts["dispatch_acked"] <= ts["dispatch_done"] <= ts["resolve"]
    task = rows(db_url, "SELECT status, attempts, device_id FROM tasks WHERE ticket_id = %s", (ticket_id,))
    assert task == [("done", 1, "robot-near")]
    # Only robot-near got a command, and exactly one.
    assert [len(r.seen_cmds) for r in robots] == [1, 0, 0]

    # Webhooks: two 500s, then each (ticket, event) accepted once, all signed; fire_rescue got nothing.
    assert [c for c, *_ in requests[:2]] == [500, 500]
    assert all(ok for *_, ok in requests)
    assert sorted(b["event"] for _, b in accepted) == ["created", "resolved"]
    assert len({k for k, _ in accepted}) == 2 and all(b["ticket_id"] == ticket_id for _, b in accepted)
    assert {b["ticket"]["status"] for _, b in accepted if b["event"] == "resolved"} == {"resolved"}
    deliveries = rows(db_url, "SELECT event, status, attempts FROM webhook_deliveries ORDER BY event")
    assert [(e, s) for e, s, _ in deliveries] == [("created", "delivered"), ("resolved", "delivered")]
    assert sum(a for *_, a in deliveries) == 4  # 2 failed tries + 2 successes

    figures = {"ticket_to_dispatch_ms": round((ts["dispatch_sent"] - ts["created"]) * 1000, 1),
               "dispatch_to_ack_ms": round((ts["dispatch_acked"] - ts["dispatch_sent"]) * 1000, 1),
               "dispatch_to_done_s": round(ts["dispatch_done"] - ts["dispatch_sent"], 2),
               "spill_to_resolved_wall_s": round(wall_s, 2), "route_m_at_1.5m_s": sent["distance_m"]}
    print("DISPATCH_FIGURES", figures)
    assert (ts["dispatch_sent"] - ts["created"]) < 2.0


def test_robot_offline_mid_task_is_replaced(broker: Mosquitto, db_url: str, tmp_path: Path) -> None:
    first = CommandedRobot("robot-a", "futian", broker.url, near(250, 250), speed_factor=8.0, clean_s=10.0)
    second = CommandedRobot("robot-b", "futian", broker.url, near(-750, 0), speed_factor=40.0, clean_s=10.0)
    try:
        with gateway(broker.url, broker.port, db_url, tmp_path, FAST, HOOKS):
            first.start()
            second.start()
            assert wait_for(lambda: len(rows(db_url, "SELECT 1 FROM devices WHERE device_id IN"
                                                     " ('robot-a', 'robot-b') AND lat IS NOT NULL")) == 2, 15)
            plant_spill(broker.port)
            assert wait_for(lambda: any(label == "task_progress" for _, label, _ in first.log), 40)
            first.stop(offline=True)  # gone mid-task: its link is dead, its status says offline
            assert wait_for(lambda: ticket_of(db_url, "sanitation") is not None, 20)
            ticket_id = str(ticket_of(db_url, "sanitation"))
            resolved = wait_for(lambda: ticket_status(db_url, ticket_id) == "resolved", 60)
            assert resolved, rows(db_url, "SELECT action, details FROM ticket_history ORDER BY id")
    finally:
        retire(broker.port, [first, second])
    tasks = rows(db_url, "SELECT device_id, status, detail FROM tasks WHERE ticket_id = %s ORDER BY created_at",
                 (ticket_id,))
    assert [(d, s) for d, s, _ in tasks] == [("robot-a", "failed"), ("robot-b", "done")], tasks
    assert tasks[0][2] == "device went offline"
    actions = [a for _, a, _, _ in ticket_history(db_url, ticket_id)]
    assert actions.index("dispatch_released") < actions.index("dispatch_done")
    assert actions.count("dispatch_sent") == 2
