"""Export weights for edge devices: ONNX (any runtime) or a TensorRT engine (on the target GPU)."""

from __future__ import annotations

from pathlib import Path

from vision.errors import VisionError

FORMATS = ("onnx", "engine", "torchscript", "openvino")


def export(weights: Path, fmt: str, imgsz: int = 640, device: str = "cpu", half: bool = False,
           dynamic: bool = False, batch: int = 1) -> Path:
    """Export with Ultralytics and return the written file. ``engine`` needs TensorRT and a GPU,
    and must be built on the GPU model it will run on (engines are not portable)."""
    if fmt not in FORMATS:
        raise VisionError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    if fmt == "engine" and not device.startswith("cuda"):
        raise VisionError("a TensorRT engine is built on the GPU that will run it: pass --device cuda:N")
    from ultralytics import YOLO

    # ONNX with dynamic shapes: one file serves every frame size and batch (the runtimes
    # letterbox to the smallest stride multiple, as Ultralytics does), simplified by onnxslim.
    dynamic = dynamic or fmt == "onnx"
    try:
        out = YOLO(str(weights)).export(format=fmt, imgsz=imgsz, device=device, half=half, dynamic=dynamic,
                                        batch=batch, simplify=fmt == "onnx")
    except Exception as err:  # exporters raise many types (missing onnx/tensorrt, bad device)
        raise VisionError(f"export to {fmt} failed: {err}") from err
    return Path(str(out))
