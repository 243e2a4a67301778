"""Inspection drones: take off from the district's base, fly a patrol loop, come home to swap
batteries.

Motion is in local metres east/north of the district centre and converted to lat/lon for
the payload. A full battery is about 37 minutes of flight; below 40 % the drone flies home, lands
and is back in the air about five minutes later.
"""

from __future__ import annotations

import math
from enum import StrEnum

from devices.payloads import DeviceState
from devices.topics import Kind
from simulators.device import SimContext, SimDevice, SimMessage, clamp
from simulators.geography import District, LatLon, local_xy, offset

RETURN_BATTERY_PCT = 40.0  # the farthest waypoint home still lands above 15 %
CLIMB_M_S = 3.0
DESCENT_M_S = 2.0


class Phase(StrEnum):
    GROUNDED = "grounded"
    TAKEOFF = "takeoff"
    PATROL = "patrol"
    RETURN = "return"
    LANDING = "landing"


class Drone(SimDevice):
    kind = Kind.DRONE

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

    def tick(self, t: float, dt: float) -> list[SimMessage]:
        out: list[SimMessage] = []
        statuses: list[SimMessage] = []
        ph = self.phase_
        if ph is Phase.GROUNDED:
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

        if self.phase_ is not Phase.GROUNDED:
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
