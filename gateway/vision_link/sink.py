"""``FrameSink`` for the gateway: frames -> bounded queue -> vision worker thread -> observations.

``submit`` runs on the MQTT receive thread, so it only enqueues: when the queue is full the
oldest queued frame of the same device is dropped (else the oldest frame overall) and
counted. The worker thread owns the model, decodes, detects, geo-references, applies zones,
dedups, redacts, writes the redacted evidence JPEG under ``data_dir/evidence/`` and inserts
``observations`` rows. Raw frames are never written anywhere.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import psycopg

from devices.payloads import FrameMeta
from devices.topics import Topic
from gateway.store.observations import ObservationRow, insert_observations
from gateway.vision_link.pending import PendingObservations
from vision.dedup import DedupConfig
from vision.detector import (
    BACKEND_OF_RUNTIME,
    SHIPPED_WEIGHTS,
    Detector,
    DetectorConfig,
    choose_runtime,
    create_detector,
)
from vision.pipeline import FrameIn, FrameOut, FrameProcessor
from vision.privacy import Redactor
from vision.rules import RulesConfig
from vision.zones import ZoneMap

log = logging.getLogger(__name__)
DEFAULT_WEIGHTS = SHIPPED_WEIGHTS  # the gateway's detector when settings.yolo_weights names none
OBS_NAMESPACE = uuid.UUID("6f1c7a9e-3d2b-4c1e-9a55-2b7e0f3c8d10")


def settings_runtime(settings: Any, device: str, runtime: str | None = None, int8: bool | None = None) -> str:
    """The runtime the settings choose for ``device`` (``runtime`` / ``int8`` override them, as the
    bench's options do): one rule for the sink, the worker and the benchmarks."""
    chosen = runtime or str(getattr(settings, "vision_runtime", "auto"))
    return choose_runtime(chosen, device,
                          Path(settings.yolo_weights or DEFAULT_WEIGHTS),
                          getattr(settings, "vision_int8", False) if int8 is None else int8)


@dataclass(frozen=True)
class VisionConfig:
    detector: DetectorConfig
    queue_size: int = 64
    batch: int = 4  # frames per model call when several are waiting
    rules: RulesConfig = field(default_factory=RulesConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    zones: ZoneMap = field(default_factory=ZoneMap)  # the city pack's (gateway.runtime.zone_map)
    redact_faces: bool = True
    redact_plates: bool = True
    evidence_quality: int = 85

    @classmethod
    def from_settings(cls, settings: Any, zones: ZoneMap | None = None) -> VisionConfig:
        """From ``gateway.settings.Settings``; optional vision_* fields fall back to defaults."""
        weights = settings.yolo_weights or DEFAULT_WEIGHTS
        runtime = settings_runtime(settings, settings.device)
        det = DetectorConfig(weights=Path(weights), device=settings.device,
                             backend=BACKEND_OF_RUNTIME.get(runtime, runtime),
                             threads=getattr(settings, "vision_threads", 0),
                             int8=getattr(settings, "vision_int8", False),
                             imgsz=getattr(settings, "vision_imgsz", 640),
                             conf=getattr(settings, "vision_conf", 0.25),
                             max_batch=getattr(settings, "vision_batch", 4))
        rules = RulesConfig(label_map=dict(getattr(settings, "vision_label_map", {}) or {}),
                            min_confidence=getattr(settings, "vision_min_confidence", 0.35))
        return cls(detector=det, queue_size=settings.vision_queue_size, batch=det.max_batch, rules=rules,
                   zones=zones or ZoneMap(),
                   redact_faces=getattr(settings, "vision_redact", True),
                   redact_plates=getattr(settings, "vision_redact", True))


@dataclass
class VisionCounters:
    submitted: int = 0
    dropped: int = 0
    processed: int = 0
    decode_errors: int = 0
    observations: int = 0
    merged: int = 0
    evidence_written: int = 0
    redaction_failures: int = 0
    db_errors: int = 0
    batch_errors: int = 0
    faces_blurred: int = 0
    plates_blurred: int = 0
    latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=2000))

    def latency_quantile(self, q: float) -> float | None:
        data = sorted(self.latency_ms)
        return data[min(len(data) - 1, int(q * len(data)))] if data else None


@dataclass
class _Queued:
    frame: FrameIn
    enqueued: float


