"""Unit and frame conversions between ROS 2 conventions and the platform's.

Time: ``builtin_interfaces/Time`` (sec, nanosec since the epoch) ↔ aware UTC datetimes
(microsecond precision, as everywhere in the platform).

Heading: ROS (REP 103) orientation is a quaternion in an ENU frame, yaw counter-clockwise
from East; the platform's ``heading_deg`` is a compass heading, clockwise from North,
in [0, 360). ``heading = (90° − yaw) mod 360``. This assumes the odometry frame is aligned
with East/North (REP 105 ``map``/``odom`` frames fused with GPS, e.g. navsat_transform).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# heading_deg is rounded to this many decimals: the quaternion round trip adds ~1e-13 noise.
HEADING_DECIMALS = 6
# BatteryState.percentage is float32; rounding to 4 decimals (0.0001 %) removes the float32
# noise and gives back any percentage that had at most 4 decimals exactly.
BATTERY_DECIMALS = 4


def to_ns(ts: datetime) -> int:
    """Exact integer nanoseconds since the epoch (no float rounding)."""
    if ts.tzinfo is None:
        raise ValueError("naive datetime: timestamps must be timezone-aware")
    delta = ts - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def from_ns(ns: int) -> datetime:
    return EPOCH + timedelta(microseconds=ns // 1_000)


def stamp_parts(ts: datetime) -> tuple[int, int]:
    sec, nsec = divmod(to_ns(ts), 1_000_000_000)
    return sec, nsec


def stamp_to_datetime(sec: int, nanosec: int) -> datetime | None:
    """A header stamp as datetime; ``None`` for the all-zero 'not set' stamp."""
    if sec == 0 and nanosec == 0:
        return None
    return from_ns(sec * 1_000_000_000 + nanosec)


def heading_to_quaternion(heading_deg: float) -> tuple[float, float, float, float]:
    """Compass heading → ENU yaw quaternion (x, y, z, w)."""
    yaw = math.radians(90.0 - heading_deg)
    return 0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)


def quaternion_to_heading(x: float, y: float, z: float, w: float) -> float | None:
    """ENU quaternion → compass heading in [0, 360); ``None`` for a zero (unknown) quaternion."""
    if not all(math.isfinite(v) for v in (x, y, z, w)) or x * x + y * y + z * z + w * w < 1e-12:
        return None
    yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    heading = round((90.0 - math.degrees(yaw)) % 360.0, HEADING_DECIMALS)
    return 0.0 if heading >= 360.0 else heading


def battery_percent(percentage: float, charge: float, capacity: float) -> float | None:
    """``BatteryState`` → percent 0..100, or ``None`` when the message does not say.

    ``percentage`` is 0..1 by the message's definition; NaN means unmeasured, in which case
    charge/capacity is used when both are known. Values in (1, 100] are taken as percent
    already (drivers that publish 87.0 for 87 % exist).
    """
    if math.isfinite(percentage):
        if 0.0 <= percentage <= 1.0:
            value = percentage * 100.0
        elif 1.0 < percentage <= 100.0:
            value = percentage
        else:
            return None
    elif math.isfinite(charge) and math.isfinite(capacity) and capacity > 0 and charge >= 0:
        value = charge / capacity * 100.0
        if value > 100.0:
            return None
    else:
        return None
    return round(value, BATTERY_DECIMALS)


def nan_to_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def none_to_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)
