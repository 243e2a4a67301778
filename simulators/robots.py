"""Cleaning robots: sweep the district's street grid, dock at the depot to charge and empty.

Battery drains while moving (about 2.5 h of sweeping), the bin fills and the water tank
empties; low battery, a full bin or an empty tank send the robot back along the grid to the
depot. Random hazards (``spill``, ``obstacle``, ``stuck``) are Poisson events; scenarios
add scripted ones. Every event goes to ``on_event`` so the fleet can record ground truth.

A robot obeys ``goto``, ``clean`` and ``return_home`` (simulators/obey.py): it leaves its patrol,
drives the street grid to the spot at 1.5 m/s, cleans there for a minute, reports, drives back
onto the nearest street corner and sweeps on (``return_home``: docks and charges).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from devices.geography import District, LatLon, StreetGrid
from devices.payloads import Action, DeviceState
from devices.topics import Kind
from simulators.device import SimContext, SimMessage, clamp
from simulators.obey import FieldDevice
from simulators.tasks import (
    CLEAN_DRAIN_PCT_PER_S,
    CLEAN_S,
    DRAIN_PCT_PER_S,
    DRIVE_SPEED_M_S,
    GridTask,
    grid_route,
)

Node = tuple[int, int]
# Random hazards per robot-hour while sweeping.
HAZARDS_PER_H: dict[str, float] = {"obstacle": 6.0, "spill": 1.5, "stuck": 0.5}
HAZARD_TEXT: dict[str, str] = {
    "spill": "liquid spill on the walkway",
    "obstacle": "obstacle blocking the lane",
    "stuck": "wheels stuck, cannot move",
    "bin_full": "debris bin full, returning to depot",
    "low_battery": "battery low, returning to depot",
}
LOW_BATTERY_PCT = 25.0  # leaves enough to cross the grid home above 15 %
BIN_FULL_PCT = 95.0


class Mode(StrEnum):
    SWEEPING = "sweeping"
    TO_DEPOT = "to_depot"
    CHARGING = "charging"
    HOLD = "hold"  # stopped by an obstacle or stuck


@dataclass(frozen=True)
class ScriptedEvent:
    """A scenario event: reported at the first tick at or after ``at``."""

    at: float
    label: str
    incident_id: str
    text: str | None = None
    confidence: float | None = None
    hold_s: float = 0.0  # how long the robot stays put (stuck, obstacle)


class Robot(FieldDevice):
    kind = Kind.ROBOT
    ACTIONS = frozenset({Action.GOTO, Action.CLEAN, Action.RETURN_HOME})

    def __init__(self, device_id: str, district: District, ctx: SimContext) -> None:
        super().__init__(device_id, district, ctx)
        rng = self.rng
        self.grid: StreetGrid = district.grid
        self.depot: Node = self.grid.nearest_node(district.depot.lat, district.depot.lon)
        self.a: Node = rng.choice(self.grid.nodes)
        self.b: Node = rng.choice(self.grid.neighbours(self.a))
        self.prev: Node = self.a
        self.along = rng.uniform(0, self.grid.spacing_m)
        self._battery = rng.uniform(45.0, 100.0)
        self.bin_pct = rng.uniform(0.0, 60.0)
        self.tank_pct = rng.uniform(30.0, 100.0)
        self.bin_rate = rng.uniform(0.004, 0.010)  # %/s while sweeping
        self.mode = Mode.SWEEPING
        self.resume = Mode.SWEEPING  # the mode to go back to after a hold
        self.hold_until = 0.0
        self.speed = 0.0
        self.scripted: list[ScriptedEvent] = []
        self._pos_cache: dict[Node, LatLon] = {}
        self.executor.speed_m_s = DRIVE_SPEED_M_S
        self.off_patrol: LatLon | None = None  # where it is while a task took it off the grid walk
        self.rejoin: GridTask | None = None  # the drive back onto the grid after a task
        self.cleaning = False

    @property
    def battery_pct(self) -> float:
        return self._battery

    def _node_pos(self, node: Node) -> LatLon:
        p = self._pos_cache.get(node)
        if p is None:
            p = self._pos_cache[node] = self.grid.position(node)
        return p

    def position(self) -> LatLon:
        if self.off_patrol is not None:
            return self.off_patrol
        pa, pb = self._node_pos(self.a), self._node_pos(self.b)
        f = self.along / self.grid.spacing_m
        return LatLon(pa.lat + (pb.lat - pa.lat) * f, pa.lon + (pb.lon - pa.lon) * f)

    def _next_node(self) -> Node:
        if self.mode is Mode.TO_DEPOT:
            return self.grid.step_towards(self.a, self.depot)
        options = [n for n in self.grid.neighbours(self.a) if n != self.prev]
        return self.rng.choice(options or self.grid.neighbours(self.a))

    def _advance(self, dist: float) -> None:
        spacing = self.grid.spacing_m
        while dist > 0:
            if self.a == self.b:  # parked on a node (at the depot)
                return
            left = spacing - self.along
            if dist < left:
                self.along += dist
                return
            dist -= left
            self.prev, self.a, self.along = self.a, self.b, 0.0
            self.b = self._next_node()

    # -- commands (simulators/obey.py) -------------------------------------------------------
    def _route(self, start: LatLon, goal: LatLon) -> list[LatLon]:
        return grid_route(self.grid, start, goal)

    def _work_s(self, action: Action) -> float:
        return CLEAN_S if action is Action.CLEAN else 0.0

    def home(self) -> LatLon:
        return self._node_pos(self.depot)

    def unable(self) -> str | None:
        if self.mode is Mode.CHARGING:
            return "charging at the depot"
        if self.state is DeviceState.ERROR:
            return "stuck, cannot move"
        if self._battery < LOW_BATTERY_PCT:
            return f"battery {self._battery:.0f} %: too low for a task"
        return None

    def on_motion(self, t: float, task: GridTask, dt: float, moving: bool) -> None:
        self.off_patrol = task.position()
        self.speed = DRIVE_SPEED_M_S if moving else 0.0
        self.cleaning = not moving and task.action is Action.CLEAN
        self._battery -= (DRAIN_PCT_PER_S if moving else CLEAN_DRAIN_PCT_PER_S if self.cleaning else 0.0) * dt

    def finish(self, t: float, task: GridTask) -> list[SimMessage]:
        text = {Action.CLEAN: "spot cleaned; nothing left on the ground",
                Action.RETURN_HOME: "docked at the depot"}.get(task.action, "arrived")
        return [self.event(t, "task_done", text=text, value=100.0, cmd_id=task.cmd_id)]

    def task_ended(self, t: float, task: GridTask, finished: bool) -> list[SimMessage]:
        self.cleaning, self.speed = False, 0.0
        if finished and task.action is Action.RETURN_HOME:  # docked: charge, then sweep on
            self.off_patrol, self.current = None, None
            self.a = self.b = self.prev = self.depot
            self.along, self.mode = 0.0, Mode.CHARGING
            return [self.status(t, DeviceState.CHARGING)]
        here = self.position()
        corner = self._node_pos(self.grid.nearest_node(here.lat, here.lon))
        self.rejoin = GridTask("", Action.GOTO, [here, corner], 0.0)
        return self.back_online(t)

    def _drive_back(self, dt: float) -> None:
        """Off the grid after a task: drive to the nearest corner, then sweep on from there."""
        rejoin = self.rejoin
        assert rejoin is not None
        rejoin.advance(dt * self.ctx.speed_factor, DRIVE_SPEED_M_S)
        self.off_patrol, self.speed = rejoin.position(), DRIVE_SPEED_M_S
        self._battery -= DRAIN_PCT_PER_S * dt * self.ctx.speed_factor
        if rejoin.arrived:
            corner = rejoin.route[-1]
            self.a = self.prev = self.grid.nearest_node(corner.lat, corner.lon)
            self.along, self.off_patrol, self.rejoin = 0.0, None, None
            self.b = self._next_node()

    def _emit(self, out: list[SimMessage], t: float, label: str,
              script: ScriptedEvent | None = None, value: float | None = None) -> None:
        text = script.text if script and script.text else HAZARD_TEXT.get(label)
        conf = script.confidence if script and script.confidence is not None else round(
            self.rng.uniform(0.7, 0.97), 2)
        out.append(self.report(t, label, script.incident_id if script else None, text=text,
                               confidence=conf, value=value,
                               unit="%" if value is not None else None))

    def _hazard(self, out: list[SimMessage], t: float, label: str, hold_s: float,
                script: ScriptedEvent | None = None) -> list[SimMessage]:
        self._emit(out, t, label, script)
        if hold_s > 0:
            if self.mode is not Mode.HOLD:
                self.resume = self.mode
            self.mode, self.hold_until = Mode.HOLD, max(self.hold_until, t + hold_s)
            if label == "stuck":
                return [self.status(t, DeviceState.ERROR)]
        return []

    def tick(self, t: float, dt: float) -> list[SimMessage]:
        events: list[SimMessage] = []
        statuses: list[SimMessage] = []
        rng = self.rng
        while self.scripted and self.scripted[0].at <= t:
            s = self.scripted.pop(0)
            statuses += self._hazard(events, t, s.label, s.hold_s, s)

        if self.executor.busy:
            events += self.step_task(t, dt)
        elif self.rejoin is not None:
            self._drive_back(dt)
        elif self.mode is Mode.CHARGING:
            self.speed = 0.0
            self._battery = min(100.0, self._battery + 0.06 * dt)
            self.bin_pct, self.tank_pct = 0.0, 100.0
            if self._battery >= 99.0:
                self.mode = Mode.SWEEPING
                self.b = rng.choice(self.grid.neighbours(self.a))
                statuses.append(self.status(t, DeviceState.ONLINE))
        elif self.mode is Mode.HOLD:
            self.speed = 0.0
            if t >= self.hold_until:
                self.mode = self.resume
                if self.state is not DeviceState.ONLINE:
                    statuses.append(self.status(t, DeviceState.ONLINE))
        else:
            sweeping = self.mode is Mode.SWEEPING
            self.speed = rng.uniform(0.9, 1.1) if sweeping else rng.uniform(1.4, 1.6)
            self._advance(self.speed * dt)
            self._battery -= (0.011 if sweeping else 0.0025) * dt
            if sweeping:
                self.bin_pct = min(100.0, self.bin_pct + self.bin_rate * dt)
                self.tank_pct = max(0.0, self.tank_pct - 0.006 * dt)
                reason = ("low_battery" if self._battery < LOW_BATTERY_PCT
                          else "bin_full" if self.bin_pct >= BIN_FULL_PCT
                          else "tank" if self.tank_pct <= 5.0 else None)
                if reason is not None:
                    self.mode = Mode.TO_DEPOT  # routes towards the depot from the next node
                    if reason != "tank" and self.ctx.random_events:
                        value = self._battery if reason == "low_battery" else self.bin_pct
                        self._emit(events, t, reason, value=round(value, 1))
                elif self.ctx.random_events:
                    for label, per_h in HAZARDS_PER_H.items():
                        if rng.random() < per_h * dt / 3600.0:
                            hold = {"obstacle": rng.uniform(5, 20), "stuck": rng.uniform(30, 120)}
                            statuses += self._hazard(events, t, label, hold.get(label, 0.0))
                            break
            elif self.a == self.depot and self.along == 0.0:
                self.mode, self.speed, self.b = Mode.CHARGING, 0.0, self.a
                statuses.append(self.status(t, DeviceState.CHARGING))

        brushing = self.cleaning or (self.mode is Mode.SWEEPING and self.speed > 0
                                     and self.off_patrol is None)
        metrics = {
            "battery_pct": round(clamp(self._battery, 0.0, 100.0), 1),
            "speed_m_s": round(self.speed, 2),
            "bin_fill_pct": round(self.bin_pct, 1),
            "brush_rpm": float(round(rng.uniform(1150, 1250))) if brushing else 0.0,
            "water_tank_pct": round(self.tank_pct, 1),
        }
        return [self.telemetry(t, metrics, with_position=True), *events, *statuses]
