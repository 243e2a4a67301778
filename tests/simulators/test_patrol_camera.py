"""Patrol camera without the broker: the frames' pose gives the detector its ground resolution, the
survey puts the scenario's visual incidents under the camera, and off means no frames at all."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from devices.geography import local_xy
from devices.payloads import FrameMeta
from simulators import camera
from simulators.drones import Drone
from simulators.sim import FleetSim
from tests.simulators.fleet_util import START, small

SURVEY = Path(__file__).resolve().parents[2] / "simulators" / "scenarios" / "drone_survey.yaml"


def fly(frame_interval_s: float, duration_s: float) -> tuple[FleetSim, Drone, list[FrameMeta]]:
    sim = FleetSim(small(sensors=0, robots=0, drones=1, rate=1.0, duration_s=duration_s, scenario=SURVEY,
                         frame_interval_s=frame_interval_s), START)
    drone = next(d for d in sim.devices if isinstance(d, Drone))
    metas = []
    for _ in sim.messages():
        metas += [meta for _, meta, _ in drone.take_frames()]
    return sim, drone, metas


def test_patrol_frames_state_a_pose_at_five_cm_per_pixel_and_pass_over_the_incidents() -> None:
    sim, drone, metas = fly(1.0, 70.0)
    assert 20 <= len(metas) <= 40  # one a second once the ~35 s climb to cruise is over
    for m in metas:
        assert m.alt_m == pytest.approx(drone.cruise_alt, abs=0.1) and m.pitch_deg == -90.0
        gsd = 2 * m.alt_m * math.tan(math.radians(m.hfov_deg) / 2) / camera.WIDTH
        assert gsd == pytest.approx(camera.PATROL_GSD_M, rel=0.01)
    assert [m.ts for m in metas] == sorted(m.ts for m in metas)
    # The survey flies to the nearest incidents first: by 70 s the first few lie in a frame's footprint
    # (image rows follow the heading: 24 m along, 32 m across).
    seen = set()
    for r in sim.truth():
        for m in metas:
            east, north = local_xy(r.lat, r.lon, m.lat, m.lon)
            h = math.radians(m.heading_deg)
            along, across = east * math.sin(h) + north * math.cos(h), east * math.cos(h) - north * math.sin(h)
            if abs(along) <= 12 and abs(across) <= 16:
                seen.add(r.label)
    assert {"smoke", "garbage"} <= seen, seen
    assert len(drone.waypoints) == 6 + len(sim.truth())  # the hexagon, and the eight incidents before it


def test_without_the_option_a_patrolling_drone_takes_no_frames() -> None:
    _, drone, metas = fly(0.0, 70.0)
    assert metas == [] and len(drone.waypoints) == 6  # its own hexagon only: no survey either
