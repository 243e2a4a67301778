"""Fixed city sensors: air quality, noise, water, smoke, gas, manhole, bin fill.

Each reading is the environment (time of day, traffic, sun, rain) times a per-device bias,
plus AR(1) noise with a one-minute correlation time, so values drift like real sensors and
do not depend on the publish rate. Scenario breaches are blended on top.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from devices.geography import District, LatLon, offset
from devices.metrics import PLAUSIBLE
from devices.topics import Kind
from simulators.device import SimContext, SimDevice, SimMessage, ar1, clamp
from simulators.environment import Environment, sun_factor, traffic_factor


@dataclass(frozen=True)
class SensorType:
    name: str
    prefix: str  # device ids are f"{prefix}-{n:04d}"
    metrics: tuple[str, ...]


SENSOR_TYPES: dict[str, SensorType] = {
    t.prefix: t
    for t in (
        SensorType("air_quality", "aq",
                   ("pm25", "pm10", "no2", "o3", "co", "temperature_c", "humidity_pct",
                    "battery_pct")),
        SensorType("noise", "noise", ("noise_db", "battery_pct")),
        SensorType("water", "wl", ("water_level_cm", "rainfall_mm_h", "battery_pct")),
        SensorType("smoke", "smoke", ("smoke_obscuration_pct", "temperature_c", "battery_pct")),
        SensorType("gas", "gas", ("gas_lel_pct", "battery_pct")),
        SensorType("manhole", "mh", ("manhole_tilt_deg", "vibration_mm_s", "battery_pct")),
        SensorType("bin", "bin", ("bin_fill_pct", "temperature_c", "battery_pct")),
    )
}
# Fleet mix, repeated: the first seven sensors cover every type, then 5:3:2:3:2:2:3 per 20.
SENSOR_MIX: tuple[str, ...] = (
    "aq", "noise", "wl", "smoke", "gas", "mh", "bin", "aq", "smoke", "noise",
    "bin", "aq", "smoke", "gas", "noise", "aq", "wl", "mh", "bin", "aq",
)
DECIMALS: dict[str, int] = {
    "co": 2, "smoke_obscuration_pct": 2, "manhole_tilt_deg": 2, "vibration_mm_s": 2,
}
NOISE_TAU_S = 60.0


@dataclass
class Breach:
    """A scenario incident showing on one sensor metric between ``start`` and ``end``."""

    metric: str
    peak: float
    start: float
    end: float
    ramp_s: float = 0.0
    weight: float = 1.0  # 1 on the device at the incident, less on neighbours
    on_seen: Callable[[float, str], None] | None = None  # (t, device_id) on every reading

    def shape(self, t: float) -> float:
        """0 outside the window, rising linearly over ``ramp_s`` to 1, and back at the end."""
        if not self.start <= t < self.end:
            return 0.0
        if self.ramp_s <= 0:
            return 1.0
        return min(1.0, (t - self.start) / self.ramp_s, (self.end - t) / self.ramp_s)


class Sensor(SimDevice):
    kind = Kind.SENSOR

    def __init__(self, device_id: str, district: District, ctx: SimContext,
                 stype: SensorType, env: Environment) -> None:
        super().__init__(device_id, district, ctx)
        self.stype = stype
        self.env = env
        rng = self.rng
        # Within ~2.5 km of the centre, where the street grid and the robots are.
        p = offset(district.center.lat, district.center.lon,
                   rng.uniform(-2500, 2500), rng.uniform(-2500, 2500))
        self.location = LatLon(clamp(p.lat, district.bbox.south, district.bbox.north),
                               clamp(p.lon, district.bbox.west, district.bbox.east))
        self.bias = rng.uniform(0.85, 1.15)
        self.offset_c = rng.uniform(-0.8, 0.8)
        self._battery = rng.uniform(45.0, 100.0)
        self.noise = dict.fromkeys(stype.metrics, 0.0)
        self.tilt_base = rng.uniform(0.2, 1.5)
        self.bin_fill = rng.uniform(3.0, 55.0)
        self.bin_rate_h = rng.uniform(1.5, 5.0)
        self.bin_collect_at = rng.uniform(70.0, 82.0)
        self.water_cm = 0.0
        self.breaches: list[Breach] = []
        self._gens = [(m, self.GENERATORS[m]) for m in stype.metrics]

    @property
    def battery_pct(self) -> float:
        return self._battery

    def position(self) -> LatLon:
        return self.location

    def _n(self, metric: str, sigma: float, dt: float) -> float:
        v = ar1(self.noise[metric], sigma, dt, NOISE_TAU_S, self.rng)
        self.noise[metric] = v
        return v

    # One generator per metric: value from (t, dt, local hour, traffic factor).
    def _pm25(self, t: float, dt: float, hour: float, tf: float) -> float:
        return 22.0 * self.bias * (0.75 + 0.5 * tf) + self._n("pm25", 2.0, dt)

    def _pm10(self, t: float, dt: float, hour: float, tf: float) -> float:
        return 38.0 * self.bias * (0.75 + 0.5 * tf) + self._n("pm10", 3.5, dt)

    def _no2(self, t: float, dt: float, hour: float, tf: float) -> float:
        return 18.0 * self.bias + 32.0 * tf + self._n("no2", 3.0, dt)

    def _o3(self, t: float, dt: float, hour: float, tf: float) -> float:
        return 30.0 * self.bias + 60.0 * sun_factor(hour) + self._n("o3", 4.0, dt)

    def _co(self, t: float, dt: float, hour: float, tf: float) -> float:
        return 0.5 * self.bias + 0.4 * tf + self._n("co", 0.05, dt)

    def _temperature(self, t: float, dt: float, hour: float, tf: float) -> float:
        return self.env.temperature_c(hour) + self.offset_c + self._n("temperature_c", 0.2, dt)

    def _humidity(self, t: float, dt: float, hour: float, tf: float) -> float:
        return (74.0 - 12.0 * sun_factor(hour) + 4.0 * (self.bias - 1.0)
                + self._n("humidity_pct", 1.5, dt))

    def _noise(self, t: float, dt: float, hour: float, tf: float) -> float:
        return 44.0 * self.bias + 16.0 * tf + self._n("noise_db", 1.5, dt)

    def _rainfall(self, t: float, dt: float, hour: float, tf: float) -> float:
        return self.env.rainfall_mm_h(self.district.name, t)

    def _water(self, t: float, dt: float, hour: float, tf: float) -> float:
        # Standing water on the street follows rain with a ~15 min lag; dry is ~0.
        target = 0.35 * self.env.rainfall_mm_h(self.district.name, t)
        self.water_cm += (target - self.water_cm) * min(1.0, dt / 900.0)
        return self.water_cm + abs(self._n("water_level_cm", 0.15, dt))

    def _smoke(self, t: float, dt: float, hour: float, tf: float) -> float:
        return 0.02 * self.bias + abs(self._n("smoke_obscuration_pct", 0.015, dt))

    def _gas(self, t: float, dt: float, hour: float, tf: float) -> float:
        return 0.3 * self.bias + abs(self._n("gas_lel_pct", 0.15, dt))

    def _tilt(self, t: float, dt: float, hour: float, tf: float) -> float:
        return self.tilt_base + self._n("manhole_tilt_deg", 0.05, dt)

    def _vibration(self, t: float, dt: float, hour: float, tf: float) -> float:
        return 0.2 * self.bias + 1.5 * tf + abs(self._n("vibration_mm_s", 0.2, dt))

    def _bin(self, t: float, dt: float, hour: float, tf: float) -> float:
        self.bin_fill += self.bin_rate_h * (0.3 + tf) * dt / 3600.0
        if self.bin_fill >= self.bin_collect_at:  # the collection round empties it
            self.bin_fill = self.rng.uniform(1.0, 5.0)
        return self.bin_fill

    def _battery_drain(self, t: float, dt: float, hour: float, tf: float) -> float:
        self._battery = max(20.0, self._battery - 0.4 * dt / 86400.0)
        return self._battery

    GENERATORS: ClassVar[dict[str, Callable[[Sensor, float, float, float, float], float]]] = {
        "pm25": _pm25, "pm10": _pm10, "no2": _no2, "o3": _o3, "co": _co,
        "temperature_c": _temperature, "humidity_pct": _humidity, "noise_db": _noise,
        "rainfall_mm_h": _rainfall, "water_level_cm": _water,
        "smoke_obscuration_pct": _smoke, "gas_lel_pct": _gas, "manhole_tilt_deg": _tilt,
        "vibration_mm_s": _vibration, "bin_fill_pct": _bin, "battery_pct": _battery_drain,
    }

    def tick(self, t: float, dt: float) -> list[SimMessage]:
        hour = self.ctx.local_hour(t)
        tf = traffic_factor(hour)
        metrics = {metric: gen(self, t, dt, hour, tf) for metric, gen in self._gens}
        for br in self.breaches:
            s = br.shape(t)
            if s > 0.0 and br.metric in metrics:
                natural = metrics[br.metric]
                jitter = self.rng.gauss(0.0, 0.02) * abs(br.peak - natural)
                metrics[br.metric] = natural + ((br.peak - natural) * br.weight + jitter) * s
                if br.on_seen is not None:
                    br.on_seen(t, self.device_id)
        for metric, value in metrics.items():
            low, high = PLAUSIBLE[metric]
            metrics[metric] = round(clamp(value, low, high), DECIMALS.get(metric, 1))
        return [self.telemetry(t, metrics, with_position=False)]
