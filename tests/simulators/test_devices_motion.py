"""Robots sweep the street grid and dock to charge; drones patrol and come home; sensors
follow the time of day."""

from __future__ import annotations

from datetime import timedelta
from statistics import mean
from typing import Any

from citypack.cached import district as get_district
from devices.geography import distance_m, local_xy
from devices.payloads import Event, Status, Telemetry
from devices.topics import Channel
from simulators.device import SimMessage
from simulators.sim import FleetSim

from .fleet_util import START, small


def _run(**kw: Any) -> tuple[FleetSim, list[SimMessage]]:
    sim = FleetSim(small(**kw), START)
    return sim, list(sim.messages())


def test_robots_stay_on_streets_drain_and_recharge_at_the_depot() -> None:
    _, msgs = _run(sensors=0, robots=4, drones=0, rate=0.2, duration_s=6 * 3600.0)
    district = get_district("futian")
    grid = district.grid
    depot = grid.position(grid.nearest_node(district.depot.lat, district.depot.lon))
    for rid in ("robot-01", "robot-02", "robot-03", "robot-04"):
        tel = [m.message for m in msgs if m.device_id == rid and isinstance(m.message, Telemetry)]
        states = [m.message.state.value for m in msgs
                  if m.device_id == rid and isinstance(m.message, Status)]
        assert "charging" in states and states.count("online") >= 2, states
        battery = [t.metrics["battery_pct"] for t in tel]
        assert min(battery) >= 15.0 and max(battery) >= 99.0
        for t in tel:
            assert t.position is not None
            x, y = local_xy(t.position.lat, t.position.lon, grid.origin.lat, grid.origin.lon)
            # on a street: one coordinate sits on a grid line (250 m spacing)
            assert min(abs(x - round(x / 250) * 250), abs(y - round(y / 250) * 250)) < 1.0
            assert 0 <= t.metrics["speed_m_s"] <= 1.6
            if t.metrics["speed_m_s"] == 0 and t.metrics["water_tank_pct"] == 100.0:
                assert distance_m(t.position.lat, t.position.lon, depot.lat, depot.lon) < 1.0
        sweeping = [t for t in tel if t.metrics["brush_rpm"] > 0]
        assert sweeping and all(1100 <= t.metrics["brush_rpm"] <= 1300 for t in sweeping)
    events = [m.message.label for m in msgs if isinstance(m.message, Event)]
    assert "low_battery" in events and "obstacle" in events


def test_drones_patrol_return_and_land() -> None:
    _, msgs = _run(sensors=0, robots=0, drones=2, rate=1.0, duration_s=2 * 3600.0)
    for did in ("drone-01", "drone-02"):
        tel = [m.message for m in msgs if m.device_id == did and isinstance(m.message, Telemetry)]
        alt = [t.metrics["altitude_m"] for t in tel]
        assert max(alt) >= 90 and alt.count(0.0) > 10  # flew, and landed to swap batteries
        assert min(t.metrics["battery_pct"] for t in tel) >= 15.0
        cruising = [t for t in tel if t.metrics["altitude_m"] >= 90]
        assert 9 <= mean(t.metrics["speed_m_s"] for t in cruising) <= 12.5
        headings = {round(t.metrics["heading_deg"] / 45) for t in cruising}
        assert len(headings) >= 4  # a loop, not a straight line
        for t in tel:
            assert t.position is not None and t.position.alt_m == t.metrics["altitude_m"]
            assert get_district("futian").contains(t.position.lat, t.position.lon)
    states = [m.message.state.value for m in msgs if isinstance(m.message, Status)]
    assert "charging" in states


def test_sensors_follow_the_time_of_day() -> None:
    def avg(metric: str, local_hour: int) -> float:
        start = START.replace(hour=0, minute=0) + timedelta(hours=local_hour - 8)
        sim = FleetSim(small(sensors=60, robots=0, drones=0, rate=0.1, duration_s=600.0), start)
        vals = [m.message.metrics[metric] for m in sim.messages()
                if m.channel is Channel.TELEMETRY and isinstance(m.message, Telemetry)
                and metric in m.message.metrics]
        return mean(vals)

    assert avg("noise_db", 18) > avg("noise_db", 3) + 8  # rush hour vs night
    assert avg("no2", 8) > avg("no2", 3) + 10
    assert avg("o3", 13) > avg("o3", 3) + 30  # sunlight
    assert avg("temperature_c", 15) > avg("temperature_c", 5) + 3
