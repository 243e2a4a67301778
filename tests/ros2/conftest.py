"""Fixtures for the ROS 2 tests: a Humble typestore, mapper, encoder and message builders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from rosbags.typesys.store import Typestore

from devices.ros2.convert import stamp_parts
from devices.ros2.encoder import Ros2Encoder
from devices.ros2.mapping import Ros2Mapper
from devices.ros2.typestore import make_typestore
from devices.topics import Channel, Kind, Topic

TS = datetime(2026, 11, 28, 0, 15, 0, 250000, tzinfo=UTC)


@pytest.fixture(scope="session")
def store() -> Typestore:
    return make_typestore("humble")


@pytest.fixture()
def mapper(store: Typestore) -> Ros2Mapper:
    return Ros2Mapper(store)


@pytest.fixture(scope="session")
def encoder(store: Typestore) -> Ros2Encoder:
    return Ros2Encoder(store)


def ros_topic(ros_topic: str, kind: Kind = Kind.DRONE, device: str = "drone-07") -> Topic:
    return Topic("futian", kind, device, Channel.ROS2, ros_topic)


class Build:
    """Builds and serializes standard messages with a typestore."""

    def __init__(self, store: Typestore) -> None:
        self.store = store
        self.t = store.types

    def header(self, ts: datetime | None = TS) -> Any:
        sec, nsec = stamp_parts(ts) if ts else (0, 0)
        return self.t["std_msgs/msg/Header"](
            stamp=self.t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nsec), frame_id="x")

    def cdr(self, msg: Any, ros_type: str) -> bytes:
        return bytes(self.store.serialize_cdr(msg, ros_type))

    def fix(self, lat: float = 22.5431, lon: float = 114.0579, alt: float = 88.0,
            status: int = 0, ts: datetime | None = TS) -> bytes:
        msg = self.t["sensor_msgs/msg/NavSatFix"](
            header=self.header(ts), status=self.t["sensor_msgs/msg/NavSatStatus"](
                status=status, service=1), latitude=lat, longitude=lon, altitude=alt,
            position_covariance=np.zeros(9), position_covariance_type=0)
        return self.cdr(msg, "sensor_msgs/msg/NavSatFix")

    def battery(self, percentage: float, charge: float = float("nan"),
                capacity: float = float("nan")) -> bytes:
        nan = float("nan")
        msg = self.t["sensor_msgs/msg/BatteryState"](
            header=self.header(), voltage=nan, temperature=nan, current=nan, charge=charge,
            capacity=capacity, design_capacity=nan, percentage=percentage, power_supply_status=0,
            power_supply_health=0, power_supply_technology=0, present=True,
            cell_voltage=np.zeros(0, np.float32), cell_temperature=np.zeros(0, np.float32),
            location="", serial_number="")
        return self.cdr(msg, "sensor_msgs/msg/BatteryState")

    def odom(self, vx: float, vy: float, quat: tuple[float, float, float, float]) -> bytes:
        t = self.t
        v3 = t["geometry_msgs/msg/Vector3"]
        x, y, z, w = quat
        pose = t["geometry_msgs/msg/Pose"](position=t["geometry_msgs/msg/Point"](x=1.0, y=2.0, z=0.0),
                                           orientation=t["geometry_msgs/msg/Quaternion"](x=x, y=y, z=z, w=w))
        twist = t["geometry_msgs/msg/Twist"](linear=v3(x=vx, y=vy, z=0.0), angular=v3(x=0.0, y=0.0, z=0.0))
        msg = t["nav_msgs/msg/Odometry"](
            header=self.header(), child_frame_id="base_link",
            pose=t["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=np.zeros(36)),
            twist=t["geometry_msgs/msg/TwistWithCovariance"](twist=twist, covariance=np.zeros(36)))
        return self.cdr(msg, "nav_msgs/msg/Odometry")

    def compressed(self, data: bytes, fmt: str = "jpeg") -> bytes:
        msg = self.t["sensor_msgs/msg/CompressedImage"](
            header=self.header(), format=fmt, data=np.frombuffer(data, np.uint8))
        return self.cdr(msg, "sensor_msgs/msg/CompressedImage")

    def image(self, pixels: np.ndarray, encoding: str, step: int | None = None) -> bytes:
        h, w = pixels.shape[:2]
        flat = pixels.reshape(h, -1)
        row = flat.shape[1]
        step = step or row
        buf = np.zeros((h, step), np.uint8)
        buf[:, :row] = flat
        msg = self.t["sensor_msgs/msg/Image"](
            header=self.header(), height=h, width=w, encoding=encoding, is_bigendian=0,
            step=step, data=buf.reshape(-1))
        return self.cdr(msg, "sensor_msgs/msg/Image")

    def diagnostics(self, levels: list[int]) -> bytes:
        t = self.t
        statuses = [t["diagnostic_msgs/msg/DiagnosticStatus"](
            level=lvl, name=f"motor{i}", message=f"state {lvl}", hardware_id=f"hw{i}",
            values=[t["diagnostic_msgs/msg/KeyValue"](key="temp", value="91")])
            for i, lvl in enumerate(levels)]
        msg = t["diagnostic_msgs/msg/DiagnosticArray"](header=self.header(), status=statuses)
        return self.cdr(msg, "diagnostic_msgs/msg/DiagnosticArray")

    def string(self, text: str) -> bytes:
        return self.cdr(self.t["std_msgs/msg/String"](data=text), "std_msgs/msg/String")


@pytest.fixture(scope="session")
def build(store: Typestore) -> Build:
    return Build(store)


TopicFactory = Callable[..., Topic]

