"""Edge worker link over real Mosquitto: shared-subscription frames in, vision events out."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from citypack.cached import geography
from devices.geography import distance_m
from devices.payloads import Event, FrameMeta
from gateway.cli.vision import FrameLink
from gateway.settings import Settings
from gateway.vision_link.sink import VisionConfig, VisionSink
from simulators.scenes.drone_view import Frame
from tests.helpers import Publisher, wait_for
from vision.detector import Detection, DetectorConfig
from vision.geo import CameraPose, pixel_to_ground

C = geography()["nanshan"].center


class CentreGarbage:
    name = "centre-garbage"

    def warmup(self) -> None:
        pass

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        return [[Detection("garbage", 0.8, (300.0, 220.0, 340.0, 260.0))] for _ in images]


def test_worker_publishes_detections_back_as_events(broker: Any, tmp_path: Path) -> None:
    got: list[tuple[str, bytes]] = []
    lock = threading.Lock()
    listener = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"ev-{time.monotonic_ns()}", protocol=mqtt.MQTTv5)

    def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with lock:
            got.append((msg.topic, bytes(msg.payload)))

    listening = threading.Event()
    listener.on_message = on_message
    listener.on_subscribe = lambda *_a: listening.set()
    listener.connect("127.0.0.1", broker.port)
    listener.subscribe("city/+/+/+/event", qos=1)
    listener.loop_start()
    assert listening.wait(10)

    settings = Settings(mqtt_url=f"mqtt://127.0.0.1:{broker.port}", data_dir=tmp_path)
    link = FrameLink(settings, f"vision-test-{time.monotonic_ns()}")
    cfg = VisionConfig(detector=DetectorConfig(weights=tmp_path / "unused.pt"))
    sink = VisionSink(cfg, lambda _c: CentreGarbage(), "", tmp_path, redactor_factory=lambda _c: None,
                      on_observation=link.publish_observation)
    link.sink = sink
    sink.start()
    assert sink.wait_ready(5)
    link.start(["nanshan"], f"grp{time.monotonic_ns() % 10**6}")
    assert link.wait_subscribed(10)  # a frame sent before the grant would not reach this worker
    try:
        jpeg = Frame(np.full((480, 640, 3), 100, np.uint8)).jpeg()
        meta = FrameMeta(ts=datetime.now(UTC), msg_id="w-1", lat=C.lat, lon=C.lon, alt_m=60.0,
                         heading_deg=0.0, pitch_deg=-90.0, hfov_deg=70.0)
        pub = Publisher(broker.port, client_id=f"wpub-{time.monotonic_ns()}")
        pub.publish("city/nanshan/drone/drone-w1/frame", jpeg, meta.to_user_properties())
        pub.publish("city/futian/drone/drone-w2/frame", jpeg, meta.to_user_properties())  # other district
        pub.publish("city/nanshan/drone/drone-w3/frame", b"not a jpeg", meta.to_user_properties())
        pub.close()
        assert wait_for(lambda: len(got) >= 1, 10)
        time.sleep(0.5)
        with lock:
            topic, payload = got[0]
            assert len(got) == 1, got
        assert topic == "city/nanshan/drone/drone-w1/event"
        ev = Event.model_validate_json(payload)
        assert ev.label == "garbage" and ev.confidence == 0.8 and ev.value == 1.0 and ev.position is not None
        expect = pixel_to_ground(CameraPose(C.lat, C.lon, 60.0, 0.0, -90.0, 70.0), 320, 240, 640, 480)
        assert expect is not None
        assert distance_m(ev.position.lat, ev.position.lon, expect.lat, expect.lon) < 0.5
        assert json.loads(payload)["msg_id"].startswith("vis-")
        assert link.rejected == 1 and sink.counters.processed == 1
    finally:
        link.stop()
        sink.stop()
        listener.loop_stop()
        listener.disconnect()
