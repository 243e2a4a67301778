"""Inspection drones: take off from the district's base, fly a patrol loop, come home to swap
batteries.

Motion is in local metres east/north of the district centre and converted to lat/lon for
the payload. A full battery is about 37 minutes of flight; below 40 % the drone flies home, lands
and is back in the air about five minutes later.

A drone obeys ``goto``, ``inspect``, ``hover`` and ``return_home`` (simulators/obey.py): it leaves
its patrol, flies straight there at cruise speed while descending to 20 m, hovers, and for an
``inspect`` takes a few camera frames of what is planted there (simulators/camera.py), then answers
``task_done`` with its confidence that something is there (docs/dispatch.md, "Drone verification")
and climbs back to its patrol.

With the patrol camera on (``frame_interval_s``, FleetConfig) a patrolling drone also sends a frame
of what is under it every so many seconds, from its cruise altitude with the lens zoomed to the
detector's ground resolution (simulators/camera.py). ``survey`` puts given spots (a scenario's
visual incidents) on its patrol loop, so the camera passes over them.
"""

from __future__ import annotations

import math
from enum import StrEnum

from devices.geography import District, LatLon, distance_m, local_xy, offset
from devices.payloads import Action, DeviceState
from devices.topics import Channel, Kind, Topic
from simulators import camera
from simulators.device import SimContext, SimMessage, clamp
from simulators.obey import FieldDevice, Scene
from simulators.tasks import FLY_DRAIN_PCT_PER_S, HOVER_DRAIN_PCT_PER_S, HOVER_S, GridTask, straight_route

RETURN_BATTERY_PCT = 40.0  # the farthest waypoint home still lands above 15 %
CLIMB_M_S = 3.0
DESCENT_M_S = 2.0
FRAMES_AT = (0.25, 0.5, 0.75)  # an inspection's frames: at these fractions of the hover
SEE_RADIUS_M = 25.0  # the onboard detector finds what lies this close below the hover point


class Phase(StrEnum):
    GROUNDED = "grounded"
    TAKEOFF = "takeoff"
    PATROL = "patrol"
    RETURN = "return"
    LANDING = "landing"


