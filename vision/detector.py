"""The ``Detector`` protocol, its result type, and a registry of backends.

A backend is chosen by name (``ultralytics`` runs PyTorch; ``onnxruntime`` and ``openvino`` run
the exported ONNX graph; ``fake`` in tests) and built from a
``DetectorConfig``; heavy frameworks are imported only by the backend module itself, so the
gateway starts without torch when vision is off.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from vision.errors import ModelLoadError, VisionError
from vision.onnx_model import exported_path

# The urban detector this package ships (PyTorch; its exported ONNX and OpenVINO files sit beside it).
SHIPPED_WEIGHTS = Path(__file__).resolve().parent / "weights" / "urban-yolov8n.pt"


@dataclass(frozen=True, slots=True)
class Detection:
    label: str
    confidence: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the input image


@runtime_checkable
class Detector(Protocol):
    name: str

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        """Detections for each BGR uint8 image, in input order."""
        ...

    def warmup(self) -> None:
        """Run once on a dummy input so the first real frame does not pay for lazy setup."""
        ...


@dataclass(frozen=True)
class DetectorConfig:
    weights: Path
    backend: str = "ultralytics"
    device: str = "cpu"  # cpu, cuda, cuda:N
    imgsz: int = 640
    conf: float = 0.25
    iou: float = 0.5
    half: bool | None = None  # None: half precision on GPU, full on CPU
    max_batch: int = 16
    # One object, one label: the classes are exclusive kinds of object, so boxes of different
    # classes overlapping by IoU >= ``iou`` are one object the model is unsure about (a sparse
    # garbage pile also scored as a person lying down), not two incidents; the most confident
    # label stays. Objects that do coexist (a car in a flood, fire under smoke) differ in size
    # and overlap far less than that.
    agnostic_nms: bool = True
    threads: int = 0  # CPU threads for the exported-graph runtimes; 0: the runtime's default
    int8: bool = False  # openvino: the INT8 model ``<stem>-int8.xml`` beside the weights


Factory = Callable[[DetectorConfig], Detector]
_REGISTRY: dict[str, Factory | str] = {
    # Lazy: "module:function" is imported on first use only.
    "ultralytics": "vision.ultralytics_backend:UltralyticsDetector",  # PyTorch (or whatever AutoBackend loads)
    "onnxruntime": "vision.onnxruntime_backend:OnnxRuntimeDetector",
    "openvino": "vision.openvino_backend:OpenVinoDetector",
}
# What the benchmarks call each backend's runtime (SPEC §6 ``runtime``).
RUNTIMES = {"ultralytics": "torch", "onnxruntime": "onnxruntime", "openvino": "openvino"}
BACKEND_OF_RUNTIME = {runtime: backend for backend, runtime in RUNTIMES.items()}


def choose_runtime(runtime: str, device: str, weights: Path, int8: bool = False) -> str:
    """``auto``: OpenVINO on a CPU when the weights have their exported graph beside them (it
    measured fastest there, vision/weights/README.md), else PyTorch (GPUs, or weights nobody
    exported). Any other name is taken as given."""
    if runtime != "auto":
        return runtime
    if device != "cpu":
        return "torch"
    try:
        exported_path(weights, (".onnx", ".xml"), int8=int8)  # the OpenVINO backend's own lookup
    except ModelLoadError:
        return "torch"
    return "openvino"


def register(name: str, factory: Factory) -> None:
    _REGISTRY[name] = factory


def backends() -> list[str]:
    return sorted(_REGISTRY)


def create_detector(config: DetectorConfig) -> Detector:
    entry = _REGISTRY.get(config.backend)
    if entry is None:
        raise VisionError(f"unknown detector backend {config.backend!r} (known: {', '.join(backends())})")
    if isinstance(entry, str):
        module_name, attr = entry.split(":")
        try:
            factory: Factory = getattr(importlib.import_module(module_name), attr)
        except ImportError as err:
            raise VisionError(f"backend {config.backend!r} needs the vision extra: {err}") from err
        _REGISTRY[config.backend] = factory
        entry = factory
    return entry(config)
