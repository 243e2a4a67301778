"""VisionSink without a model: non-blocking submit, drop policy, counters, no raw frames on disk."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from citypack.cached import geography
from devices.payloads import FrameMeta
from devices.topics import Channel, Kind, Topic
from gateway.vision_link.sink import FrameQueue, VisionConfig, VisionSink, _Queued
from simulators.scenes.drone_view import Frame
from vision.detector import Detection, DetectorConfig
from vision.pipeline import FrameIn

C = geography()["futian"].center


def meta(i: int) -> FrameMeta:
    return FrameMeta(ts=datetime.now(UTC), msg_id=f"m-{i}", lat=C.lat + 0.01, lon=C.lon + 0.01, alt_m=50,
                     heading_deg=0, pitch_deg=-90, hfov_deg=70)


def frame(device: str, i: int) -> _Queued:
    return _Queued(FrameIn("futian", device, "drone", meta(i), b""), time.monotonic())


def test_full_queue_drops_the_same_devices_oldest_frame() -> None:
    q = FrameQueue(3)
    assert not q.put(frame("a", 1)) and not q.put(frame("b", 1)) and not q.put(frame("a", 2))
    assert q.put(frame("b", 2))  # full: b's oldest goes, a's frames stay
    ids = [(x.frame.device_id, x.frame.meta.msg_id) for x in q.get_batch(10, 0)]
    assert ids == [("a", "m-1"), ("a", "m-2"), ("b", "m-2")]
    q2 = FrameQueue(2)
    q2.put(frame("a", 1))
    q2.put(frame("a", 2))
    assert q2.put(frame("c", 1))  # no frame of c queued: the oldest overall goes
    assert [x.frame.meta.msg_id for x in q2.get_batch(10, 0)] == ["m-2", "m-1"]


class SlowDetector:
    """Blocks until released, then reports one garbage pile in the image centre."""

    name = "slow"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def warmup(self) -> None:
        pass

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        self.release.wait(10)
        self.calls += 1
        return [[Detection("garbage", 0.9, (300.0, 220.0, 340.0, 260.0))] for _ in images]


def test_submit_never_blocks_and_counts_drops(tmp_path: Path) -> None:
    det = SlowDetector()
    cfg = VisionConfig(detector=DetectorConfig(weights=tmp_path / "none.pt"), queue_size=4, batch=1)
    sink = VisionSink(cfg, lambda _c: det, "", tmp_path, redactor_factory=lambda _c: None).start()
    assert sink.wait_ready(5)
    jpeg = Frame(np.full((480, 640, 3), 90, np.uint8)).jpeg()
    topic = Topic("futian", Kind.DRONE, "d1", Channel.FRAME)
    t0 = time.perf_counter()
    for i in range(50):
        assert sink.submit(topic, meta(i), jpeg)
    assert time.perf_counter() - t0 < 0.5  # the model is stuck, yet submit returns at once
    assert sink.counters.dropped >= 45 and len(sink.queue) == 4
    det.release.set()
    deadline = time.monotonic() + 10
    while sink.counters.processed < 50 - sink.counters.dropped and time.monotonic() < deadline:
        time.sleep(0.02)
    stats = sink.stats()
    sink.stop()
    assert stats["processed"] + stats["dropped"] == 50
    # One garbage pile seen in every frame: one observation, the rest merged by dedup.
    assert stats["observations"] == 1 and stats["merged"] == stats["processed"] - 1
    # No redactor configured -> no evidence at all (never an unredacted image).
    assert stats["evidence_written"] == 0 and not any(p.is_file() for p in tmp_path.rglob("*"))
    assert stats["latency_p50_ms"] is not None
    assert not sink.submit(topic, meta(99), jpeg)  # stopped: refused, the ingestor counts it


def test_failed_model_disables_vision_without_raising(tmp_path: Path) -> None:
    def broken(_c: DetectorConfig) -> SlowDetector:
        raise FileNotFoundError("no weights")

    sink = VisionSink(VisionConfig(detector=DetectorConfig(weights=tmp_path / "x.pt")), broken, "", tmp_path)
    sink.start()
    assert not sink.wait_ready(5) and sink.failed and "no weights" in sink.failed
    assert not sink.submit(Topic("futian", Kind.DRONE, "d1", Channel.FRAME), meta(1), b"\xff\xd8")
    sink.stop()
