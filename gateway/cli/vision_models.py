"""``urbanops vision evaluate|export``: score the detector on any runtime, and make the files
the exported-graph runtimes load (ONNX, INT8 OpenVINO IR, TensorRT)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console

from vision.detector import SHIPPED_WEIGHTS

console = Console(stderr=True)
# Calibration images for INT8 come from seeds that no split of the training recipe uses
# (train 1, val 2, held-out 3): the INT8 model must not have seen what scores it.
CALIBRATION_SEED = 101
CALIBRATION_SCENES = 240
CALIBRATION_FRAMES = 60
CALIBRATION_FRAME_SEED = 501
EVAL_RUNTIMES = ("torch", "onnxruntime", "openvino", "openvino-int8")


def _say(text: str) -> None:
    console.print(f"[vision] {text}")


def calibration_images() -> list[tuple[np.ndarray, int]]:
    """Rendered scenes at the training size and drone patrol frames at the gateway's size."""
    from gateway.bench.vision import patrol_frames
    from simulators.scenes.compose import render_scene
    from simulators.scenes.survey import survey_scene
    from vision.pipeline import decode

    rng = np.random.default_rng(CALIBRATION_SEED)
    out = [((survey_scene(rng, 320) if rng.random() < 0.5 else render_scene(rng, 320)).image, 320)
           for _ in range(CALIBRATION_SCENES)]
    out += [(decode(jpeg), 640) for _m, jpeg in patrol_frames(CALIBRATION_FRAMES, seed=CALIBRATION_FRAME_SEED)]
    return out


def _detector(runtime: str, weights: Path, imgsz: int, device: str) -> Any:
    from vision.detector import BACKEND_OF_RUNTIME, DetectorConfig, create_detector

    int8 = runtime == "openvino-int8"
    backend = BACKEND_OF_RUNTIME["openvino" if int8 else runtime]
    # As Ultralytics' val: every box down to 0.001 and per-class NMS at 0.7, so AP sees the whole curve.
    return create_detector(DetectorConfig(weights=weights, backend=backend, device=device, imgsz=imgsz,
                                          conf=0.001, iou=0.7, agnostic_nms=False, max_batch=8, int8=int8))


def evaluate(
    weights: Annotated[Path, typer.Option()] = SHIPPED_WEIGHTS,
    work: Annotated[Path, typer.Option(help="Scratch folder for the rendered held-out set.")] = Path(".local/vision"),
    n: Annotated[int, typer.Option(min=10)] = 400,
    seed: Annotated[int, typer.Option()] = 3,
    imgsz: Annotated[int, typer.Option(min=64)] = 320,
    device: Annotated[str, typer.Option()] = "cpu",
    runtime: Annotated[list[str] | None, typer.Option(
        help="Score through these runtimes with one yardstick (vision.map_eval), repeatable: "
             "torch, onnxruntime, openvino, openvino-int8. Default: Ultralytics val of WEIGHTS.")] = None,
) -> None:
    """mAP50 of WEIGHTS on freshly rendered scenes from SEED (not a training seed)."""
    from simulators.scenes import CLASSES
    from simulators.scenes.dataset import write_dataset
    from vision.train import offline_ultralytics

    offline_ultralytics(work / "ultralytics")
    _say(f"rendering {n} scenes with seed {seed}")
    data = write_dataset(work / f"eval-{seed}", 0, n, seed + 1000, seed, imgsz)
    if not runtime:
        from vision.train import evaluate as run_eval

        print(json.dumps(run_eval(weights, data, imgsz, device)))
        return
    from vision.map_eval import evaluate_detector

    results = []
    for name in runtime:
        if name not in EVAL_RUNTIMES:
            console.print(f"[red]unknown runtime {name!r} (choose from {', '.join(EVAL_RUNTIMES)})[/red]")
            raise typer.Exit(2)
        _say(f"scoring through {name}")
        result = evaluate_detector(_detector(name, weights, imgsz, device), data.parent / "images" / "val",
                                   dict(enumerate(CLASSES)))
        results.append({"runtime": name, "seed": seed, "imgsz": imgsz, **result})
        _say(f"{name}: mAP50 {result['map50']}")
    print(json.dumps({"metric": "vision.map_eval", "results": results}))


def export(
    fmt: Annotated[str, typer.Option("--format", help="onnx | openvino-int8 (from the .onnx beside WEIGHTS) | "
                                                      "engine (TensorRT, on the target GPU) | torchscript")] = "onnx",
    weights: Annotated[Path, typer.Option()] = SHIPPED_WEIGHTS,
    imgsz: Annotated[int, typer.Option(min=64)] = 640,
    device: Annotated[str, typer.Option(help="cpu for onnx; cuda:N for engine")] = "cpu",
    half: Annotated[bool, typer.Option(help="FP16 (engine on GPU)")] = False,
    batch: Annotated[int, typer.Option(min=1, help="Batch size baked into the export (onnx: dynamic)")] = 1,
) -> None:
    """Export the detector for edge devices and CPU runtimes (URBANOPS_VISION_RUNTIME picks one)."""
    from vision.errors import VisionError
    from vision.export import export as run_export

    try:
        if fmt == "openvino-int8":
            from vision.onnx_model import exported_path
            from vision.quantize import quantize_int8

            onnx_file = exported_path(weights)
            out = weights.with_name(f"{weights.stem}-int8.xml")
            _say(f"rendering calibration images (seeds {CALIBRATION_SEED}, {CALIBRATION_FRAME_SEED})")
            report = quantize_int8(onnx_file, out, calibration_images(), _say)
            _say(f"INT8 in {report['seconds']} s")
        else:
            _say(f"exporting {weights.name} to {fmt} at {imgsz}px")
            out = run_export(weights, fmt, imgsz=imgsz, device=device, half=half, batch=batch)
    except VisionError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(1) from err
    _say(f"wrote {out}")
    print(out)


def register(app: typer.Typer) -> None:
    app.command()(evaluate)
    app.command()(export)
