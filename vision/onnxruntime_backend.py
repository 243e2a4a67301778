"""ONNX Runtime backend: the exported YOLO graph on ONNX Runtime's CPU (or CUDA) provider.

The only module that imports onnxruntime. Pre- and post-processing are ``vision.yolo_tensor``'s,
shared with the OpenVINO backend, so both give Ultralytics' detections without loading torch.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from vision.detector import Detection, DetectorConfig
from vision.errors import ModelLoadError
from vision.onnx_model import exported_path
from vision.yolo_tensor import decode, parse_names, to_batch

log = logging.getLogger(__name__)


class OnnxRuntimeDetector:
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

    def detect(self, images: list[np.ndarray], imgsz: int | None = None) -> list[list[Detection]]:
        c = self.config
        out: list[list[Detection]] = []
        step = max(1, c.max_batch)
        for start in range(0, len(images), step):
            tensor, boxes = to_batch(images[start : start + step], imgsz or c.imgsz)
            out.extend(decode(self.run(tensor), boxes, self.names, c.conf, c.iou, c.agnostic_nms))
        return out

    def warmup(self) -> None:
        size = self.config.imgsz
        self.detect([np.zeros((size, size, 3), np.uint8)])
        log.info("vision detector %s ready (classes: %s)", self.name, ", ".join(self.names.values()))
