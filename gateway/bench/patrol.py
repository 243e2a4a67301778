"""``python -m gateway.bench.patrol``: the patrol camera's cost and the detector's silence on it.

Runs the ``drone_survey`` scenario unpaced with the patrol camera on, times the rendering of
each frame (the simulator's cost per frame), then runs the committed detector on every frame
taken more than 40 m from anything planted and counts detections at or above the vision rules'
default confidence (0.35): the false observations a patrol would produce.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from devices.geography import distance_m
from gateway.vision_link.sink import DEFAULT_WEIGHTS
from simulators.config import FleetConfig
from simulators.drones import Drone
from simulators.sim import FleetSim
from vision.detector import DetectorConfig, create_detector
from vision.pipeline import decode
from vision.rules import RulesConfig

SCENARIO = Path(__file__).resolve().parents[2] / "simulators" / "scenarios" / "drone_survey.yaml"
EMPTY_BEYOND_M = 40.0  # the footprint is ~32 x 24 m: farther than this, nothing planted is in view


def run_patrol_bench(drones: int = 2, duration_s: float = 160.0) -> dict[str, Any]:
    sim = FleetSim(FleetConfig(sensors=0, robots=0, drones=drones, duration_s=duration_s, pace=False,
                               frame_interval_s=1.0, scenario=SCENARIO))
    cams = [d for d in sim.devices if isinstance(d, Drone)]
    frames = []
    t0 = time.perf_counter()
    for _msg in sim.messages():  # the drones render their frames while ticking
        for d in cams:
            frames += d.take_frames()
    sim_s = time.perf_counter() - t0
    truth = sim.truth()
    empty = [(meta, jpeg) for _topic, meta, jpeg in frames
             if all(distance_m(meta.lat, meta.lon, r.lat, r.lon) > EMPTY_BEYOND_M for r in truth)]
    detector = create_detector(DetectorConfig(weights=DEFAULT_WEIGHTS, imgsz=640))
    detector.warmup()
    floor = RulesConfig().min_confidence
    false: list[tuple[str, str, float]] = []
    times = []
    for meta, jpeg in empty:
        t = time.perf_counter()
        found = detector.detect([decode(jpeg)])[0]
        times.append((time.perf_counter() - t) * 1000)
        false += [(meta.msg_id, d.label, round(d.confidence, 2)) for d in found if d.confidence >= floor]
    return {"frames": len(frames), "sim_ms_per_frame": round(sim_s * 1000 / max(1, len(frames)), 1),
            "empty_frames": len(empty), "frames_with_false_detection": len({m for m, _l, _c in false}),
            "false_detections": false, "detect_ms_p50": round(statistics.median(times), 1) if times else None,
            "min_confidence": floor}


if __name__ == "__main__":
    print(json.dumps(run_patrol_bench()))
