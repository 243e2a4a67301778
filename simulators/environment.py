"""The city's shared conditions sensors read: time of day, traffic, sun, season, rain.

Kept calm on purpose: on an ordinary day nothing here crosses an incident threshold (see
``triage/thresholds.py``), so every alarm in a run comes from a scenario or a robot event.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime

from simulators.device import SimContext


def traffic_factor(hour: float) -> float:
    """0 at night .. ~1 at rush hours (08:30, 18:30)."""
    day = 0.35 if 7.0 <= hour <= 22.0 else 0.05
    am = math.exp(-(((hour - 8.5) / 1.4) ** 2))
    pm = math.exp(-(((hour - 18.5) / 1.8) ** 2))
    return min(1.0, day + 0.65 * max(am, pm))


def sun_factor(hour: float) -> float:
    """Solar elevation proxy: 0 at night, 1 at 13:00."""
    return max(0.0, math.sin(math.pi * (hour - 6.5) / 13.0)) if 6.5 <= hour <= 19.5 else 0.0


def seasonal_temperature_c(when: datetime) -> float:
    """Shenzhen monthly mean: ~15 °C in January, ~29 °C in July."""
    day = when.timetuple().tm_yday
    return 22.0 - 7.0 * math.cos(2 * math.pi * (day - 15) / 365.0)


@dataclass
class Weather:
    """Light showers per district: each hour may hold one, drawn from the seed and the hour.

    Intensity stays below the rainstorm tiers (20 mm/h and up); a scenario injects storms.
    """

    ctx: SimContext
    district: str
    _hours: dict[int, tuple[float, float, float] | None] = field(default_factory=dict)

    def _shower(self, hour_index: int) -> tuple[float, float, float] | None:
        if hour_index not in self._hours:
            rng = random.Random(f"{self.ctx.seed}/rain/{self.district}/{hour_index}")
            shower = None
            if rng.random() < 0.12:
                start = hour_index * 3600.0 + rng.uniform(0, 3600)
                shower = (start, rng.uniform(600, 2400), rng.uniform(0.5, 8.0))
            self._hours[hour_index] = shower
        return self._hours[hour_index]

    def rainfall_mm_h(self, t: float) -> float:
        epoch = self.ctx.start_epoch + t
        k = int(epoch // 3600)
        total = 0.0
        for idx in (k - 1, k):
            shower = self._shower(idx)
            if shower and shower[0] <= epoch < shower[0] + shower[1]:
                total += shower[2] * math.sin(math.pi * (epoch - shower[0]) / shower[1])
        return total


@dataclass
class Environment:
    """Per-run shared state: weather per district and the season."""

    ctx: SimContext
    weather: dict[str, Weather] = field(default_factory=dict)
    season_c: float = field(init=False)

    def __post_init__(self) -> None:
        self.season_c = seasonal_temperature_c(self.ctx.start)  # runs last hours, not months

    def rainfall_mm_h(self, district: str, t: float) -> float:
        w = self.weather.get(district)
        if w is None:
            w = self.weather[district] = Weather(self.ctx, district)
        return w.rainfall_mm_h(t)

    def temperature_c(self, hour: float) -> float:
        return self.season_c + 3.5 * math.sin(2 * math.pi * (hour - 9.0) / 24.0)
