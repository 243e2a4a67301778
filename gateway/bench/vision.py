"""``urbanops bench vision``: the vision pipeline against its runtime alone and against PyTorch.

All run in the same process on the same 640x480 frames (a simulated patrol with planted
incidents), alternating in rounds so shared-machine noise hits them alike:

- torch: Ultralytics ``predict`` on PyTorch on already decoded images (``torch_fps``);
- direct: the configured runtime's ``detect`` on the same decoded images, ``batch`` at a time;
- pipeline: ``VisionSink.submit`` of the JPEG bytes -> queue -> worker (decode, detect,
  geo-reference, zones, dedup, redaction of frames with new observations, evidence JPEG).

Latency is per frame from ``submit`` to done. Every round moves the clock past the dedup
window, so each round pays for the redaction and evidence of its new observations again.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from citypack.cached import geography, pack_at
from devices.geography import offset
from devices.payloads import FrameMeta
from devices.topics import Channel, Kind, Topic
from gateway.vision_link.sink import DEFAULT_WEIGHTS, VisionConfig, VisionSink
from simulators.scenes.drone_view import Planted, Pose, render_frame
from vision.detector import BACKEND_OF_RUNTIME, Detector, DetectorConfig, create_detector
from vision.pipeline import decode
from vision.zones import ZoneMap

LABELS = ("garbage", "vehicle", "fire", "pothole", "person_down", "debris", "fallen_tree", "smoke")


def patrol_frames(n: int, seed: int = 11) -> list[tuple[FrameMeta, bytes]]:
    """A drone flying north at 30 m, 4 m between frames, something planted every ~25 m."""
    c = geography()["futian"].center
    start = offset(c.lat, c.lon, 300, -200)  # away from the zones at the centre
    planted = []
    for k in range(n // 6 + 2):
        p = offset(start.lat, start.lon, (-1) ** k * 8.0, 10.0 + 25.0 * k)
        planted.append(Planted(LABELS[k % len(LABELS)], p.lat, p.lon))
    frames = []
    for i in range(n):
        pos = offset(start.lat, start.lon, 0, 4.0 * i)
        pose = Pose(pos.lat, pos.lon, 30.0, 0.0, -90.0, 70.0)
        jpeg = render_frame(pose, planted, 640, 480, seed=seed + i, distractors=6).jpeg(85)
        meta = FrameMeta(ts=datetime.now(UTC), msg_id=f"bench-{i}", lat=pos.lat, lon=pos.lon, alt_m=30.0,
                         heading_deg=0.0, pitch_deg=-90.0, hfov_deg=70.0)
        frames.append((meta, jpeg))
    return frames


def _pct(data: list[float], q: float) -> float:
    s = sorted(data)
    return round(s[min(len(s) - 1, int(q * len(s)))], 1) if s else 0.0


def _timed(fn: Callable[[list[np.ndarray]], Any], images: list[np.ndarray], batch: int) -> float:
    t0 = time.perf_counter()
    for s in range(0, len(images), batch):
        fn(images[s : s + batch])
    return time.perf_counter() - t0


def run_vision_bench(duration_s: float = 30.0, device: str = "cpu", batch: int = 1, weights: Path | None = None,
                     n_frames: int = 24, progress: Callable[[str], None] | None = None, runtime: str = "openvino",
                     int8: bool = True, threads: int = 0) -> dict[str, Any]:
    """``runtime`` (torch, onnxruntime, openvino) runs the pipeline and ``direct``; Ultralytics'
    PyTorch ``predict`` on the same frames gives ``torch_fps``. The three alternate in rounds."""
    say = progress or (lambda _t: None)
    say(f"rendering {n_frames} patrol frames at 640x480")
    frames = patrol_frames(n_frames)
    images = [decode(j) for _m, j in frames]
    int8 = int8 and runtime == "openvino"
    det_cfg = DetectorConfig(weights=Path(weights or DEFAULT_WEIGHTS), device=device, imgsz=640, max_batch=batch,
                             backend=BACKEND_OF_RUNTIME[runtime], int8=int8, threads=threads)
    say(f"loading {det_cfg.weights.name} on {runtime}{' INT8' if int8 else ''} ({device}) and on torch")
    direct: Any = create_detector(det_cfg)
    direct.warmup()
    torch_det: Any = direct if runtime == "torch" else create_detector(replace(det_cfg, backend="ultralytics",
                                                                                int8=False))
    if torch_det is not direct:
        torch_det.warmup()

    shared: list[Detector] = [direct]  # the pipeline reuses the loaded model: same weights, same device

    def factory(_cfg: DetectorConfig) -> Detector:
        return shared[0]

    topic = Topic("futian", Kind.DRONE, "bench-drone", Channel.FRAME)
    torch_t, direct_t, direct_n, pipe_t, pipe_n = 0.0, 0.0, 0, 0.0, 0
    latencies: list[float] = []
    with tempfile.TemporaryDirectory(prefix="urbanops-bench-") as tmp:
        zones = ZoneMap.from_features(pack_at().zone_features())  # the demo city's, as the gateway's are
        sink = VisionSink(VisionConfig(detector=det_cfg, queue_size=max(64, batch * 4), batch=batch, zones=zones),
                          factory, "", Path(tmp))
        sink.start()
        if not sink.wait_ready(300):
            raise RuntimeError(f"vision pipeline failed to start: {sink.failed}")
        deadline = time.monotonic() + duration_s
        rnd = 0
        while time.monotonic() < deadline or rnd < 2:
            say(f"round {rnd + 1}: torch predict, {runtime} alone, then the pipeline")
            torch_t += _timed(torch_det.predict_raw, images, batch)
            direct_t += _timed(direct.detect, images, batch)
            direct_n += len(images)
            shift = timedelta(seconds=(rnd + 1) * 10 * sink.config.dedup.window_s)
            t0 = time.perf_counter()
            for s in range(0, len(frames), batch):
                chunk = frames[s : s + batch]
                target = sink.counters.processed + len(chunk)
                t_sub = time.perf_counter()
                for i, (meta, jpeg) in enumerate(chunk):
                    m = meta.model_copy(update={"ts": meta.ts + shift, "msg_id": f"r{rnd}-{s + i}"})
                    sink.submit(topic, m, jpeg)
                if not sink.wait_processed(target, 120):
                    raise RuntimeError(f"vision pipeline stalled: {sink.stats()}")
                latencies.extend([(time.perf_counter() - t_sub) * 1000.0] * len(chunk))
            pipe_t += time.perf_counter() - t0
            pipe_n += len(frames)
            rnd += 1
        stats = sink.stats()
        sink.stop()
    fps, direct_fps, torch_fps = pipe_n / pipe_t, direct_n / direct_t, direct_n / torch_t
    return {"fps": round(fps, 2), "p50_ms": _pct(latencies, 0.5), "p95_ms": _pct(latencies, 0.95),
            "direct_fps": round(direct_fps, 2), "overhead_pct": round((direct_fps / fps - 1) * 100, 1),
            "device": device, "runtime": runtime, "precision": "int8" if int8 else "fp32",
            "torch_fps": round(torch_fps, 2), "speedup": round(direct_fps / torch_fps, 2),
            "batch": batch, "imgsz": 640, "frames": pipe_n, "rounds": rnd,
            "mean_ms": round(statistics.fmean(latencies), 1) if latencies else 0.0,
            "observations": stats["observations"], "evidence_written": stats["evidence_written"],
            "faces_blurred": stats["faces_blurred"], "weights": direct.name,
            "frame_px": list(np.asarray(images[0]).shape[1::-1])}
