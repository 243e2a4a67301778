"""Metric names per device kind (SPEC §2); units are in the name or fixed below."""

from __future__ import annotations

from devices.topics import Kind

SENSOR_METRICS: frozenset[str] = frozenset(
    {
        "pm25", "pm10", "no2", "o3", "co", "noise_db", "water_level_cm", "rainfall_mm_h",
        "temperature_c", "humidity_pct", "smoke_obscuration_pct", "gas_lel_pct",
        "manhole_tilt_deg", "bin_fill_pct", "vibration_mm_s", "battery_pct",
    }
)
ROBOT_METRICS: frozenset[str] = frozenset(
    {"battery_pct", "speed_m_s", "bin_fill_pct", "brush_rpm", "water_tank_pct"}
)
DRONE_METRICS: frozenset[str] = frozenset({"battery_pct", "altitude_m", "speed_m_s", "heading_deg"})

METRICS_BY_KIND: dict[Kind, frozenset[str]] = {
    Kind.SENSOR: SENSOR_METRICS,
    Kind.ROBOT: ROBOT_METRICS,
    Kind.DRONE: DRONE_METRICS,
}

UNITS: dict[str, str] = {
    "pm25": "µg/m³", "pm10": "µg/m³", "no2": "µg/m³", "o3": "µg/m³", "co": "mg/m³",
    "noise_db": "dB(A)", "water_level_cm": "cm", "rainfall_mm_h": "mm/h",
    "temperature_c": "°C", "humidity_pct": "%", "smoke_obscuration_pct": "%/m",
    "gas_lel_pct": "%LEL", "manhole_tilt_deg": "°", "bin_fill_pct": "%",
    "vibration_mm_s": "mm/s", "battery_pct": "%", "speed_m_s": "m/s", "brush_rpm": "rpm",
    "water_tank_pct": "%", "altitude_m": "m", "heading_deg": "°",
}

# Physically possible ranges: a value outside is a sensor fault, not an incident.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "pm25": (0, 2000), "pm10": (0, 3000), "no2": (0, 2000), "o3": (0, 1000), "co": (0, 500),
    "noise_db": (0, 160), "water_level_cm": (-50, 1000), "rainfall_mm_h": (0, 500),
    "temperature_c": (-60, 120), "humidity_pct": (0, 100), "smoke_obscuration_pct": (0, 100),
    "gas_lel_pct": (0, 100), "manhole_tilt_deg": (0, 180), "bin_fill_pct": (0, 100),
    "vibration_mm_s": (0, 1000), "battery_pct": (0, 100), "speed_m_s": (0, 100),
    "brush_rpm": (0, 5000), "water_tank_pct": (0, 100), "altitude_m": (-100, 10000),
    "heading_deg": (0, 360),
}