class Drone(FieldDevice):
    kind = Kind.DRONE
    ACTIONS = frozenset({Action.GOTO, Action.INSPECT, Action.HOVER, Action.RETURN_HOME})

    def __init__(self, device_id: str, district: District, ctx: SimContext) -> None:
        super().__init__(device_id, district, ctx)
        rng = self.rng
        c = district.center
        bx, by = local_xy(district.drone_base.lat, district.drone_base.lon, c.lat, c.lon)
        self.base = (bx + rng.uniform(-60, 60), by + rng.uniform(-60, 60))
        # A hexagonal loop of 0.7-1.5 km radius somewhere near the centre, kept inside the box.
        cx, cy = rng.uniform(-1200, 1200), rng.uniform(-1200, 1200)
        radius, turn = rng.uniform(700, 1500), rng.uniform(0, 2 * math.pi)
        self.waypoints = [
            self._inside(cx + radius * math.cos(turn + k * math.pi / 3),
                         cy + radius * math.sin(turn + k * math.pi / 3))
            for k in range(6)
        ]
        self.cruise_alt = rng.uniform(90.0, 120.0)
        self.cruise_speed = rng.uniform(9.0, 12.0)
        self.x, self.y, self.alt = self.base[0], self.base[1], 0.0
        self.wp = 0
        self.heading = rng.uniform(0, 360)
        self.speed = 0.0
        self._battery = rng.uniform(55.0, 100.0)
        self.phase_ = Phase.TAKEOFF
        self.low_reported = False
        self.executor.speed_m_s = self.cruise_speed
        self.scene: Scene | None = None  # the scenario's planted things (FleetSim sets it)
        self.task_alt = (0.0, 0.0)  # altitude at the task's start, and over the spot
        self.shots = 0  # frames taken in this hover
        self.frame_interval_s = 0.0  # patrol camera: a frame every this many seconds (0: off; FleetSim sets it)
        self.next_frame_t = 0.0

    def survey(self, spots: list[LatLon]) -> None:
        """Fly over ``spots`` on every lap: they join the loop, nearest first from the base."""
        c = self.district.center
        left = [local_xy(p.lat, p.lon, c.lat, c.lon) for p in spots]
        route: list[tuple[float, float]] = []
        x, y = self.base
        while left:
            x, y = min(left, key=lambda p: math.hypot(p[0] - x, p[1] - y))
            left.remove((x, y))
            route.append((x, y))
        self.waypoints = route + self.waypoints

    def _inside(self, x: float, y: float) -> tuple[float, float]:
        c, box = self.district.center, self.district.bbox
        p = offset(c.lat, c.lon, x, y)
        lat = clamp(p.lat, box.south + 0.002, box.north - 0.002)
        lon = clamp(p.lon, box.west + 0.002, box.east - 0.002)
        return local_xy(lat, lon, c.lat, c.lon)

    @property
    def battery_pct(self) -> float:
        return self._battery

    def position(self) -> LatLon:
        c = self.district.center
        return offset(c.lat, c.lon, self.x, self.y)

    def altitude_m(self) -> float:
        return self.alt

    def _fly_to(self, gx: float, gy: float, dt: float) -> bool:
        """Move towards a goal at cruise speed; True once there."""
        dx, dy = gx - self.x, gy - self.y
        dist = math.hypot(dx, dy)
        step = self.cruise_speed * dt
        if dist > 0.5:
            self.heading = math.degrees(math.atan2(dx, dy)) % 360.0
        if dist <= step:
            self.x, self.y = gx, gy
            self.speed = dist / dt if dt > 0 else 0.0
            return True
        self.x += dx / dist * step
        self.y += dy / dist * step
        self.speed = self.cruise_speed
        return False

    # -- commands (simulators/obey.py) -------------------------------------------------------
    def _route(self, start: LatLon, goal: LatLon) -> list[LatLon]:
        return straight_route(start, goal)

    def _work_s(self, action: Action) -> float:
        return HOVER_S if action in (Action.INSPECT, Action.HOVER) else 0.0

    def home(self) -> LatLon:
        c = self.district.center
        return offset(c.lat, c.lon, *self.base)

    def unable(self) -> str | None:
        return {Phase.GROUNDED: "on the ground, swapping battery", Phase.LANDING: "landing",
                Phase.RETURN: f"returning to base, battery {self._battery:.0f} %"}.get(self.phase_)

    def task_started(self, t: float, task: GridTask) -> None:
        low = task.action in (Action.INSPECT, Action.HOVER)  # down to where the camera resolves enough
        self.task_alt, self.shots = (self.alt, camera.INSPECT_ALT_M if low else self.alt), 0

    def on_motion(self, t: float, task: GridTask, dt: float, moving: bool) -> None:
        c = self.district.center
        here = task.position()
        x, y = local_xy(here.lat, here.lon, c.lat, c.lon)
        if math.hypot(x - self.x, y - self.y) > 0.5:
            self.heading = math.degrees(math.atan2(x - self.x, y - self.y)) % 360.0
        self.x, self.y = x, y
        start_alt, spot_alt = self.task_alt
        self.alt = spot_alt + (start_alt - spot_alt) * (1.0 - min(1.0, task.travelled_m / max(task.length_m, 1.0)))
        self.speed = self.cruise_speed if moving else 0.0
        self._battery = max(0.0, self._battery - (FLY_DRAIN_PCT_PER_S if moving else HOVER_DRAIN_PCT_PER_S) * dt)
        # Every frame due by now (a compressed tick can span more than one).
        while task.action is Action.INSPECT and task.arrived and self.shots < len(FRAMES_AT) \
                and task.worked_s >= FRAMES_AT[self.shots] * task.work_s:
            self.shots += 1
            self._photo(t, camera.HFOV_DEG)

    def _below(self, t: float, radius_m: float) -> list[tuple[str, float, float]]:
        return self.scene(t, self.position(), radius_m) if self.scene is not None else []

    def _photo(self, t: float, hfov_deg: float) -> None:
        meta = camera.frame_meta(self.ctx.ts(t), self.next_msg_id(), self.position(), self.alt, self.heading,
                                 hfov_deg)
        jpeg = camera.capture(meta, self._below(t, camera.FRAME_RADIUS_M), seed=self.seq)
        self.frames.append((Topic(self.district.name, self.kind, self.device_id, Channel.FRAME), meta, jpeg))

    def finish(self, t: float, task: GridTask) -> list[SimMessage]:
        if task.action is not Action.INSPECT:
            return [self.event(t, "task_done", text=f"{task.action.value} done", value=100.0, cmd_id=task.cmd_id)]
        here = self.position()
        seen = sorted(self._below(t, SEE_RADIUS_M), key=lambda s: distance_m(here.lat, here.lon, s[1], s[2]))
        out: list[SimMessage] = []
        how = f"after {task.work_s:.0f} s hover, {self.shots} frames"
        if seen:
            label, conf = seen[0][0], round(self.rng.uniform(0.8, 0.95), 3)
            # The detection itself first: the observation path adds the drone as a second source.
            out.append(self.event(t, label, confidence=conf, text=f"onboard detection while verifying {task.cmd_id}"))
            out.append(self.event(t, "task_done", text=f"confirmed: {label} {conf:.2f} {how}", value=conf,
                                  cmd_id=task.cmd_id))
        else:
            out.append(self.event(t, "task_done", text=f"not seen: nothing within {SEE_RADIUS_M:.0f} m {how}",
                                  value=0.0, cmd_id=task.cmd_id))
        return out

    def task_ended(self, t: float, task: GridTask, finished: bool) -> list[SimMessage]:
        self.speed = 0.0
        # Home: land and swap the battery; otherwise climb back to cruise and fly the patrol on.
        self.phase_ = Phase.LANDING if finished and task.action is Action.RETURN_HOME else Phase.TAKEOFF
        return self.back_online(t)

    def tick(self, t: float, dt: float) -> list[SimMessage]:
        out: list[SimMessage] = []
        statuses: list[SimMessage] = []
        ph = self.phase_
        if self.executor.busy:
            out += self.step_task(t, dt)
        elif ph is Phase.GROUNDED:
            self.speed = 0.0
            self._battery = min(100.0, self._battery + 0.33 * dt)  # battery swap and top-up
            if self._battery >= 99.0:
                self.phase_, self.low_reported = Phase.TAKEOFF, False
                statuses.append(self.status(t, DeviceState.ONLINE))
        elif ph is Phase.TAKEOFF:
            self.speed = 0.0
            self.alt = min(self.cruise_alt, self.alt + CLIMB_M_S * dt)
            if self.alt >= self.cruise_alt:
                self.phase_ = Phase.PATROL
        elif ph is Phase.PATROL:
            if self._fly_to(*self.waypoints[self.wp], dt):
                self.wp = (self.wp + 1) % len(self.waypoints)
        elif ph is Phase.RETURN:
            if self._fly_to(*self.base, dt):
                self.phase_ = Phase.LANDING
        else:  # LANDING
            self.speed = 0.0
            self.alt = max(0.0, self.alt - DESCENT_M_S * dt)
            if self.alt <= 0.0:
                self.phase_ = Phase.GROUNDED
                statuses.append(self.status(t, DeviceState.CHARGING))

        if self.frame_interval_s > 0 and self.phase_ is Phase.PATROL and self.current is None \
                and t >= self.next_frame_t - 1e-6:  # tick times are sums of floats: 1 s may be 0.999...
            self._photo(t, camera.patrol_hfov(self.alt))
            self.next_frame_t = t + self.frame_interval_s
        if self.phase_ is not Phase.GROUNDED and self.current is None:  # a task drains by its own rates
            self._battery = max(0.0, self._battery - 0.045 * dt)
        if self.phase_ is Phase.PATROL and self._battery < RETURN_BATTERY_PCT:
            self.phase_ = Phase.RETURN
            if self.ctx.random_events and not self.low_reported:
                self.low_reported = True
                out.append(self.report(t, "low_battery", text="battery low, returning to base",
                                       value=round(self._battery, 1), unit="%"))

        metrics = {
            "battery_pct": round(self._battery, 1),
            "altitude_m": round(self.alt, 1),
            "speed_m_s": round(self.speed, 2),
            "heading_deg": round(self.heading, 1) % 360.0,
        }
        return [self.telemetry(t, metrics, with_position=True), *out, *statuses]
