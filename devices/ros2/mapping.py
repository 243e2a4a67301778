"""ROS 2 CDR message on ``.../ros2/{ros_topic}`` → platform data (``Ros2Mapped``).

The gateway calls ``Ros2Mapper.map_mqtt`` (or ``map``) once per message. Mapped types:

| ROS 2 type | platform |
|---|---|
| sensor_msgs/msg/NavSatFix | ``position`` (a ``PositionFix``); updates the device's pose |
| sensor_msgs/msg/BatteryState | ``battery_pct`` (percentage 0..1 → %, NaN → charge/capacity) |
| nav_msgs/msg/Odometry | ``speed_m_s`` (|twist.linear|), ``heading_deg`` (drones; ENU yaw → compass) |
| sensor_msgs/msg/CompressedImage, Image | ``frames`` (JPEG) at the device's last known pose |
| diagnostic_msgs/msg/DiagnosticArray | ERROR/STALE → ``diagnostic_error`` events |
| urbanops_msgs/msg/Metrics, Event, DeviceStatus | telemetry, event, status (exact) |

Everything else — types the typestore does not know, known types with no mapping, and
mapped messages with nothing usable (no GPS fix, no pose yet for a frame, PNG images) — is
returned as ``raw`` with its type name, never dropped. Bytes that do not decode as the
claimed (known) type raise ``Ros2DecodeError``.

State: the last known pose per device (position from NavSatFix, heading from Odometry)
lives in this object. MQTT keeps one publisher's order towards one subscriber, so with one
gateway process frames get the pose that preceded them. With several processes in one
shared-subscription group the broker spreads a device's messages over them, and a frame
may meet an older (or no) pose there; publishers that need exact frame poses send them as
user properties (as the simulator's ros2 mode does). Not thread-safe: call from one thread.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rosbags.typesys.store import Typestore

from devices.ros2.convert import stamp_to_datetime
from devices.ros2.envelope import (
    PROP_MSG_ID,
    PROP_ROS_TYPE,
    PROP_TS,
    check_msg_id,
    derive_msg_id,
    parse_ts,
    properties_dict,
)
from devices.ros2.errors import Ros2DecodeError, TypestoreError
from devices.ros2.handlers import HANDLERS, Ctx
from devices.ros2.results import (
    DEFAULT_CAMERAS,
    CameraDefaults,
    DevicePose,
    RawRos2,
    Ros2Mapped,
)
from devices.ros2.typestore import make_typestore, normalize_type
from devices.topics import Channel, Kind, Topic

MAX_DEVICES = 100_000


class Ros2Mapper:
    def __init__(
        self,
        typestore: Typestore | None = None,
        *,
        cameras: Mapping[Kind, CameraDefaults] | None = None,
        max_devices: int = MAX_DEVICES,
    ) -> None:
        """``typestore`` defaults to ``make_typestore("humble")`` (with urbanops_msgs)."""
        self.typestore = typestore if typestore is not None else make_typestore()
        self.cameras = {**DEFAULT_CAMERAS, **(cameras or {})}
        self.max_devices = max_devices
        self._poses: OrderedDict[str, DevicePose] = OrderedDict()

    # -- entry points -------------------------------------------------------------------
    def map_mqtt(
        self,
        topic: Topic,
        payload: bytes,
        user_properties: Iterable[tuple[str, str]],
        received_at: datetime,
    ) -> Ros2Mapped:
        """Map one MQTT message: reads user properties ``ros_type``, ``msg_id``, ``ts``
        (and frame pose overrides ``lat``, ``lon``, ``alt_m``, ``heading_deg``,
        ``pitch_deg``, ``hfov_deg`` for images)."""
        props = properties_dict(user_properties)
        ros_type = props.get(PROP_ROS_TYPE)
        if not ros_type:
            raise Ros2DecodeError("ros2 message without the ros_type user property")
        ts = parse_ts(props[PROP_TS]) if PROP_TS in props else None
        msg_id = check_msg_id(props[PROP_MSG_ID]) if PROP_MSG_ID in props else None
        return self.map(topic, ros_type, payload, ts, msg_id,
                        received_at=received_at, properties=props)

    def map(
        self,
        topic: Topic,
        ros_type: str,
        data: bytes,
        ts: datetime | None = None,
        msg_id: str | None = None,
        *,
        received_at: datetime | None = None,
        properties: Mapping[str, str] | None = None,
    ) -> Ros2Mapped:
        """Decode ``data`` as ``ros_type`` and map it. ``ts``/``msg_id`` None → derived
        (see ``devices.ros2.envelope``)."""
        if topic.channel is not Channel.ROS2 or topic.ros_topic is None:
            raise Ros2DecodeError(f"not a ros2 topic: {topic.render()}")
        try:
            ros_type = normalize_type(ros_type)
        except TypestoreError as err:
            raise Ros2DecodeError(f"bad ros_type: {err}") from err
        data = bytes(data)
        msg = self.decode(ros_type, data) if ros_type in self.typestore.fielddefs else None
        if ts is None:
            ts = _header_ts(msg) or received_at or datetime.now(UTC)
        if ts.tzinfo is None:
            raise Ros2DecodeError("naive timestamp: ts must carry a UTC offset", ros_type)
        if msg_id is None:
            msg_id = derive_msg_id(topic.device_id, topic.ros_topic, ros_type, data)
        out = Ros2Mapped(ts=ts, msg_id=msg_id, ros_type=ros_type)
        handler = HANDLERS.get(ros_type)
        if msg is None:
            reason = "type not in the typestore"
        elif handler is None:
            reason = "no platform mapping for this type"
        else:
            ctx = Ctx(topic, ros_type, ts, msg_id, properties or {}, self._pose(topic.device_id),
                      self.cameras[topic.kind], out)
            handler(ctx, msg)
            reason = "nothing usable to map (no fix, no pose yet, or unsupported encoding)"
        if out.empty:
            out.raw = RawRos2(topic.ros_topic, ros_type, data, ts, msg_id, reason)
        return out

    # -- helpers ------------------------------------------------------------------------
    def decode(self, ros_type: str, data: bytes) -> Any:
        try:
            return self.typestore.deserialize_cdr(data, ros_type)
        except Exception as err:  # rosbags raises SerdeError, struct/Index/Value errors...
            raise Ros2DecodeError(
                f"undecodable {ros_type}: {type(err).__name__}: {err}"[:300], ros_type
            ) from err

    def last_pose(self, device_id: str) -> DevicePose | None:
        return self._poses.get(device_id)

    def _pose(self, device_id: str) -> DevicePose:
        pose = self._poses.get(device_id)
        if pose is None:
            pose = self._poses[device_id] = DevicePose()
            if len(self._poses) > self.max_devices:
                self._poses.popitem(last=False)
        else:
            self._poses.move_to_end(device_id)
        return pose


def _header_ts(msg: Any) -> datetime | None:
    header = getattr(msg, "header", None)
    stamp = getattr(header, "stamp", None)
    if stamp is None:
        return None
    return stamp_to_datetime(int(stamp.sec), int(stamp.nanosec))
