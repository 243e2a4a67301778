"""The planner's rules, commands' capability check, the simulated task route, webhook signing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from citypack.cached import district as get_district
from devices.geography import LatLon
from devices.payloads import Action, Command
from devices.topics import Kind
from gateway.dispatch.commands import CapabilityError, command_for
from gateway.dispatch.planner import Candidate, distance_m, pick_device
from gateway.webhooks.config import WebhookConfig
from gateway.webhooks.signing import sign, verify
from simulators.commands import GridTask, grid_route

SPOT = (22.5431, 114.0579)


def robot(device_id: str, north_m: float, *, state: str = "online", battery: float | None = 80.0,
          kind: str = "robot", district: str = "futian", has_task: bool = False) -> Candidate:
    return Candidate(device_id, district, kind, state, battery, SPOT[0] + north_m / 111_195.0, SPOT[1], has_task)


def pick(cands: list[Candidate], **kw: object) -> str | None:
    p = pick_device(cands, kind=Kind.ROBOT, action=Action.CLEAN, lat=SPOT[0], lon=SPOT[1],
                    min_battery_pct=30.0, district="futian", **kw)  # type: ignore[arg-type]
    return p.device_id if p else None


def test_nearest_idle_robot_wins() -> None:
    assert pick([robot("far", 900), robot("near", 200), robot("mid", 500)]) == "near"


def test_battery_state_and_task_exclude() -> None:
    cands = [robot("low", 50, battery=12.0), robot("unknown-batt", 60, battery=None),
             robot("charging", 70, state="charging"), robot("offline", 80, state="offline"),
             robot("busy", 90, has_task=True), robot("ok", 1000)]
    assert pick(cands) == "ok"


def test_one_task_per_robot_nobody_left() -> None:
    assert pick([robot("a", 10, has_task=True), robot("b", 20, state="busy")]) is None


def test_capabilities_kind_and_district() -> None:
    # A drone is nearer but cannot clean; a robot of another district does not drive here.
    cands = [robot("drone-1", 5, kind="drone"), robot("sensor-1", 1, kind="sensor"),
             robot("other", 10, district="nanshan"), robot("ours", 700)]
    assert pick(cands) == "ours"
    assert pick([robot("x", 10), robot("y", 20)], exclude=frozenset({"x"})) == "y"


def test_ties_are_deterministic() -> None:
    assert pick([robot("b", 100), robot("a", 100)]) == "a"


def test_command_refuses_outside_capabilities() -> None:
    now = datetime.now(UTC)
    task = {"task_id": "tsk-1", "ticket_id": "tkt-1", "kind": "robot", "action": "clean", "district": "futian",
            "device_id": "robot-01", "lat": SPOT[0], "lon": SPOT[1], "deadline": now + timedelta(minutes=5)}
    topic, payload = command_for(task, now)
    assert topic == "city/futian/robot/robot-01/cmd"
    cmd = Command.model_validate_json(payload)
    assert cmd.msg_id == "tsk-1" and cmd.action is Action.CLEAN and cmd.ticket_id == "tkt-1"
    with pytest.raises(CapabilityError):
        command_for(task, now, action=Action.HOVER)  # robots do not hover
    with pytest.raises(CapabilityError):
        command_for({**task, "kind": "drone"}, now)  # drones do not clean
    with pytest.raises(CapabilityError):
        command_for({**task, "kind": "sensor"}, now, action=Action.GOTO)


def test_grid_task_drives_the_streets_and_reports_quarters() -> None:
    grid = get_district("futian").grid
    start, goal = LatLon(22.5405, 114.0520), LatLon(22.5480, 114.0650)
    route = grid_route(grid, start, goal)
    task = GridTask("c1", Action.CLEAN, route, work_s=30.0)
    straight = distance_m(start.lat, start.lon, goal.lat, goal.lon)
    assert task.length_m >= straight  # along the streets, never through blocks
    seen: list[int] = []
    t = 0.0
    while not task.finished and t < 10_000:
        seen += task.advance(1.0, 1.5)
        t += 1.0
    assert seen == [25, 50, 75]
    assert abs(t - (task.length_m / 1.5 + 30.0)) <= 2.0  # 1.5 m/s, then 30 s of cleaning
    end = task.position()
    assert distance_m(end.lat, end.lon, goal.lat, goal.lon) < 1.0


def test_signature_and_backoff() -> None:
    body = json.dumps({"ticket_id": "t"}).encode()
    sig = sign("s3cret-s3cret-s3cret", body)
    assert sig.startswith("sha256=") and verify("s3cret-s3cret-s3cret", body, sig)
    assert not verify("other-secret-other", body, sig) and not verify("s3cret-s3cret-s3cret", body + b" ", sig)
    cfg = WebhookConfig(backoff_base_s=2.0, backoff_cap_s=60.0)
    assert [cfg.backoff_s(n) for n in (1, 2, 3, 6, 20)] == [2.0, 4.0, 8.0, 60.0, 60.0]