class FrameQueue:
    """Bounded FIFO; when full, the same device's oldest frame makes room (else the oldest)."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._items: deque[_Queued] = deque()
        self._cond = threading.Condition()

    def put(self, item: _Queued) -> bool:
        """Enqueue; return True when an older frame had to be dropped."""
        with self._cond:
            dropped = False
            if len(self._items) >= self.size:
                dev = item.frame.device_id
                victim = next((q for q in self._items if q.frame.device_id == dev), self._items[0])
                self._items.remove(victim)
                dropped = True
            self._items.append(item)
            self._cond.notify()
            return dropped

    def get_batch(self, n: int, timeout_s: float) -> list[_Queued]:
        with self._cond:
            if not self._items:
                self._cond.wait(timeout_s)
            out: list[_Queued] = []
            while self._items and len(out) < n:
                out.append(self._items.popleft())
            return out

    def __len__(self) -> int:
        return len(self._items)


class VisionSink:
    def __init__(self, config: VisionConfig, detector_factory: Callable[[DetectorConfig], Detector] = create_detector,
                 database_url: str = "", data_dir: Path = Path("data"), *,
                 redactor_factory: Callable[[VisionConfig], Redactor | None] | None = None,
                 on_observation: Callable[[ObservationRow], None] | None = None) -> None:
        self.config = config
        self.detector_factory = detector_factory
        self.redactor_factory = redactor_factory or _default_redactor
        self.database_url = database_url
        self.data_dir = Path(data_dir)
        self.on_observation = on_observation
        self.counters = VisionCounters()
        self.queue = FrameQueue(config.queue_size)
        self.ready = threading.Event()
        self.failed: str | None = None
        self._stop = threading.Event()
        self._done = threading.Condition()  # notified after every batch (benchmarks, tests, drain)
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None
        # Observations waiting for the database (outage); journaled so a crash keeps them too.
        self.pending = PendingObservations(self.data_dir / "vision-pending.jsonl" if database_url else None)
        self._retry_at = 0.0
        self._processor: FrameProcessor | None = None

    def set_zones(self, zones: ZoneMap) -> None:
        """A reloaded city pack's zones: the next frame is judged by them (one reference swap)."""
        self.config = dataclasses.replace(self.config, zones=zones)
        if self._processor is not None:
            self._processor.zones = zones

    # -- FrameSink ------------------------------------------------------------------
    def submit(self, topic: Topic, meta: FrameMeta, jpeg: bytes) -> bool:
        if self._stop.is_set() or self.failed is not None:
            return False
        self.counters.submitted += 1
        frame = FrameIn(topic.district, topic.device_id, topic.kind.value, meta, jpeg)
        if self.queue.put(_Queued(frame, time.monotonic())):
            self.counters.dropped += 1
        return True

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> VisionSink:
        self._thread = threading.Thread(target=self._run, name="vision-sink", daemon=True)
        self._thread.start()
        return self

    def wait_ready(self, timeout_s: float) -> bool:
        return self.ready.wait(timeout_s) and self.failed is None

    def wait_processed(self, count: int, timeout_s: float) -> bool:
        """Block until ``counters.processed`` reaches ``count`` (without polling the worker's CPU away)."""
        with self._done:
            return self._done.wait_for(lambda: self.counters.processed >= count, timeout_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stats(self) -> dict[str, Any]:
        c = self.counters
        return {"submitted": c.submitted, "dropped": c.dropped, "processed": c.processed,
                "queue": len(self.queue), "decode_errors": c.decode_errors, "observations": c.observations,
                "merged": c.merged, "evidence_written": c.evidence_written,
                "redaction_failures": c.redaction_failures, "db_errors": c.db_errors, "batch_errors": c.batch_errors,
                "faces_blurred": c.faces_blurred, "plates_blurred": c.plates_blurred,
                "pending": len(self.pending), "pending_dropped": self.pending.dropped,
                "latency_p50_ms": c.latency_quantile(0.5), "latency_p95_ms": c.latency_quantile(0.95),
                "ready": self.ready.is_set(), "failed": self.failed}

    # -- worker ---------------------------------------------------------------------
    def _run(self) -> None:
        try:
            detector = self.detector_factory(self.config.detector)
            detector.warmup()
            processor = FrameProcessor(detector, self.redactor_factory(self.config),
                                       self.config.zones, self.config.rules, self.config.dedup)
            self._processor = processor
        except Exception as err:  # no model: frames are refused (counted by the ingestor), ingest goes on
            self.failed = f"{type(err).__name__}: {err}"
            log.error("vision disabled: %s", self.failed)
            self.ready.set()
            return
        if self.pending.load():
            log.info("%d vision observations from before the restart wait for the database", len(self.pending))
        self.ready.set()
        while not self._stop.is_set():
            batch = self.queue.get_batch(self.config.batch, 0.2)
            if not batch:
                if self.pending and time.monotonic() >= self._retry_at:
                    self._store([])  # no frames coming: still retry what waits for the database
                continue
            try:
                outs = processor.process([q.frame for q in batch])
                rows = [row for out in outs for row in self._rows(out)]
                self._store(rows)
            except Exception:  # a bad batch must not kill the worker; it still counts as handled
                log.exception("vision batch failed")
                self.counters.batch_errors += 1
            now = time.monotonic()
            for q in batch:
                self.counters.latency_ms.append((now - q.enqueued) * 1000.0)
            with self._done:
                self.counters.processed += len(batch)
                self._done.notify_all()
        if processor.redactor is not None:
            processor.redactor.close()  # its helper thread ends with the worker

    def _rows(self, out: FrameOut) -> list[ObservationRow]:
        c = self.counters
        if out.error and not out.detections:
            c.decode_errors += 1
            return []
        c.merged += out.merged
        if not out.new:
            return []
        f = out.frame
        evidence: str | None = None
        if out.evidence is not None:
            evidence = self._write_evidence(out)
            c.faces_blurred += out.faces
            c.plates_blurred += out.plates
        else:
            c.redaction_failures += 1 if out.error else 0
        rows = []
        for k, (cand, track) in enumerate(out.new):
            oid = "vis-" + uuid.uuid5(OBS_NAMESPACE, f"{f.device_id}/{f.meta.msg_id}/{cand.label}/{k}").hex
            rows.append(ObservationRow(
                ts=f.meta.ts, observation_id=oid, source="vision", device_id=f.device_id,
                device_kind=f.device_kind, district=f.district, label=cand.label,
                confidence=round(cand.confidence, 4), count=cand.count, lat=cand.lat, lon=cand.lon,
                place_tags=cand.place_tags, evidence_path=evidence,
                extra={"track_id": track.track_id, "model_label": cand.model_label, "zone": cand.zone,
                       "msg_id": f.meta.msg_id, "range_m": round(cand.range_m, 1),
                       "boxes": [[round(v, 1) for v in b] for b in cand.boxes]}))
        return rows

    def _write_evidence(self, out: FrameOut) -> str | None:
        f = out.frame
        assert out.evidence is not None
        safe_id = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in f.meta.msg_id)
        rel = Path("evidence") / f.district / f.meta.ts.strftime("%Y%m%d") / f"{f.device_id}-{safe_id}.jpg"
        path = self.data_dir / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            ok, buf = cv2.imencode(".jpg", out.evidence, [cv2.IMWRITE_JPEG_QUALITY, self.config.evidence_quality])
            if not ok:
                return None
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(buf.tobytes())
            tmp.replace(path)  # readers never see half an image
        except OSError as err:
            log.warning("cannot write evidence %s: %s", path, err)
            return None
        self.counters.evidence_written += 1
        return rel.as_posix()

    def _store(self, rows: list[ObservationRow]) -> None:
        """Insert these rows and any still pending; on failure they all wait (journaled)."""
        if not rows and not self.pending:
            return
        todo = self.pending.rows + rows
        if self.database_url:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(self.database_url, connect_timeout=5)
                insert_observations(self._conn, todo)
            except psycopg.Error as err:
                log.warning("storing %d observations failed (kept, will retry): %s", len(todo), err)
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                self.counters.db_errors += 1
                self.pending.add(rows)
                self._retry_at = time.monotonic() + 1.0
                return
            self.pending.clear()
        self.counters.observations += len(todo)
        if self.on_observation is not None:
            for row in todo:
                self.on_observation(row)


def _default_redactor(config: VisionConfig) -> Redactor | None:
    if not (config.redact_faces or config.redact_plates):
        return None
    return Redactor.default(config.detector.device, faces=config.redact_faces, plates=config.redact_plates)
