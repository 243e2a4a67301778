"""What the exported-graph backends (ONNX Runtime, OpenVINO) share: everything but running the graph.

A subclass loads its runtime's model and implements ``run`` (one NCHW float32 batch in, the
head's output out); batching, letterboxing and decoding are ``vision.yolo_tensor``'s.
"""

from __future__ import annotations

import logging

import numpy as np

from vision.detector import Detection, DetectorConfig
from vision.yolo_tensor import decode, to_batch

log = logging.getLogger(__name__)


class ExportedGraphDetector:
    config: DetectorConfig
    names: dict[int, str]
    name: str

    def run(self, tensor: np.ndarray) -> np.ndarray:
        raise NotImplementedError

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
