"""``urbanops bench ...``: measurements that print figures (``--json``: last line is JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(help="Benchmarks; with --json the last output line is one JSON object.",
                  no_args_is_help=True)
console = Console(stderr=True)


def _emit(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            if key != "runs":
                console.print(f"{key:>22}: {value}")
        for run in result.get("runs", []):
            console.print(run)


@app.command()
def ingest(
    duration: Annotated[float, typer.Option(help="Seconds of publishing per gateway setup.")] = 30.0,
    rate: Annotated[float | None, typer.Option(
        help="Fixed offered load, messages/s (all publishers); default: find saturation, then lag at"
             " --lag-fraction of it.")] = None,
    lag_fraction: Annotated[float, typer.Option(help="Lag run's rate as a fraction of saturation.")] = 0.8,
    workers: Annotated[str, typer.Option(help="Gateway process counts to run, comma separated.")] = "1,2",
    devices: Annotated[int, typer.Option(help="Publishing devices (one mosquitto_pub each).")] = 8,
    baseline: Annotated[float, typer.Option(help="Seconds for the naive baseline.")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Telemetry ingest: private broker + DB, 1 and 2 gateways, naive baseline, loss, lag, CPU/msg."""
    from gateway.bench.ingest import run_ingest_bench

    counts = [int(w) for w in workers.split(",") if w.strip()]
    result = run_ingest_bench(duration, rate, counts, devices, baseline,
                              progress=lambda text: console.print(f"[bench] {text}"), lag_fraction=lag_fraction)
    _emit(result, as_json)


@app.command()
def scale(
    duration: Annotated[float, typer.Option(help="Seconds of ingest at saturation (and at most of triage).")] = 15.0,
    vision_s: Annotated[float, typer.Option("--vision-s", help="Seconds of vision.")] = 20.0,
    backend: Annotated[str | None, typer.Option(help="Triage backend (default: URBANOPS_TRIAGE_BACKEND).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Per-unit costs for capacity planning (docs/capacity.md): gateway msgs/s per core, database rows/s
    per core, broker msgs/s per core, triage tickets/s per worker, vision frames/s per worker."""
    from gateway.bench.scale import run_scale_bench

    _emit(run_scale_bench(duration, vision_s, backend, progress=lambda text: console.print(f"[bench] {text}")),
          as_json)


@app.command()
def ros2(
    duration: Annotated[float, typer.Option(help="Seconds per message type.")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """ROS 2 decode + mapping throughput (NavSatFix, CompressedImage)."""
    from gateway.bench.ros2 import run_ros2_bench

    console.print("[bench] decoding ROS 2 messages")
    _emit(run_ros2_bench(duration), as_json)


@app.command()
def vision(
    duration: Annotated[float, typer.Option(help="Seconds of frames per measurement.")] = 20.0,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:0, ...")] = "cpu",
    batch: Annotated[int, typer.Option(help="Frames per detector call.")] = 1,
    runtime: Annotated[str | None, typer.Option(help="auto | torch | onnxruntime | openvino (default: the gateway's)")]
    = None,
    int8: Annotated[bool | None, typer.Option(help="openvino: the INT8 model (default: the gateway's)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Vision pipeline frames/s and latency at 640 px vs its runtime alone and PyTorch predict (same run)."""
    from gateway.bench.vision import run_vision_bench
    from gateway.settings import Settings
    from gateway.vision_link.sink import settings_runtime

    defaults = Settings()
    use_int8 = defaults.vision_int8 if int8 is None else int8
    chosen = settings_runtime(defaults, device, runtime, use_int8)
    console.print(f"[bench] vision on {chosen} ({device}), batch {batch}")
    _emit(run_vision_bench(duration, device, batch, runtime=chosen, int8=use_int8, threads=defaults.vision_threads,
                           progress=lambda text: console.print(f"[bench] {text}")), as_json)


@app.command()
def triage(
    duration: Annotated[float, typer.Option(help="Stop taking new cases after this many seconds.")] = 60.0,
    file: Annotated[Path, typer.Option(help="Labelled incidents (expected.category/severity/agency).")] = Path(
        "tests/data/triage_dev.jsonl"),
    backend: Annotated[str | None, typer.Option(
        help="learned, rules or llm (default: URBANOPS_TRIAGE_BACKEND).")] = None,
    model: Annotated[Path | None, typer.Option(help="GGUF file for the llm backend.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Triage accuracy, schema validity and latency on a labelled set (as `triage eval`), time-bounded."""
    import time
    from collections.abc import Iterator

    from gateway.settings import Settings
    from gateway.triage_svc.config import triage_config
    from triage.evaluate import evaluate
    from triage.registry import make_backend

    config = triage_config(Settings(), backend, model)
    engine = make_backend(config.backend, config)
    deadline = time.monotonic() + duration

    def cases() -> Iterator[str]:
        with file.open(encoding="utf-8") as f:
            for line in f:
                if time.monotonic() > deadline:
                    return
                if line.strip():
                    yield line

    console.print(f"[bench] triage ({engine.name}) on {file} for at most {duration:.0f}s")
    try:
        summary = evaluate(cases(), engine).summary()
    finally:
        engine.close()
    keys = ("n", "category_acc", "agency_acc", "severity_acc", "severity_within_one", "schema_valid",
            "p50_ms", "p95_ms", "backend")
    _emit({k: summary[k] for k in keys if k in summary}, as_json)


@app.command()
def api(
    duration: Annotated[float, typer.Option(help="Seconds of load.")] = 30.0,
    clients: Annotated[int, typer.Option(help="Concurrent live-feed (SSE) clients.")] = 200,
    rps: Annotated[float, typer.Option(help="Requests/s on /api/v1/incidents.")] = 50.0,
    notifies: Annotated[int, typer.Option(help="Feed events sent during the run.")] = 5,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Live-feed clients + request load on the incidents API: latency percentiles and errors."""
    from gateway.bench.api import run_api_bench

    console.print(f"[bench] {clients} feed clients, {rps:.0f} req/s for {duration:.0f}s")
    _emit(run_api_bench(duration, clients, rps, notifies=notifies), as_json)


@app.command()
def e2e(
    duration: Annotated[float, typer.Option(help="Seconds of scenario (the first quarter is the quiet control).")
                        ] = 60.0,
    drain: Annotated[float, typer.Option(help="Seconds to wait for the last tickets after the scenario.")] = 30.0,
    vision: Annotated[bool | None, typer.Option(
        "--vision/--no-vision", help="Patrol frames through the gateway's vision (default: when installed).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Planted incidents (sensors, robots, Open311, drone frames) through broker, gateway and database:
    tickets right, false, duplicated, and seconds from first sign to readable in the API."""
    from gateway.bench.e2e import run_e2e_bench

    result = run_e2e_bench(duration, drain, vision, progress=lambda text: console.print(f"[bench] {text}"))
    if not as_json:
        for key in ("incidents", "false_ticket_detail", "gateway"):
            console.print(key, result.pop(key))
    _emit(result, as_json)
