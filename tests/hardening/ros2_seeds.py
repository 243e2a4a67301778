"""Valid ROS 2 CDR messages of every type the mapper handles: seeds for mutation fuzzing."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import numpy as np

from devices.payloads import Event, Position, Status, Telemetry
from devices.ros2 import make_typestore
from devices.ros2.encoder import Ros2Encoder
from devices.topics import Channel, Kind, Topic
from tests.ros2.conftest import Build

TS = datetime.now(UTC).replace(microsecond=0)
DEVICE = Topic("futian", Kind.DRONE, "drone-fz", Channel.TELEMETRY)
JPEG = b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x10\x00\x10\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01\xff\xd9"

Seed = tuple[str, str, bytes]  # (ros_type, ros_topic, cdr bytes)


@functools.cache
def seeds() -> list[Seed]:
    store = make_typestore("humble")
    b = Build(store)
    out: list[Seed] = [
        ("sensor_msgs/msg/NavSatFix", "/fix", b.fix(ts=TS)),
        ("sensor_msgs/msg/BatteryState", "/battery", b.battery(0.5)),
        ("nav_msgs/msg/Odometry", "/odom", b.odom(1.0, 0.5, (0.0, 0.0, 0.38, 0.92))),
        ("sensor_msgs/msg/CompressedImage", "/camera/compressed", b.compressed(JPEG)),
        ("sensor_msgs/msg/Image", "/camera/image", b.image(np.zeros((4, 4, 3), np.uint8), "rgb8")),
        ("sensor_msgs/msg/Image", "/camera/mono16", b.image(np.zeros((4, 4, 2), np.uint8), "mono16")),
        ("diagnostic_msgs/msg/DiagnosticArray", "/diagnostics", b.diagnostics([0, 2, 3])),
        ("std_msgs/msg/String", "/chatter", b.string("hello")),
    ]
    enc = Ros2Encoder(store)
    messages: list[Telemetry | Event | Status] = [
        Telemetry(ts=TS, msg_id="t1", metrics={"altitude_m": 80.0, "speed_m_s": 3.0, "battery_pct": 70.0},
                  position=Position(lat=22.5, lon=114.0)),
        Event(ts=TS, msg_id="e1", label="smoke", confidence=0.8, text="seen from above"),
        Status(ts=TS, msg_id="s1", state="online", battery_pct=90.0, firmware="1.2"),  # type: ignore[arg-type]
    ]
    for message in messages:
        for pub in enc.encode(DEVICE, message):
            props = dict(pub.user_properties)
            out.append((props["ros_type"], "/" + pub.topic.split("/ros2/", 1)[1], pub.payload))
    return out
