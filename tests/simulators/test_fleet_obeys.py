"""The fleet's devices obey commands without a broker (``FleetSim`` + ``FieldDevice.command``): a
robot leaves its patrol along the streets, cleans, and sweeps on from a street corner; a drone sent
home lands; the other devices' streams are exactly those of a run without commands."""

from __future__ import annotations

from datetime import timedelta

from citypack.cached import district as get_district
from devices.geography import LatLon, distance_m, local_xy
from devices.payloads import Action, Command, Event, Position, Status, Telemetry
from simulators.device import SimMessage
from simulators.obey import FieldDevice
from simulators.sim import FleetSim

from .fleet_util import START, small

GRID = get_district("futian").grid
SPOT = GRID.position((1, -2))  # a street corner


def _run(commands: list[tuple[float, str, Command]], **kw: object) -> list[SimMessage]:
    sim = FleetSim(small(sensors=3, robots=2, drones=1, rate=1.0, duration_s=900.0, **kw), START)
    devices = {d.device_id: d for d in sim.devices}
    out: list[SimMessage] = []
    todo = list(commands)
    for msg in sim.messages():
        out.append(msg)
        while todo and msg.t >= todo[0][0]:
            _, device_id, cmd = todo.pop(0)
            device = devices[device_id]
            assert isinstance(device, FieldDevice)
            out += device.command(msg.t, cmd)
    return out


def _cmd(cid: str, action: Action, where: LatLon | None = None) -> Command:
    return Command(ts=START, msg_id=cid, action=action, deadline=START + timedelta(hours=1),
                   position=Position(lat=where.lat, lon=where.lon) if where else None)


def _on_street(p: Position) -> bool:
    x, y = local_xy(p.lat, p.lon, GRID.origin.lat, GRID.origin.lon)
    s = GRID.spacing_m
    return min(abs(x - round(x / s) * s), abs(y - round(y / s) * s)) < 1.0


def test_robot_drives_the_streets_cleans_and_sweeps_on_others_unchanged() -> None:
    plain = _run([])
    obeyed = _run([(60.0, "robot-01", _cmd("c1", Action.CLEAN, SPOT))], speed_factor=4.0)
    for device in ("robot-02", "drone-01", "aq-0001"):
        assert [m.message for m in plain if m.device_id == device] == [
            m.message for m in obeyed if m.device_id == device]
    mine = [m for m in obeyed if m.device_id == "robot-01"]
    events = [m.message for m in mine if isinstance(m.message, Event) and m.message.cmd_id]  # not its own hazards
    assert [(e.label, e.cmd_id) for e in events] == [("cmd_ack", "c1")] + [("task_progress", "c1")] * 3 + [
        ("task_done", "c1")]
    t_ack = next(m.t for m in mine if isinstance(m.message, Event) and m.message.label == "cmd_ack")
    t_done = next(m.t for m in mine if isinstance(m.message, Event) and m.message.label == "task_done")
    assert [m.message.state.value for m in mine if isinstance(m.message, Status)][:3] == ["online", "busy", "online"]
    tel = [(m.t, m.message) for m in mine if isinstance(m.message, Telemetry)]
    on_task = [t for at, t in tel if t_ack < at <= t_done]
    assert all(t.position is not None and _on_street(t.position) for t in on_task)  # the spot is a corner
    assert min(distance_m(t.position.lat, t.position.lon, SPOT.lat, SPOT.lon) for t in on_task  # type: ignore[union-attr]
               if t.position) < 1.0
    assert on_task[-1].metrics["battery_pct"] < on_task[0].metrics["battery_pct"]
    assert any(t.metrics["brush_rpm"] > 0 and t.metrics["speed_m_s"] == 0 for t in on_task)  # cleaning
    after = [t for at, t in tel if at > t_done]
    assert all(t.position is not None and _on_street(t.position) for t in after)
    assert max(t.metrics["speed_m_s"] for t in after) > 0.5  # sweeping again


def test_drone_told_to_return_home_lands_and_refuses_work_meanwhile() -> None:
    msgs = _run([(30.0, "drone-01", _cmd("h1", Action.RETURN_HOME)),
                 (30.0, "drone-01", _cmd("c2", Action.INSPECT, SPOT)),
                 (70.0, "drone-01", _cmd("c3", Action.INSPECT, SPOT))], speed_factor=5.0)
    mine = [m.message for m in msgs if m.device_id == "drone-01"]
    events = [e for e in mine if isinstance(e, Event) and e.cmd_id]
    assert [(e.label, e.cmd_id) for e in events] == [("cmd_ack", "h1"), ("task_failed", "c2"), ("task_done", "h1"),
                                                     ("task_failed", "c3")]
    assert events[1].text == "busy with h1" and events[3].text in ("landing", "on the ground, swapping battery")
    states = [s.state.value for s in mine if isinstance(s, Status)]
    assert states[:4] == ["online", "busy", "online", "charging"], states  # landed: battery swap
