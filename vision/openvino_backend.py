"""OpenVINO backend: the exported YOLO graph compiled by OpenVINO for this machine's CPU.

The only module that imports openvino. OpenVINO reads the ``.onnx`` file directly (its own IR
only for the INT8 model); pre- and post-processing are ``vision.yolo_tensor``'s, as for ONNX Runtime.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vision.detector import DetectorConfig
from vision.errors import ModelLoadError
from vision.exported_graph import ExportedGraphDetector
from vision.onnx_model import exported_path
from vision.yolo_tensor import parse_names


def _names(model: Any) -> dict[int, str]:
    # Ultralytics writes the class names into the ONNX metadata; OpenVINO keeps it as rt_info
    # (also through NNCF and save_model, so the INT8 IR has them too).
    try:
        raw = model.get_rt_info(["framework", "names"]).astype(str)
    except RuntimeError:
        return {}
    return parse_names(raw)


class OpenVinoDetector(ExportedGraphDetector):
    def __init__(self, config: DetectorConfig) -> None:
        try:
            import openvino as ov
        except ImportError as err:
            raise ModelLoadError("openvino is not installed (pip install 'urbanops[vision]')") from err
        path = exported_path(config.weights, (".onnx", ".xml"), int8=config.int8)
        if config.device.startswith("cuda"):
            raise ModelLoadError("the OpenVINO backend runs on the CPU here; use onnxruntime or ultralytics on a GPU")
        core = ov.Core()
        # f32, stated: on a CPU with AVX-512 BF16 or AMX, OpenVINO otherwise runs an FP32 model in
        # bf16 (measured here: confidences 0.0103 off PyTorch's, boxes on a 1/8 px grid), and the
        # accuracy figures of the FP32 and INT8 models are for f32 arithmetic.
        props: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
        if config.threads:
            props["INFERENCE_NUM_THREADS"] = config.threads
        try:
            model = core.read_model(str(path))
            self.compiled: Any = core.compile_model(model, "CPU", props)
        except Exception as err:  # OpenVINO raises RuntimeError subclasses for bad files
            raise ModelLoadError(f"cannot load {path}: {err}") from err
        self.config = config
        self.names = _names(model)
        self.name = f"openvino:{path.name}@cpu"

    def run(self, tensor: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.compiled(tensor)[0]
        return out
