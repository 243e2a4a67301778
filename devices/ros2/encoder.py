"""``--protocol ros2``: platform messages as ROS 2 CDR on ``.../ros2/{ros_topic}``.

What each message becomes (user properties ``ros_type``, ``msg_id``, ``ts`` on every one):

| platform | ROS 2 topic | type | msg_id |
|---|---|---|---|
| Telemetry.position | /fix | sensor_msgs/msg/NavSatFix | M |
| battery_pct | /battery | sensor_msgs/msg/BatteryState (percentage = pct/100) | M:battery |
| speed_m_s (+ heading_deg) | /odom | nav_msgs/msg/Odometry (twist.linear.x, yaw) | M:odom |
| every other metric | /urbanops/metrics | urbanops_msgs/msg/Metrics (float64) | M:metrics |
| Event | /urbanops/event | urbanops_msgs/msg/Event | M |
| Status | /urbanops/status (retained) | urbanops_msgs/msg/DeviceStatus | M |
| frame | /camera/image/compressed | sensor_msgs/msg/CompressedImage + frame pose props | M |

Why several msg_ids for one Telemetry: each ROS message is a message of its own, and the
platform deduplicates on (device_id, msg_id) (SPEC §2), so parts sharing one id would be
dropped as duplicates. The stored rows equal JSON mode's in ts, metric, value and position;
only the msg_id of the non-position parts carries the ``:part`` suffix.

Why the custom ``urbanops_msgs`` types: metrics like ``altitude_m`` or ``pm25`` have no
standard ROS message, and events/status need the platform's fields; these types ship with
the platform and are registered in every typestore it makes. Precision: BatteryState's
percentage is float32; the gateway rounds it to 4 decimals, which reproduces any
``battery_pct`` given with at most 4 decimals exactly. Heading goes through a quaternion
and is rounded to 6 decimals. Everything else is float64 and exact.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np
from rosbags.typesys.store import Typestore

from devices.encoding import DeviceMessage, Publish
from devices.payloads import Event, FrameMeta, Position, Status, Telemetry
from devices.ros2.convert import heading_to_quaternion, none_to_nan, stamp_parts
from devices.ros2.envelope import PROP_MSG_ID, PROP_ROS_TYPE, PROP_TS, part_msg_id
from devices.ros2.typestore import EVENT_TYPE, METRICS_TYPE, STATUS_TYPE, make_typestore
from devices.topics import Channel, Topic

NAVSATFIX = "sensor_msgs/msg/NavSatFix"
BATTERY = "sensor_msgs/msg/BatteryState"
ODOMETRY = "nav_msgs/msg/Odometry"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
TOPICS = {
    NAVSATFIX: "/fix", BATTERY: "/battery", ODOMETRY: "/odom", METRICS_TYPE: "/urbanops/metrics",
    EVENT_TYPE: "/urbanops/event", STATUS_TYPE: "/urbanops/status",
    COMPRESSED_IMAGE: "/camera/image/compressed",
}


class Ros2Encoder:
    name = "ros2"

    def __init__(self, typestore: Typestore | None = None) -> None:
        self.store = typestore if typestore is not None else make_typestore()
        self.t = self.store.types

    # -- Encoder protocol ---------------------------------------------------------------
    def encode(self, base: Topic, message: DeviceMessage) -> list[Publish]:
        if isinstance(message, Telemetry):
            return self._telemetry(base, message)
        if isinstance(message, Event):
            return [self._publish(base, EVENT_TYPE, self._event(message), message.ts,
                                  message.msg_id)]
        return [self._publish(base, STATUS_TYPE, self._status(message), message.ts,
                              message.msg_id, retain=True)]

    def encode_frame(self, base: Topic, meta: FrameMeta, jpeg: bytes) -> list[Publish]:
        msg = self.t[COMPRESSED_IMAGE](
            header=self._header(meta.ts, "camera"), format="jpeg",
            data=np.frombuffer(jpeg, dtype=np.uint8),
        )
        extra = [(k, v) for k, v in meta.to_user_properties() if k not in (PROP_TS, PROP_MSG_ID)]
        return [self._publish(base, COMPRESSED_IMAGE, msg, meta.ts, meta.msg_id, extra=extra)]

    # -- messages -----------------------------------------------------------------------
    def _telemetry(self, base: Topic, t: Telemetry) -> list[Publish]:
        out: list[Publish] = []
        rest = dict(t.metrics)
        if t.position is not None:
            out.append(self._publish(base, NAVSATFIX, self._fix(t.ts, t.position), t.ts, t.msg_id))
        if (pct := rest.pop("battery_pct", None)) is not None:
            out.append(self._publish(base, BATTERY, self._battery(t.ts, pct), t.ts,
                                     part_msg_id(t.msg_id, "battery")))
        if (speed := rest.pop("speed_m_s", None)) is not None:
            heading = rest.pop("heading_deg", None)
            out.append(self._publish(base, ODOMETRY, self._odom(t.ts, speed, heading), t.ts,
                                     part_msg_id(t.msg_id, "odom")))
        if rest:  # incl. heading_deg without speed: Odometry would invent a speed of 0
            msg = self.t[METRICS_TYPE](header=self._header(t.ts, "base_link"), names=list(rest),
                                       values=np.array(list(rest.values()), dtype=np.float64))
            out.append(self._publish(base, METRICS_TYPE, msg, t.ts,
                                     part_msg_id(t.msg_id, "metrics")))
        return out

    def _header(self, ts: datetime, frame_id: str) -> Any:
        sec, nsec = stamp_parts(ts)
        return self.t["std_msgs/msg/Header"](
            stamp=self.t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nsec), frame_id=frame_id)

    def _fix(self, ts: datetime, p: Position) -> Any:
        status = self.t["sensor_msgs/msg/NavSatStatus"](status=0, service=1)  # FIX, GPS
        return self.t[NAVSATFIX](
            header=self._header(ts, "gps"), status=status, latitude=p.lat, longitude=p.lon,
            altitude=none_to_nan(p.alt_m), position_covariance=np.zeros(9),
            position_covariance_type=0,
        )

    def _battery(self, ts: datetime, pct: float) -> Any:
        nan = math.nan
        return self.t[BATTERY](
            header=self._header(ts, "base_link"), voltage=nan, temperature=nan, current=nan,
            charge=nan, capacity=nan, design_capacity=nan, percentage=pct / 100.0,
            power_supply_status=0, power_supply_health=0, power_supply_technology=0,
            present=True, cell_voltage=np.zeros(0, np.float32),
            cell_temperature=np.zeros(0, np.float32), location="", serial_number="",
        )

    def _odom(self, ts: datetime, speed: float, heading: float | None) -> Any:
        x, y, z, w = heading_to_quaternion(heading) if heading is not None else (0.0,) * 4
        vec, quat = self.t["geometry_msgs/msg/Vector3"], self.t["geometry_msgs/msg/Quaternion"]
        pose = self.t["geometry_msgs/msg/Pose"](
            position=self.t["geometry_msgs/msg/Point"](x=0.0, y=0.0, z=0.0),
            orientation=quat(x=x, y=y, z=z, w=w))  # zero quaternion = heading unknown
        twist = self.t["geometry_msgs/msg/Twist"](
            linear=vec(x=speed, y=0.0, z=0.0), angular=vec(x=0.0, y=0.0, z=0.0))
        return self.t[ODOMETRY](
            header=self._header(ts, "odom"), child_frame_id="base_link",
            pose=self.t["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=np.zeros(36)),
            twist=self.t["geometry_msgs/msg/TwistWithCovariance"](
                twist=twist, covariance=np.zeros(36)),
        )

    def _where(self, p: Position | None) -> dict[str, Any]:
        return {"has_position": p is not None, "latitude": p.lat if p else math.nan,
                "longitude": p.lon if p else math.nan,
                "altitude": none_to_nan(p.alt_m) if p else math.nan}

    def _event(self, e: Event) -> Any:
        return self.t[EVENT_TYPE](
            header=self._header(e.ts, "base_link"), label=e.label,
            confidence=none_to_nan(e.confidence), text=e.text or "", value=none_to_nan(e.value),
            unit=e.unit or "", cmd_id=e.cmd_id or "", **self._where(e.position),
        )

    def _status(self, s: Status) -> Any:
        return self.t[STATUS_TYPE](
            header=self._header(s.ts, "base_link"), state=s.state.value,
            battery_pct=none_to_nan(s.battery_pct), firmware=s.firmware or "",
            **self._where(s.position),
        )

    def _publish(self, base: Topic, ros_type: str, msg: Any, ts: datetime, msg_id: str, *,
                 retain: bool = False, extra: list[tuple[str, str]] | None = None) -> Publish:
        topic = Topic(base.district, base.kind, base.device_id, Channel.ROS2, TOPICS[ros_type])
        props = [(PROP_ROS_TYPE, ros_type), (PROP_MSG_ID, msg_id), (PROP_TS, ts.isoformat()),
                 *(extra or [])]
        payload = bytes(self.store.serialize_cdr(msg, ros_type))
        return Publish(topic.render(), payload, qos=1, retain=retain, user_properties=props)
