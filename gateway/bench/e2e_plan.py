"""The ``bench e2e`` scenario: devices, a quiet control, and incidents planted with ground truth.

Pure and deterministic (no clock, no I/O): ``build_plan`` lays out

- background devices that report ordinary values the whole run and are never planted: sensors
  on their own spots, robots, and patrolling drones whose camera frames show nothing planted
  except where a visual incident lies on their track;
- a quiet control, the first ``quiet_s`` seconds, when nothing at all is planted;
- then incidents one after another, the four sources in turn: a sensor crossing a documented
  threshold, a robot's event, a citizen's Open311 report, an object under a drone's track.

Every incident has a spot of its own, at least ``SPOT_SPACING_M`` from any other (more than the
widest correlation radius, 500 m for air quality), so a right platform opens one incident for
each; the drones fly between the columns of spots, ``SPOT_SPACING_M / 2`` from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from citypack.cached import geography
from devices.geography import LatLon, distance_m, offset

SPOT_SPACING_M = 1100.0
SENSOR_NORMAL: dict[str, float] = {
    "pm25": 28.0, "noise_db": 56.0, "temperature_c": 27.0, "humidity_pct": 70.0,
    "smoke_obscuration_pct": 0.3, "water_level_cm": 0.0, "manhole_tilt_deg": 0.5,
}
# A sensor breach: the readings it sends while planted, and the category a right ticket has.
SENSOR_BREACHES: tuple[tuple[dict[str, float], str], ...] = (
    ({"smoke_obscuration_pct": 12.0, "temperature_c": 62.0}, "fire"),
    ({"water_level_cm": 35.0}, "flood"),
    ({"pm25": 160.0}, "air_quality"),
    ({"noise_db": 96.0}, "noise"),
    ({"manhole_tilt_deg": 35.0}, "infrastructure"),
)
ROBOT_EVENTS: tuple[tuple[str, str, str], ...] = (
    ("spill", "food waste and drink spilled across the walkway", "sanitation"),
    ("obstacle", "a broken barrier lies across the footpath", "road_hazard"),
    ("bin_full", "roadside bin overflowing", "sanitation"),
)
CITIZEN_REPORTS: tuple[tuple[str, str, str], ...] = (
    ("sanitation", "垃圾堆在路边好几天了，臭味很大，没人清理", "sanitation"),
    ("road_hazard", "There is a deep pothole in the middle of the lane, cars swerve around it", "road_hazard"),
    ("noise", "工地每天晚上十二点以后还在施工，噪音太大睡不着", "noise"),
    ("flood", "The underpass is flooded, water is knee deep and a car is stuck", "flood"),
)
VISION_OBJECTS: tuple[tuple[str, str], ...] = (
    ("garbage", "sanitation"), ("pothole", "road_hazard"), ("fire", "fire"), ("flooding", "flood"),
)
SOURCES = ("sensor", "robot", "citizen", "vision")
HOLD_S = 8.0  # a breach lasts this long, then the sensor reads normal again
DRONE_SPEED_M_S = 10.0
DRONE_ALT_M = 100.0  # cruise altitude; the patrol camera zooms to 5 cm/px (simulators.camera)
FOOTPRINT_HALF_M = (16.0, 12.0)  # 32 x 24 m: across, along the track (640 x 480 px at 5 cm/px)
# Planted this far past the frame centre at its planned time, so that frame is the first to show it.
VISION_LEAD_M = 10.0


@dataclass(frozen=True)
class Device:
    device_id: str
    district: str
    kind: str  # sensor | robot | drone
    spot: LatLon  # a drone's start; it flies north from there


@dataclass(frozen=True)
class Incident:
    incident_id: str
    source: str  # sensor | robot | citizen | vision
    at_s: float  # planned first sign, seconds after the scenario starts
    category: str  # what a right ticket says
    district: str
    spot: LatLon
    device_id: str | None = None  # the sensor, robot or drone that shows it
    readings: dict[str, float] = field(default_factory=dict)  # sensor breach
    label: str | None = None  # robot event or vision object
    text: str | None = None  # robot event text or citizen report
    service_code: str | None = None  # citizen report


@dataclass(frozen=True)
class Plan:
    duration_s: float
    quiet_s: float
    devices: list[Device]
    incidents: list[Incident]

    def of_kind(self, kind: str) -> list[Device]:
        return [d for d in self.devices if d.kind == kind]


def _spots(district: str) -> list[LatLon]:
    """A 5 x 5 grid around the district centre inside its bounds; the middle (zones) skipped."""
    d = geography()[district]
    spots = [offset(d.center.lat, d.center.lon, i * SPOT_SPACING_M, j * SPOT_SPACING_M)
             for i in range(-2, 3) for j in range(-2, 3) if (i, j) != (0, 0)]
    return [s for s in spots if d.contains(s.lat, s.lon)]


def drone_start(district: str, index: int) -> LatLon:
    """Between two columns of spots, south of the centre: nothing planted within half a spacing."""
    c = geography()[district].center
    return offset(c.lat, c.lon, (-0.5 + index) * SPOT_SPACING_M, -1.5 * SPOT_SPACING_M)


def drone_position(start: LatLon, t_s: float) -> LatLon:
    return offset(start.lat, start.lon, 0.0, DRONE_SPEED_M_S * t_s)


def per_source(duration_s: float) -> int:
    """Incidents of each source: one every ~3 s of the planted window, at least two."""
    window = duration_s * 0.85 - quiet_seconds(duration_s)
    return max(2, int(window / 12.0))


def quiet_seconds(duration_s: float) -> float:
    return max(10.0, round(duration_s * 0.25))


def build_plan(duration_s: float, drones: int = 2, background_sensors: int = 8, background_robots: int = 1,
               vision: bool = True) -> Plan:
    """``vision`` False: no drones and no visual incidents (a gateway without the vision extra)."""
    sources = SOURCES if vision else SOURCES[:3]
    drones = drones if vision else 0
    quiet = quiet_seconds(duration_s)
    n = per_source(duration_s)
    window = duration_s * 0.85 - quiet
    districts = list(geography())
    free = {d: _spots(d) for d in districts}
    turn = [0]

    def next_spot() -> tuple[str, LatLon]:
        for _ in range(len(districts) * 30):
            d = districts[turn[0] % len(districts)]
            turn[0] += 1
            if free[d]:
                return d, free[d].pop(0)
        raise ValueError("scenario too large: no free spot left")

    devices: list[Device] = []
    flyers = [Device(f"e2e-drone-{k:02d}", districts[k % len(districts)], "drone",
                     drone_start(districts[k % len(districts)], k // len(districts))) for k in range(drones)]
    devices += flyers
    incidents: list[Incident] = []
    total = n * len(sources)
    for k in range(total):
        source = sources[k % len(sources)]
        at = round(quiet + (k + 0.5) * window / total)  # whole seconds: sensors and drones report on the tick
        m = k // len(sources)
        iid = f"{source}-{m + 1:02d}"
        if source == "vision":
            drone = flyers[m % len(flyers)]
            pos = drone_position(drone.spot, at)
            label, category = VISION_OBJECTS[m % len(VISION_OBJECTS)]
            side = 5.0 if m % 2 else -5.0
            spot = offset(pos.lat, pos.lon, side, VISION_LEAD_M)
            incidents.append(Incident(iid, source, at, category, drone.district, spot, drone.device_id, label=label))
            continue
        district, spot = next_spot()
        if source == "sensor":
            readings, category = SENSOR_BREACHES[m % len(SENSOR_BREACHES)]
            dev = Device(f"e2e-sensor-p{m + 1:02d}", district, "sensor", spot)
            devices.append(dev)
            incidents.append(Incident(iid, source, at, category, district, spot, dev.device_id, readings=readings))
        elif source == "robot":
            label, text, category = ROBOT_EVENTS[m % len(ROBOT_EVENTS)]
            dev = Device(f"e2e-robot-p{m + 1:02d}", district, "robot", spot)
            devices.append(dev)
            incidents.append(Incident(iid, source, at, category, district, spot, dev.device_id, label=label,
                                      text=text))
        else:
            code, text, category = CITIZEN_REPORTS[m % len(CITIZEN_REPORTS)]
            incidents.append(Incident(iid, source, at, category, district, spot, text=text, service_code=code))
    for b in range(background_sensors):
        district, spot = next_spot()
        devices.append(Device(f"e2e-sensor-q{b + 1:02d}", district, "sensor", spot))
    for b in range(background_robots):
        district, spot = next_spot()
        devices.append(Device(f"e2e-robot-q{b + 1:02d}", district, "robot", spot))
    return Plan(duration_s, quiet, devices, incidents)


def in_footprint(camera: LatLon, target: LatLon) -> bool:
    """A target is in a north-heading straight-down frame taken at ``camera``."""
    north = distance_m(camera.lat, camera.lon, target.lat, camera.lon) * (1 if target.lat >= camera.lat else -1)
    east = distance_m(camera.lat, camera.lon, camera.lat, target.lon)
    return east <= FOOTPRINT_HALF_M[0] and abs(north) <= FOOTPRINT_HALF_M[1]
