"""The deterministic fleet: builds the devices of a ``FleetConfig`` and yields their messages
in time order, without MQTT. ``run_fleet`` publishes this stream; tests read it directly.

Every device sends telemetry every ``1/rate`` s at its own phase offset (so a thousand
sensors do not fire in the same millisecond), an ``online`` status at t=0 and an ``offline``
status when the run ends. Events and status changes follow the telemetry of the same tick.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime

from devices.encoding import Encoder, Publish
from simulators.config import FleetConfig
from simulators.device import SimContext, SimDevice, SimMessage
from simulators.drones import Drone
from simulators.environment import Environment
from simulators.incidents import ScenarioRuntime
from simulators.robots import Robot
from simulators.scenario import Scenario, load_scenario
from simulators.sensors import SENSOR_MIX, SENSOR_TYPES, Sensor
from simulators.truth import TruthRecord


def build_devices(config: FleetConfig, ctx: SimContext, env: Environment) -> list[SimDevice]:
    """Sensors by the fleet mix, robots and drones, spread round-robin over the districts."""
    districts = config.district_list()
    devices: list[SimDevice] = []
    per_type: dict[str, int] = {}
    for i in range(config.sensors):
        prefix = SENSOR_MIX[i % len(SENSOR_MIX)]
        per_type[prefix] = n = per_type.get(prefix, 0) + 1
        devices.append(Sensor(f"{prefix}-{n:04d}", districts[i % len(districts)], ctx,
                              SENSOR_TYPES[prefix], env))
    for i in range(config.robots):
        devices.append(Robot(f"robot-{i + 1:02d}", districts[i % len(districts)], ctx))
    for i in range(config.drones):
        devices.append(Drone(f"drone-{i + 1:02d}", districts[i % len(districts)], ctx))
    return devices


class FleetSim:
    """One run's devices, clock and scenario. Iterate ``messages()`` once, then ``shutdown``."""

    def __init__(self, config: FleetConfig, start: datetime | None = None,
                 scenario: Scenario | None = None) -> None:
        """``start``: t=0 of the simulated clock (default ``config.resolved_start()``)."""
        self.config = config
        self.start = start.astimezone(UTC) if start is not None else config.resolved_start()
        if scenario is None and config.scenario is not None:
            scenario = load_scenario(config.scenario)
        self.scenario = scenario
        random_events = scenario.random_events if scenario is not None else True
        self.ctx = SimContext(self.start, config.seed, config.resolved_run_id(self.start),
                              random_events, config.speed_factor)
        self.env = Environment(self.ctx)
        self.devices = build_devices(config, self.ctx, self.env)
        self.runtime = ScenarioRuntime(scenario, self.devices,
                                       config.district_list(), self.ctx)
        for d in self.devices:
            d.on_event = self.runtime.on_event
            if isinstance(d, Drone):
                d.scene = self.runtime.visible
                d.frame_interval_s = config.frame_interval_s
        if config.frame_interval_s > 0:
            self._plan_survey()
        self.period = 1.0 / config.rate
        self.t = 0.0  # how far the stream has got

    def _plan_survey(self) -> None:
        """Deal each district's visual incidents round-robin to its drones' patrol loops, so the
        patrol camera passes over every one (a random hexagon would miss most of them)."""
        for district, spots in self.runtime.visual_spots.items():
            drones = [d for d in self.devices if isinstance(d, Drone) and d.district.name == district]
            for i, drone in enumerate(drones):
                drone.survey(spots[i::len(drones)])

    @property
    def run_id(self) -> str:
        return self.ctx.run_id

    def messages(self) -> Iterator[SimMessage]:
        """Online statuses, then every device's ticks in time order up to ``duration_s``."""
        for d in self.devices:
            yield d.online(0.0)
        order = sorted(self.devices, key=lambda d: d.phase)
        duration, period = self.config.duration_s, self.period
        for k in range(math.ceil(duration / period) + 1):
            for d in order:
                t = (k + d.phase) * period
                if t >= duration:
                    break  # sorted by phase: the rest of this tick is later still
                self.t = t
                yield from d.tick(t, period)
        self.t = duration

    def shutdown(self, t: float | None = None) -> list[SimMessage]:
        """Graceful ``offline`` statuses at ``t`` (default: where the stream got to)."""
        t = self.t if t is None else t
        return [d.offline(t) for d in self.devices]

    def truth(self, t_end: float | None = None) -> list[TruthRecord]:
        return self.runtime.truth(self.t if t_end is None else t_end)


def generate_messages(config: FleetConfig, start: datetime | None = None) -> list[SimMessage]:
    """The whole run's messages, shutdown included: what ``run_fleet`` would publish."""
    sim = FleetSim(config, start)
    return [*sim.messages(), *sim.shutdown()]


def encode_messages(messages: list[SimMessage], encoder: Encoder) -> list[Publish]:
    """The MQTT publishes for ``messages`` under one encoding (for JSON vs ROS 2 round trips)."""
    return [p for m in messages for p in encoder.encode(m.topic, m.message)]
