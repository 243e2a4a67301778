"""Per-metric sensor thresholds with hysteresis: telemetry in, observations out.

A level is entered when the value reaches it and left only when the value falls
``hysteresis`` below it, so a reading hovering on the line raises one observation, not one
per message. Values are for outdoor city sensors; where a standard exists it is named.

| metric | category | levels (severity at or above) | hysteresis | basis |
| --- | --- | --- | --- | --- |
| pm25 µg/m³ | air_quality | 75 low, 115 medium, 150 high, 250 critical | 10 | HJ 633 AQI 100/150/200/300 |
| pm10 µg/m³ | air_quality | 150 low, 250 medium, 350 high, 420 critical | 15 | HJ 633 AQI 100/150/200/300 |
| no2 µg/m³ (1 h) | air_quality | 200 low, 700 medium, 1200 high, 2340 critical | 20 | HJ 633 1-h breakpoints |
| o3 µg/m³ (1 h) | air_quality | 200 low, 300 medium, 400 high, 800 critical | 15 | HJ 633 1-h breakpoints |
| co mg/m³ (1 h) | air_quality | 10 low, 35 medium, 60 high, 90 critical | 2 | HJ 633 1-h breakpoints |
| noise_db dB(A) | noise | 70 low, 85 medium, 100 high | 3 | GB 3096 limits + nuisance margin |
| water_level_cm (standing) | flood | 10 low, 20 medium, 30 high, 50 critical | 3 | 30 cm stalls cars |
| rainfall_mm_h | flood | 20 low, 30 medium, 50 high, 80 critical | 2 | rainstorm warning tiers |
| temperature_c | fire | 57 medium, 80 high | 2 | 57 °C fixed-temperature heat detector |
| smoke_obscuration_pct %/m | fire | 4 medium, 10 high | 1 | point smoke detector alarm band |
| gas_lel_pct %LEL | fire | 5 medium, 10 high, 20 critical | 1 | 10 % / 20 % LEL first/second alarm |
| manhole_tilt_deg | infrastructure | 10 medium, 30 high | 1 | cover lifted / open |
| bin_fill_pct | sanitation | 90 low | 5 | collection trigger |
| vibration_mm_s | infrastructure | 5 low, 15 medium, 30 high, 50 critical | 1 | DIN 4150-3 structure limits |
| battery_pct (below) | device_fault | 15 low, 5 medium | 5 | replace before it goes dark |

Values outside the physically plausible range (``devices.metrics.PLAUSIBLE``) are a sensor
fault, reported as a ``device`` observation ``implausible_value``, never as an incident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from devices.metrics import PLAUSIBLE
from triage.models import Category, Observation, Position, Severity, Source

S = Severity


class Direction(StrEnum):
    ABOVE = "above"
    BELOW = "below"


@dataclass(frozen=True)
class MetricThreshold:
    metric: str
    category: Category
    levels: tuple[tuple[float, Severity], ...]  # in order of rising severity
    hysteresis: float
    direction: Direction = Direction.ABOVE

    def _reaches(self, value: float, limit: float, slack: float = 0.0) -> bool:
        if self.direction is Direction.ABOVE:
            return value >= limit - slack
        return value <= limit + slack

    def level_index(self, value: float, slack: float = 0.0) -> int:
        """Index of the highest level ``value`` reaches (-1 for none)."""
        index = -1
        for i, (limit, _) in enumerate(self.levels):
            if self._reaches(value, limit, slack):
                index = i
        return index


def _t(metric: str, category: Category, levels: list[tuple[float, Severity]], hyst: float,
       direction: Direction = Direction.ABOVE) -> MetricThreshold:
    return MetricThreshold(metric, category, tuple(levels), hyst, direction)


_AQ, _FL, _FI = Category.AIR_QUALITY, Category.FLOOD, Category.FIRE
THRESHOLDS: Final = MappingProxyType({
    t.metric: t
    for t in (
        _t("pm25", _AQ, [(75, S.LOW), (115, S.MEDIUM), (150, S.HIGH), (250, S.CRITICAL)], 10),
        _t("pm10", _AQ, [(150, S.LOW), (250, S.MEDIUM), (350, S.HIGH), (420, S.CRITICAL)], 15),
        _t("no2", _AQ, [(200, S.LOW), (700, S.MEDIUM), (1200, S.HIGH), (2340, S.CRITICAL)], 20),
        _t("o3", _AQ, [(200, S.LOW), (300, S.MEDIUM), (400, S.HIGH), (800, S.CRITICAL)], 15),
        _t("co", _AQ, [(10, S.LOW), (35, S.MEDIUM), (60, S.HIGH), (90, S.CRITICAL)], 2),
        _t("noise_db", Category.NOISE, [(70, S.LOW), (85, S.MEDIUM), (100, S.HIGH)], 3),
        _t("water_level_cm", _FL, [(10, S.LOW), (20, S.MEDIUM), (30, S.HIGH), (50, S.CRITICAL)], 3),
        _t("rainfall_mm_h", _FL, [(20, S.LOW), (30, S.MEDIUM), (50, S.HIGH), (80, S.CRITICAL)], 2),
        _t("temperature_c", _FI, [(57, S.MEDIUM), (80, S.HIGH)], 2),
        _t("smoke_obscuration_pct", _FI, [(4, S.MEDIUM), (10, S.HIGH)], 1),
        _t("gas_lel_pct", _FI, [(5, S.MEDIUM), (10, S.HIGH), (20, S.CRITICAL)], 1),
        _t("manhole_tilt_deg", Category.INFRASTRUCTURE, [(10, S.MEDIUM), (30, S.HIGH)], 1),
        _t("bin_fill_pct", Category.SANITATION, [(90, S.LOW)], 5),
        _t("vibration_mm_s", Category.INFRASTRUCTURE,
           [(5, S.LOW), (15, S.MEDIUM), (30, S.HIGH), (50, S.CRITICAL)], 1),
        _t("battery_pct", Category.DEVICE_FAULT, [(15, S.LOW), (5, S.MEDIUM)], 5, Direction.BELOW),
    )
})


def is_plausible(metric: str, value: float) -> bool:
    low, high = PLAUSIBLE.get(metric, (float("-inf"), float("inf")))
    return low <= value <= high


def level_for(metric: str, value: float) -> tuple[Category, Severity] | None:
    """Stateless: the category and severity a single reading implies, if any."""
    threshold = THRESHOLDS.get(metric)
    if threshold is None:
        return None
    index = threshold.level_index(value)
    return None if index < 0 else (threshold.category, threshold.levels[index][1])


@dataclass(frozen=True)
class ThresholdChange:
    """A level entered or left by one device's metric (or an implausible reading)."""

    device_id: str
    metric: str
    value: float
    previous: Severity | None
    current: Severity | None
    observation: Observation | None  # set when a level is entered or the value is implausible

    @property
    def raised(self) -> bool:
        before = -1 if self.previous is None else self.previous.rank
        return self.current is not None and self.current.rank > before


