"""The devices of an edge site, run inside the site's network namespace
(``python -m tests.edge.site_devices ...``): sensors and a drone publish telemetry (QoS 1) and
the drone its camera frames to the site broker; the drone also listens for its commands.
Prints one JSON line when done: what the site broker acknowledged, the raw frame bytes
published, and the commands received."""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np

from devices.encoding import Publish
from simulators.publisher import MqttPublisher


def frame_jpeg(i: int) -> bytes:
    """A 1280x720 camera-like frame (smooth scene, sensor noise): about what a drone sends."""
    rng = np.random.default_rng(i)
    y, x = np.mgrid[0:720, 0:1280]
    img = np.stack([(x / 5 + i) % 255, (y / 3) % 255, ((x + y) / 7) % 255], axis=-1)
    img = (img + rng.normal(0, 6, img.shape)).clip(0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return bytes(data)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--devices", type=int, default=10)
    ap.add_argument("--frames-per-s", type=float, default=1.0)
    ap.add_argument("--linger-s", type=float, default=0.0, help="keep listening for commands this long")
    args = ap.parse_args()

    commands: list[str] = []
    pub = MqttPublisher(f"mqtt://127.0.0.1:{args.port}", max_inflight=200, backoff=(0.2, 1.0), stall_timeout=120)
    link = pub.add_link("site", f"site-{args.tag}")
    drone_topic = f"city/futian/drone/drone-{args.tag}"
    listen = pub.add_link("cmd", f"cmd-{args.tag}", subscribe=(f"{drone_topic}/cmd",),
                          on_message=lambda _c, _u, m: commands.append(bytes(m.payload).decode()))
    assert listen is not None
    pub.connect()
    frames = [frame_jpeg(k) for k in range(4)]
    frame_bytes = n_frames = 0
    start = time.monotonic()
    next_frame = start
    for i in range(args.n):
        body: dict[str, Any] = {"ts": datetime.now(UTC).isoformat(), "msg_id": f"{args.tag}-{i}",
                                "metrics": {"pm25": float(i % 300)}}
        pub.publish(link, Publish(f"city/futian/sensor/s-{args.tag}-{i % args.devices}/telemetry",
                                  json.dumps(body).encode()))
        now = time.monotonic()
        if args.frames_per_s and now >= next_frame:
            data = frames[n_frames % len(frames)]
            props = [("ts", datetime.now(UTC).isoformat()), ("msg_id", f"f{args.tag}-{n_frames}"),
                     ("lat", "22.54"), ("lon", "114.05"), ("alt_m", "60"), ("heading_deg", "0"),
                     ("pitch_deg", "-90"), ("hfov_deg", "80")]
            pub.publish(link, Publish(f"{drone_topic}/frame", data, user_properties=props))
            frame_bytes += len(data)
            n_frames += 1
            next_frame += 1.0 / args.frames_per_s
        while time.monotonic() < start + (i + 1) / args.rate:
            pub.poll(0.005)
    pub.flush(120)
    until = time.monotonic() + args.linger_s
    while time.monotonic() < until and not commands:
        pub.poll(0.05)
    print(json.dumps({"acked": dict(pub.acked), "frames": n_frames, "frame_bytes": frame_bytes,
                      "commands": commands, "reconnects": pub.reconnects}), flush=True)
    pub.close()


if __name__ == "__main__":
    main()
