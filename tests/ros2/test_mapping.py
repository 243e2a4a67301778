"""Ros2Mapper: one test per mapped type, raw storage, decode errors, envelopes."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from devices.payloads import EVENT_LABELS
from devices.ros2.errors import Ros2DecodeError
from devices.ros2.jpeg import encode_jpeg
from devices.ros2.mapping import Ros2Mapper
from devices.topics import Kind
from gateway.ingest.frames import check_jpeg
from tests.ros2.conftest import TS, Build, ros_topic

NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)


def test_navsatfix_becomes_position_and_pose(mapper: Ros2Mapper, build: Build) -> None:
    out = mapper.map(ros_topic("/fix"), "sensor_msgs/msg/NavSatFix", build.fix(), TS, "m1")
    assert out.position is not None and out.raw is None and out.telemetry is None
    assert (out.position.position.lat, out.position.position.lon) == (22.5431, 114.0579)
    assert out.position.position.alt_m == 88.0
    assert (out.position.ts, out.position.msg_id) == (TS, "m1")
    pose = mapper.last_pose("drone-07")
    assert pose is not None and (pose.lat, pose.lon, pose.alt_m) == (22.5431, 114.0579, 88.0)


def test_navsatfix_without_fix_is_kept_raw(mapper: Ros2Mapper, build: Build) -> None:
    out = mapper.map(ros_topic("/fix"), "sensor_msgs/msg/NavSatFix", build.fix(status=-1), TS, "m")
    assert out.position is None and out.raw is not None
    assert out.raw.ros_type == "sensor_msgs/msg/NavSatFix" and out.raw.ros_topic == "/fix"
    assert mapper.last_pose("drone-07") is None or mapper.last_pose("drone-07").lat is None  # type: ignore[union-attr]


def test_navsatfix_out_of_range_is_a_decode_error(mapper: Ros2Mapper, build: Build) -> None:
    with pytest.raises(Ros2DecodeError, match="lat"):
        mapper.map(ros_topic("/fix"), "sensor_msgs/msg/NavSatFix", build.fix(lat=123.0), TS, "m")


@pytest.mark.parametrize(("pct", "charge", "capacity", "expected"), [
    (0.8735, math.nan, math.nan, 87.35),
    (1.0, math.nan, math.nan, 100.0),
    (0.0, math.nan, math.nan, 0.0),
    (math.nan, 3.0, 4.0, 75.0),  # unmeasured percentage: charge / capacity
    (87.0, math.nan, math.nan, 87.0),  # drivers that publish percent
])
def test_battery_state(mapper: Ros2Mapper, build: Build, pct: float, charge: float,
                       capacity: float, expected: float) -> None:
    out = mapper.map(ros_topic("/battery"), "sensor_msgs/msg/BatteryState",
                     build.battery(pct, charge, capacity), TS, "b1")
    assert out.telemetry is not None and out.telemetry.metrics == {"battery_pct": expected}


def test_battery_state_without_any_level_is_kept_raw(mapper: Ros2Mapper, build: Build) -> None:
    out = mapper.map(ros_topic("/battery"), "sensor_msgs/msg/BatteryState",
                     build.battery(math.nan), TS, "b1")
    assert out.telemetry is None and out.raw is not None


def test_odometry_speed_and_heading_for_a_drone(mapper: Ros2Mapper, build: Build) -> None:
    # yaw = +90° (facing north in ENU) → compass heading 0; 3-4-5 speed
    q = (0.0, 0.0, math.sin(math.pi / 4), math.cos(math.pi / 4))
    out = mapper.map(ros_topic("/odom"), "nav_msgs/msg/Odometry", build.odom(3.0, 4.0, q), TS, "o")
    assert out.telemetry is not None
    assert out.telemetry.metrics == {"speed_m_s": 5.0, "heading_deg": 0.0}
    # yaw 0 (east) → 90
    out = mapper.map(ros_topic("/odom"), "nav_msgs/msg/Odometry",
                     build.odom(1.0, 0.0, (0.0, 0.0, 0.0, 1.0)), TS, "o2")
    assert out.telemetry is not None and out.telemetry.metrics["heading_deg"] == 90.0
    assert mapper.last_pose("drone-07").heading_deg == 90.0  # type: ignore[union-attr]


def test_odometry_for_a_robot_has_no_heading_metric(mapper: Ros2Mapper, build: Build) -> None:
    topic = ros_topic("/odom", Kind.ROBOT, "robot-01")
    out = mapper.map(topic, "nav_msgs/msg/Odometry", build.odom(0.5, 0.0, (0, 0, 0, 1.0)), TS, "o")
    assert out.telemetry is not None and out.telemetry.metrics == {"speed_m_s": 0.5}
    assert mapper.last_pose("robot-01").heading_deg == 90.0  # type: ignore[union-attr]


def test_odometry_for_a_sensor_is_kept_raw(mapper: Ros2Mapper, build: Build) -> None:
    topic = ros_topic("/odom", Kind.SENSOR, "aq-0042")
    out = mapper.map(topic, "nav_msgs/msg/Odometry", build.odom(0.5, 0.0, (0, 0, 0, 1.0)), TS, "o")
    assert out.telemetry is None and out.raw is not None


def _jpeg() -> bytes:
    y, x = np.mgrid[0:48, 0:64]
    return encode_jpeg(np.stack([x * 4, y * 5, x + y], -1).astype(np.uint8))


def test_compressed_image_uses_last_known_pose(mapper: Ros2Mapper, build: Build) -> None:
    jpeg = _jpeg()
    out = mapper.map(ros_topic("/cam"), "sensor_msgs/msg/CompressedImage", build.compressed(jpeg),
                     TS, "f0")
    assert out.frames == [] and out.raw is not None  # no pose yet: cannot be placed
    mapper.map(ros_topic("/fix"), "sensor_msgs/msg/NavSatFix", build.fix(), TS, "p")
    mapper.map(ros_topic("/odom"), "nav_msgs/msg/Odometry",
               build.odom(1.0, 0.0, (0.0, 0.0, 0.0, 1.0)), TS, "o")
    out = mapper.map(ros_topic("/cam"), "sensor_msgs/msg/CompressedImage", build.compressed(jpeg),
                     TS, "f1")
    (meta, data), = out.frames
    assert data == jpeg and out.raw is None
    assert (meta.lat, meta.lon, meta.alt_m, meta.heading_deg) == (22.5431, 114.0579, 88.0, 90.0)
    assert (meta.pitch_deg, meta.hfov_deg) == (-90.0, 84.0)  # drone defaults
    assert (meta.ts, meta.msg_id) == (TS, "f1")


def test_compressed_image_pose_properties_override(mapper: Ros2Mapper, build: Build) -> None:
    props = {"lat": "22.6", "lon": "114.1", "alt_m": "50", "heading_deg": "180",
             "pitch_deg": "-45", "hfov_deg": "60"}
    out = mapper.map(ros_topic("/cam"), "sensor_msgs/msg/CompressedImage",
                     build.compressed(_jpeg()), TS, "f", properties=props)
    (meta, _), = out.frames
    assert (meta.lat, meta.heading_deg, meta.pitch_deg, meta.hfov_deg) == (22.6, 180.0, -45.0, 60.0)


def test_compressed_image_that_is_not_jpeg(mapper: Ros2Mapper, build: Build) -> None:
    mapper.map(ros_topic("/fix"), "sensor_msgs/msg/NavSatFix", build.fix(), TS, "p")
    png = mapper.map(ros_topic("/cam"), "sensor_msgs/msg/CompressedImage",
                     build.compressed(b"\x89PNG\r\n\x1a\nxxxx", "png"), TS, "f")
    assert png.frames == [] and png.raw is not None
    with pytest.raises(Ros2DecodeError, match="not a JPEG"):
        mapper.map(ros_topic("/cam"), "sensor_msgs/msg/CompressedImage",
                   build.compressed(b"garbage", "jpeg"), TS, "f")


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "mono8"])
def test_raw_image_is_converted_to_jpeg(mapper: Ros2Mapper, build: Build, encoding: str) -> None:
    mapper.map(ros_topic("/fix"), "sensor_msgs/msg/NavSatFix", build.fix(), TS, "p")
    channels = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "mono8": 1}[encoding]
    pixels = np.random.default_rng(1).integers(0, 256, (30, 41, channels), dtype=np.uint8)
    data = build.image(pixels if channels > 1 else pixels[..., 0], encoding, step=41 * channels + 3)
    out = mapper.map(ros_topic("/image_raw"), "sensor_msgs/msg/Image", data, TS, "img")
    (_meta, jpeg), = out.frames
    assert check_jpeg(jpeg, 8 << 20) == (41, 30)


def test_raw_image_with_unsupported_encoding_is_kept_raw(mapper: Ros2Mapper, build: Build) -> None:
    mapper.map(ros_topic("/fix"), "sensor_msgs/msg/NavSatFix", build.fix(), TS, "p")
    data = build.image(np.zeros((4, 4, 2), np.uint8), "16UC1")
    out = mapper.map(ros_topic("/depth"), "sensor_msgs/msg/Image", data, TS, "d")
    assert out.frames == [] and out.raw is not None


def test_raw_image_too_short_for_its_size(mapper: Ros2Mapper, build: Build, store) -> None:  # type: ignore[no-untyped-def]
    mapper.map(ros_topic("/fix"), "sensor_msgs/msg/NavSatFix", build.fix(), TS, "p")
    msg = store.types["sensor_msgs/msg/Image"](
        header=build.header(), height=100, width=100, encoding="rgb8", is_bigendian=0, step=300,
        data=np.zeros(10, np.uint8))
    with pytest.raises(Ros2DecodeError, match="does not fit"):
        mapper.map(ros_topic("/image_raw"), "sensor_msgs/msg/Image",
                   build.cdr(msg, "sensor_msgs/msg/Image"), TS, "img")


def test_diagnostics_error_and_stale_become_events(mapper: Ros2Mapper, build: Build) -> None:
    mapper.map(ros_topic("/fix"), "sensor_msgs/msg/NavSatFix", build.fix(), TS, "p")
    out = mapper.map(ros_topic("/diagnostics"), "diagnostic_msgs/msg/DiagnosticArray",
                     build.diagnostics([0, 1, 2, 3]), TS, "d1")
    assert [e.msg_id for e in out.events] == ["d1:diag2", "d1:diag3"]
    assert all(e.label == "diagnostic_error" and e.label in EVENT_LABELS for e in out.events)
    assert out.events[0].text is not None and out.events[0].text.startswith("[ERROR] motor2")
    assert "temp=91" in out.events[0].text
    assert out.events[1].text is not None and out.events[1].text.startswith("[STALE] motor3")
    assert out.events[0].position is not None and out.events[0].position.lat == 22.5431


def test_diagnostics_all_ok_is_kept_raw(mapper: Ros2Mapper, build: Build) -> None:
    out = mapper.map(ros_topic("/diagnostics"), "diagnostic_msgs/msg/DiagnosticArray",
                     build.diagnostics([0, 1]), TS, "d")
    assert out.events == [] and out.raw is not None


def test_unknown_and_unmapped_types_are_kept_raw(mapper: Ros2Mapper, build: Build) -> None:
    out = mapper.map(ros_topic("/chatter"), "std_msgs/msg/String", build.string("hi"), TS, "s")
    assert out.raw is not None and out.raw.reason.startswith("no platform mapping")
    out = mapper.map(ros_topic("/x"), "acme_msgs/msg/Thing", b"\x00\x01\x00\x00abc", TS, "t")
    assert out.raw is not None and out.raw.ros_type == "acme_msgs/msg/Thing"
    assert out.raw.data == b"\x00\x01\x00\x00abc" and out.raw.reason == "type not in the typestore"
    # ROS 1 style names are normalised
    out = mapper.map(ros_topic("/chatter"), "std_msgs/String", build.string("x"), TS, "s2")
    assert out.raw is not None and out.raw.ros_type == "std_msgs/msg/String"


@pytest.mark.parametrize("data", [b"", b"\x00\x01", b"\x07\x07\x00\x00" + b"\x00" * 40,
                                  b"\x00\x01\x00\x00\x01\x02\x03"])
def test_undecodable_bytes_raise(mapper: Ros2Mapper, data: bytes) -> None:
    with pytest.raises(Ros2DecodeError) as info:
        mapper.map(ros_topic("/fix"), "sensor_msgs/msg/NavSatFix", data, TS, "m")
    assert info.value.ros_type == "sensor_msgs/msg/NavSatFix"
    assert "undecodable sensor_msgs/msg/NavSatFix" in info.value.reason


def test_trailing_garbage_is_undecodable(mapper: Ros2Mapper, build: Build) -> None:
    with pytest.raises(Ros2DecodeError):
        mapper.map(ros_topic("/fix"), "sensor_msgs/msg/NavSatFix", build.fix() + b"\x00" * 16,
                   TS, "m")


def test_map_mqtt_reads_the_envelope(mapper: Ros2Mapper, build: Build) -> None:
    props = [("ros_type", "sensor_msgs/msg/NavSatFix"), ("msg_id", "abc-1"),
             ("ts", "2026-11-28T08:15:00+08:00")]
    out = mapper.map_mqtt(ros_topic("/fix"), build.fix(), props, NOW)
    assert out.msg_id == "abc-1" and out.ts == datetime(2026, 11, 28, 0, 15, tzinfo=UTC)
    with pytest.raises(Ros2DecodeError, match="ros_type"):
        mapper.map_mqtt(ros_topic("/fix"), build.fix(), [], NOW)
    with pytest.raises(Ros2DecodeError, match="UTC offset"):
        mapper.map_mqtt(ros_topic("/fix"), build.fix(), [*props[:2], ("ts", "2026-11-28T08:15")],
                        NOW)
    with pytest.raises(Ros2DecodeError, match="msg_id"):
        mapper.map_mqtt(ros_topic("/fix"), build.fix(), [props[0], ("msg_id", "a b")], NOW)


def test_derived_envelope(mapper: Ros2Mapper, build: Build) -> None:
    props = [("ros_type", "sensor_msgs/msg/NavSatFix")]
    first = mapper.map_mqtt(ros_topic("/fix"), build.fix(), props, NOW)
    again = mapper.map_mqtt(ros_topic("/fix"), build.fix(), props, NOW)
    other = mapper.map_mqtt(ros_topic("/fix"), build.fix(lat=22.6), props, NOW)
    assert first.msg_id == again.msg_id != other.msg_id  # stable: redelivery dedupes
    assert first.msg_id.startswith("r2:") and len(first.msg_id) <= 64
    assert first.ts == TS  # from header.stamp
    unstamped = mapper.map_mqtt(ros_topic("/fix"), build.fix(ts=None), props, NOW)
    assert unstamped.ts == NOW  # zero stamp: receive time
    s = mapper.map_mqtt(ros_topic("/c"), build.string("x"), [("ros_type", "std_msgs/msg/String")],
                        NOW)
    assert s.ts == NOW and s.raw is not None and s.raw.msg_id == s.msg_id


def test_non_ros2_topic_is_refused(mapper: Ros2Mapper, build: Build) -> None:
    from devices.topics import Channel, Topic

    with pytest.raises(Ros2DecodeError):
        mapper.map(Topic("futian", Kind.DRONE, "d1", Channel.TELEMETRY), "std_msgs/msg/String",
                   build.string("x"), TS, "m")
