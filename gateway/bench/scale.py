"""``urbanops bench scale``: the per-unit costs a capacity plan is made of, measured in one run.

- **gateway**: messages/s one gateway core ingests (its CPU time per stored message, at saturation,
  from the ingest bench; one metric per message);
- **database**: telemetry rows/s one PostgreSQL core stores (the server processes' CPU per row, same run);
- **broker**: messages/s one Mosquitto core routes (same run);
- **triage**: tickets/s one triage worker makes with the default backend (one process, one thread,
  over the labelled dev set, wall time; its CPU time per ticket too);
- **vision**: frames/s one vision worker detects on this CPU with the default runtime (the vision bench).

``docs/capacity.md`` turns them into a city's sizing. The figures are per core of *this* machine:
compare ratios, not absolutes, across machines.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.bench.ingest import run_ingest_bench

DEV_SET = Path(__file__).resolve().parents[2] / "tests" / "data" / "triage_dev.jsonl"


def _triage_unit(backend: str | None, limit_s: float) -> dict[str, Any]:
    from gateway.settings import Settings
    from gateway.triage_svc.config import triage_config
    from triage.models import Incident
    from triage.registry import make_backend

    config = triage_config(Settings(), backend)
    engine = make_backend(config.backend, config)
    incidents = [Incident.model_validate(json.loads(line))  # the labels ("expected") are ignored
                 for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        engine.assess(incidents[0])  # warm: the first call loads what the backend loads lazily
        n, cpu0, start = 0, resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        while time.perf_counter() - start < limit_s or n < len(incidents):
            engine.assess(incidents[n % len(incidents)])
            n += 1
            if n >= 5 * len(incidents):
                break
        wall = time.perf_counter() - start
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        engine.close()
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"backend": config.backend, "tickets": n, "tickets_per_s": round(n / wall, 1),
            "cpu_ms_per_ticket": round(cpu / n * 1000, 3)}


def run_scale_bench(duration_s: float = 15.0, vision_s: float = 20.0, triage_backend: str | None = None,
                    progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    say = progress or (lambda _t: None)
    say(f"ingest: one gateway at saturation for {duration_s:.0f}s")
    ingest = run_ingest_bench(duration_s, None, [1], 8, 3.0, progress=say)
    saturation = next((r for r in ingest["runs"] if r.get("saturate")), ingest["runs"][0])
    say("triage: one worker over the dev set")
    triage = _triage_unit(triage_backend, min(duration_s, 20.0))
    say(f"vision: one worker for {vision_s:.0f}s")
    from gateway.bench.vision import run_vision_bench
    from gateway.settings import Settings
    from gateway.vision_link.sink import settings_runtime

    settings = Settings()
    vision = run_vision_bench(vision_s, "cpu", 1, runtime=settings_runtime(settings, "cpu"), int8=settings.vision_int8,
                              threads=settings.vision_threads, progress=say)

    def per_core(us: float) -> float | None:
        return round(1e6 / us, 0) if us > 0 else None

    return {
        "gateway_msgs_per_core_s": per_core(saturation["cpu_us_per_msg"]),
        "db_rows_per_core_s": per_core(saturation["db_cpu_us_per_msg"]),
        "broker_msgs_per_core_s": per_core(saturation["broker_cpu_us_per_msg"]),
        "ingest_msgs_per_s": saturation["msgs_per_s"],
        "triage_tickets_per_worker_s": triage["tickets_per_s"],
        "triage_cpu_ms_per_ticket": triage["cpu_ms_per_ticket"],
        "triage_backend": triage["backend"],
        "vision_fps_per_worker": vision["fps"],
        "vision_runtime": vision["runtime"], "vision_precision": vision["precision"],
        "cpus": os.cpu_count(), "machine": platform.machine(),
        "ingest_run": saturation, "triage_run": triage,
        "vision_run": {k: vision[k] for k in ("fps", "p50_ms", "p95_ms", "direct_fps", "runtime", "precision")},
    }
