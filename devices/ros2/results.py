"""What the ROS 2 mapper hands the gateway for one message, and its per-device state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from devices.payloads import Event, FrameMeta, Position, Status, Telemetry
from devices.topics import Kind


@dataclass(frozen=True, slots=True)
class PositionFix:
    """A position with no metrics (``NavSatFix``): goes to the ``positions`` table.

    Separate from ``Telemetry`` because a ``Telemetry`` needs at least one metric.
    """

    ts: datetime
    msg_id: str
    position: Position


@dataclass(frozen=True, slots=True)
class RawRos2:
    """A message kept as bytes in ``ros2_raw`` (unknown type, or nothing to map it to)."""

    ros_topic: str
    ros_type: str
    data: bytes
    ts: datetime
    msg_id: str
    reason: str  # for logs and counters, not stored


@dataclass(slots=True)
class Ros2Mapped:
    """Platform data made from one ROS 2 message. ``ts``/``msg_id`` is the envelope used.

    At most one of telemetry/position/status is set per message, ``events`` and
    ``frames`` may hold several, and ``raw`` is set exactly when nothing else is.
    """

    ts: datetime
    msg_id: str
    ros_type: str
    telemetry: Telemetry | None = None
    position: PositionFix | None = None
    events: list[Event] = field(default_factory=list)
    frames: list[tuple[FrameMeta, bytes]] = field(default_factory=list)
    status: Status | None = None
    raw: RawRos2 | None = None

    @property
    def empty(self) -> bool:
        return (self.telemetry is None and self.position is None and not self.events
                and not self.frames and self.status is None and self.raw is None)


@dataclass(frozen=True, slots=True)
class CameraDefaults:
    """Camera pose assumed for frames when the publisher does not send one."""

    pitch_deg: float
    hfov_deg: float


# Why these: inspection drones fly the camera nadir-ish (DJI-class wide lens ≈ 84° HFOV);
# ground robots look ahead (≈ 90° wide-angle); fixed sensors on poles look down-and-out.
DEFAULT_CAMERAS: dict[Kind, CameraDefaults] = {
    Kind.DRONE: CameraDefaults(pitch_deg=-90.0, hfov_deg=84.0),
    Kind.ROBOT: CameraDefaults(pitch_deg=0.0, hfov_deg=90.0),
    Kind.SENSOR: CameraDefaults(pitch_deg=-30.0, hfov_deg=90.0),
}


@dataclass(slots=True)
class DevicePose:
    """Last known pose of one device, from its ``NavSatFix`` and ``Odometry`` messages."""

    lat: float | None = None
    lon: float | None = None
    alt_m: float | None = None
    heading_deg: float | None = None
    position_ts: datetime | None = None
