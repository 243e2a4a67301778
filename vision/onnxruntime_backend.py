"""ONNX Runtime backend: the exported YOLO graph on ONNX Runtime's CPU (or CUDA) provider.

The only module that imports onnxruntime. Pre- and post-processing are ``vision.yolo_tensor``'s,
shared with the OpenVINO backend, so both give Ultralytics' detections without loading torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vision.detector import DetectorConfig
from vision.errors import ModelLoadError
from vision.exported_graph import ExportedGraphDetector
from vision.onnx_model import exported_path
from vision.yolo_tensor import parse_names


class OnnxRuntimeDetector(ExportedGraphDetector):
    def __init__(self, config: DetectorConfig) -> None:
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ModelLoadError("onnxruntime is not installed (pip install 'urbanops[vision]')") from err
        path = exported_path(config.weights)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if config.threads:
            options.intra_op_num_threads = config.threads
        providers = ["CPUExecutionProvider"]
        if config.device.startswith("cuda"):
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session: Any = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as err:  # onnxruntime raises its own exception types for bad files
            raise ModelLoadError(f"cannot load {path}: {err}") from err
        self.config = config
        self.input_name = self.session.get_inputs()[0].name
        self.names = parse_names(self.session.get_modelmeta().custom_metadata_map.get("names"))
        self.name = f"onnxruntime:{path.name}@{config.device}"

    def run(self, tensor: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.session.run(None, {self.input_name: tensor})[0]
        return out