@dataclass
class ThresholdTracker:
    """Hysteresis state per (device_id, metric); feed it every reading in time order."""

    _state: dict[tuple[str, str], int] = field(default_factory=dict)
    _faulty: set[tuple[str, str]] = field(default_factory=set)

    def update(self, device_id: str, metric: str, value: float, *, ts: datetime | None = None,
               device_kind: str | None = "sensor",
               position: Position | None = None) -> ThresholdChange | None:
        key = (device_id, metric)
        if not is_plausible(metric, value):
            if key in self._faulty:  # reported once per fault, not once per reading
                return None
            self._faulty.add(key)
            fault = Observation(source=Source.DEVICE, device_id=device_id, device_kind=device_kind,
                                ts=ts, label="implausible_value", metric=metric, value=value,
                                position=position)
            return ThresholdChange(device_id, metric, value, None, None, fault)
        self._faulty.discard(key)
        threshold = THRESHOLDS.get(metric)
        if threshold is None:
            return None
        old = self._state.get(key, -1)
        up = threshold.level_index(value)
        # enter a level at once; leave it only once the value is clear by the hysteresis margin
        new = up if up > old else min(old, threshold.level_index(value, slack=threshold.hysteresis))
        if new == old:
            return None
        self._state[key] = new
        previous = None if old < 0 else threshold.levels[old][1]
        current = None if new < 0 else threshold.levels[new][1]
        obs: Observation | None = None
        if new > old:
            obs = Observation(source=Source.SENSOR, device_id=device_id, device_kind=device_kind,
                              ts=ts, metric=metric, value=value, position=position)
        return ThresholdChange(device_id, metric, value, previous, current, obs)

    def knows(self, device_id: str, metric: str) -> bool:
        return (device_id, metric) in self._state

    def seed(self, device_id: str, metric: str, reading: float | None, raised: float | None) -> None:
        """Start a key this process has not seen (a restart, or a device another gateway used
        to read) from its last reading and the value of its last raised observation: at the
        reading's level, but never above the level an observation was raised for, so a level
        already reported is not reported again and one never reported still is."""
        threshold = THRESHOLDS.get(metric)
        if threshold is None or (device_id, metric) in self._state:
            return

        def level(value: float | None, slack: float = 0.0) -> int:
            if value is None or not is_plausible(metric, value):
                return -1
            return threshold.level_index(value, slack)

        # The reading is read with the hysteresis margin (a level is left only past it); the cap
        # keeps that from skipping a level never reported.
        self._state[(device_id, metric)] = min(level(reading, threshold.hysteresis), level(raised))

    def level(self, device_id: str, metric: str) -> Severity | None:
        threshold = THRESHOLDS.get(metric)
        index = self._state.get((device_id, metric), -1)
        return None if threshold is None or index < 0 else threshold.levels[index][1]
