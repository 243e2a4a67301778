"""Sensor thresholds: documented levels, hysteresis that does not flap, faults once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devices.metrics import SENSOR_METRICS
from triage.models import Category, Severity, Source
from triage.thresholds import THRESHOLDS, Direction, ThresholdTracker, level_for

T0 = datetime(2026, 11, 28, tzinfo=UTC)


def test_every_threshold_is_a_known_metric_with_rising_levels() -> None:
    for name, t in THRESHOLDS.items():
        assert name in SENSOR_METRICS
        severities = [s.rank for _, s in t.levels]
        assert severities == sorted(severities), name
        limits = [v for v, _ in t.levels]
        assert limits == sorted(limits, reverse=t.direction is Direction.BELOW), name
        assert t.hysteresis > 0


@pytest.mark.parametrize(("metric", "value", "expected"), [
    ("pm25", 74.9, None), ("pm25", 75, (Category.AIR_QUALITY, Severity.LOW)),
    ("pm25", 310, (Category.AIR_QUALITY, Severity.CRITICAL)),
    ("gas_lel_pct", 10, (Category.FIRE, Severity.HIGH)),
    ("water_level_cm", 31, (Category.FLOOD, Severity.HIGH)),
    ("battery_pct", 12, (Category.DEVICE_FAULT, Severity.LOW)),
    ("battery_pct", 4, (Category.DEVICE_FAULT, Severity.MEDIUM)),
    ("battery_pct", 80, None), ("humidity_pct", 99, None),
])
def test_level_for(metric: str, value: float, expected: tuple[Category, Severity] | None) -> None:
    assert level_for(metric, value) == expected


def test_hovering_value_raises_once_and_clears_only_past_hysteresis() -> None:
    tracker = ThresholdTracker()
    readings = [74, 75.5, 74.5, 76, 74.9, 75.2, 70, 66, 64.9, 76]
    changes = [tracker.update("aq-1", "pm25", v, ts=T0) for v in readings]
    raised = [c for c in changes if c is not None and c.raised]
    assert len(raised) == 2  # at 75.5, and again at 76 only after clearing below 65
    assert changes[1] is not None and changes[1].observation is not None
    obs = changes[1].observation
    assert (obs.source, obs.metric, obs.value) == (Source.SENSOR, "pm25", 75.5)
    cleared = changes[8]
    assert cleared is not None and cleared.current is None and cleared.observation is None
    assert all(c is None for c in changes[2:8])


def test_rising_through_levels_reports_each_step() -> None:
    tracker = ThresholdTracker()
    steps = [tracker.update("gas-1", "gas_lel_pct", v) for v in (3, 6, 11, 9.5, 25)]
    assert [c.current if c else None for c in steps] == [
        None, Severity.MEDIUM, Severity.HIGH, None, Severity.CRITICAL]
    assert tracker.level("gas-1", "gas_lel_pct") is Severity.CRITICAL


def test_below_direction_with_hysteresis() -> None:
    tracker = ThresholdTracker()
    assert tracker.update("s", "battery_pct", 14) is not None
    assert tracker.update("s", "battery_pct", 17) is None  # inside the 5-point margin
    drop = tracker.update("s", "battery_pct", 21)
    assert drop is not None and drop.current is None


def test_implausible_reading_reported_once_per_fault() -> None:
    tracker = ThresholdTracker()
    first = tracker.update("aq-9", "pm25", 4000)
    assert first is not None and first.observation is not None
    assert first.observation.label == "implausible_value" and first.observation.source is Source.DEVICE
    assert tracker.update("aq-9", "pm25", 4100) is None
    assert tracker.update("aq-9", "pm25", 20) is None
    assert tracker.update("aq-9", "pm25", 4000) is not None


@pytest.mark.parametrize(("reading", "raised", "next_value", "observed"), [
    (45.0, 45.0, 46.0, False),  # high already reported: no second observation after a restart
    (45.0, None, 46.0, True),   # high reached but its observation was lost: reported now
    (28.5, 31.0, 31.0, False),  # inside the hysteresis margin of high, which was reported
    (2.0, 45.0, 46.0, True),    # back to normal since: a new rise is a new observation
    (45.0, 22.0, 46.0, True),   # medium reported, high never was
    (None, None, 46.0, True),   # no history: as before
])
def test_seeded_state_neither_repeats_nor_swallows_a_level(
        reading: float | None, raised: float | None, next_value: float, observed: bool) -> None:
    tracker = ThresholdTracker()
    tracker.seed("wl-1", "water_level_cm", reading, raised)
    change = tracker.update("wl-1", "water_level_cm", next_value)
    assert (change is not None and change.observation is not None) is observed
