"""``urbanops bench ros2``: ROS 2 decode + map throughput, per message type.

Measures ``Ros2Mapper.map_mqtt`` end to end (user properties, CDR decode with rosbags,
mapping to platform models) on pre-serialized messages, one type at a time, in this
process (no broker, no database):

- NavSatFix: the smallest common message (position fix).
- CompressedImage: a 640x480 JPEG frame (~30 kB), passed through to vision.
- Image: a raw 640x480 rgb8 frame, converted to JPEG by the NumPy encoder.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np

from devices.encoding import Publish
from devices.payloads import FrameMeta, Position, Telemetry
from devices.ros2.convert import stamp_parts
from devices.ros2.encoder import Ros2Encoder
from devices.ros2.jpeg import encode_jpeg
from devices.ros2.mapping import Ros2Mapper
from devices.topics import Channel, Kind, Topic, parse_topic

WIDTH, HEIGHT = 640, 480


def _frame(width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // width, y * 255 // height, (x ^ y) & 255], axis=-1)
    return rgb.astype(np.uint8)


def _raw_image(encoder: Ros2Encoder, pixels: np.ndarray, ts: datetime) -> bytes:
    t = encoder.t
    sec, nsec = stamp_parts(ts)
    msg = t["sensor_msgs/msg/Image"](
        header=t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](
            sec=sec, nanosec=nsec), frame_id="camera"),
        height=pixels.shape[0], width=pixels.shape[1], encoding="rgb8", is_bigendian=0,
        step=pixels.shape[1] * 3, data=pixels.reshape(-1))
    return bytes(encoder.store.serialize_cdr(msg, "sensor_msgs/msg/Image"))


def _rate(mapper: Ros2Mapper, pub: Publish, duration_s: float, ros_type: str | None = None
          ) -> tuple[float, int]:
    topic = parse_topic(pub.topic)
    props = list(pub.user_properties)
    if ros_type is not None:
        props = [("ros_type", ros_type), *[p for p in props if p[0] != "ros_type"]]
    now = datetime.now(UTC)
    n = 0
    started = time.perf_counter()
    deadline = started + duration_s
    while True:
        for _ in range(10):
            out = mapper.map_mqtt(topic, pub.payload, props, now)
        n += 10
        if time.perf_counter() >= deadline:
            break
    assert out.raw is None, out.raw.reason if out.raw else ""  # really mapped, not kept raw
    return n / (time.perf_counter() - started), n


def run_ros2_bench(duration_s: float) -> dict[str, float | int | str]:
    """Messages/s decoded and mapped, for NavSatFix, CompressedImage and raw Image;
    ``duration_s`` per message type (the run takes three times as long)."""
    share = max(duration_s, 0.1)
    encoder, mapper = Ros2Encoder(), Ros2Mapper()
    ts = datetime.now(UTC)
    base = Topic("bench", Kind.DRONE, "bench-drone", Channel.TELEMETRY)
    fix = encoder.encode(base, Telemetry(ts=ts, msg_id="b1", metrics={"altitude_m": 80.0},
                                         position=Position(lat=22.54, lon=114.05, alt_m=90.0)))[0]
    pixels = _frame()
    jpeg = encode_jpeg(pixels)
    meta = FrameMeta(ts=ts, msg_id="f1", lat=22.54, lon=114.05, alt_m=90.0, heading_deg=0.0,
                     pitch_deg=-90.0, hfov_deg=84.0)
    frame = encoder.encode_frame(base, meta, jpeg)[0]
    raw = Publish(frame.topic.replace("/compressed", "/raw"), _raw_image(encoder, pixels, ts),
                  user_properties=frame.user_properties)
    fix_rate, fix_n = _rate(mapper, fix, share)
    img_rate, img_n = _rate(mapper, frame, share)
    raw_rate, raw_n = _rate(mapper, raw, share, ros_type="sensor_msgs/msg/Image")
    return {
        "navsatfix_msgs_per_s": round(fix_rate, 1), "navsatfix_msgs": fix_n,
        "compressed_image_msgs_per_s": round(img_rate, 1), "compressed_image_msgs": img_n,
        "compressed_image_bytes": len(frame.payload),
        "raw_image_msgs_per_s": round(raw_rate, 1), "raw_image_msgs": raw_n,
        "raw_image_bytes": len(raw.payload), "image_size": f"{WIDTH}x{HEIGHT}",
        "distro": "humble", "duration_s": duration_s,
    }


if __name__ == "__main__":  # python -m gateway.bench.ros2 [seconds]
    import json
    import sys

    print(json.dumps(run_ros2_bench(float(sys.argv[1]) if len(sys.argv) > 1 else 6.0)))
