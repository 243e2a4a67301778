"""Ultralytics YOLO backend: ``.pt``, ONNX, TensorRT ``.engine`` (whatever AutoBackend loads).

The only module (with ``vision.train`` and ``vision.export``) that imports ultralytics/torch.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from vision.detector import Detection, DetectorConfig
from vision.errors import ModelLoadError

log = logging.getLogger(__name__)


def _ensure_offline() -> None:
    # Weights come from a path, never from a hub; keep Ultralytics from phoning home.
    os.environ.setdefault("YOLO_OFFLINE", "1")


def _precision_kwargs(half: bool) -> dict[str, Any]:
    """FP16 switch: newer Ultralytics spells it ``quantize=16`` (``half`` is deprecated), older ``half``."""
    if not half:
        return {}
    from ultralytics.cfg import DEFAULT_CFG_DICT

    return {"quantize": 16} if "quantize" in DEFAULT_CFG_DICT else {"half": True}


class UltralyticsDetector:
    def __init__(self, config: DetectorConfig) -> None:
        _ensure_offline()
        try:
            from ultralytics import YOLO
        except ImportError as err:
            raise ModelLoadError("ultralytics is not installed (pip install 'urbanops[vision]')") from err
        weights = Path(config.weights)
        if not weights.exists():
            raise ModelLoadError(f"weights not found: {weights}")
        self.config = config
        self.device = config.device
        self.half = config.half if config.half is not None else config.device.startswith("cuda")
        try:
            self.model: Any = YOLO(str(weights), task="detect")
        except Exception as err:  # Ultralytics raises many types for bad files
            raise ModelLoadError(f"cannot load {weights}: {err}") from err
        self.name = f"ultralytics:{weights.name}@{config.device}"
        self.names: dict[int, str] = {}
        self._precision = _precision_kwargs(self.half)

    @property
    def predict_kwargs(self) -> dict[str, Any]:
        c = self.config
        return {"imgsz": c.imgsz, "conf": c.conf, "iou": c.iou, "agnostic_nms": c.agnostic_nms, "device": self.device,
                "verbose": False, **self._precision}

    def predict_raw(self, images: list[np.ndarray], imgsz: int | None = None) -> list[Any]:
        """Plain Ultralytics ``predict`` on a batch (also what the bench calls 'direct').

        ``imgsz`` overrides the configured input size for this call (a multiple of 32), e.g. to
        run at an image's native resolution instead of scaling it up."""
        kwargs = self.predict_kwargs if imgsz is None else {**self.predict_kwargs, "imgsz": imgsz}
        return list(self.model.predict(source=images, **kwargs))

    def detect(self, images: list[np.ndarray], imgsz: int | None = None) -> list[list[Detection]]:
        out: list[list[Detection]] = []
        step = max(1, self.config.max_batch)
        for start in range(0, len(images), step):
            for result in self.predict_raw(images[start : start + step], imgsz):
                names = result.names
                boxes = result.boxes
                if boxes is None or len(boxes) == 0:
                    out.append([])
                    continue
                xyxy = boxes.xyxy.cpu().numpy()
                conf = boxes.conf.cpu().numpy()
                cls = boxes.cls.cpu().numpy().astype(int)
                out.append([Detection(str(names[int(k)]), float(p), (float(b[0]), float(b[1]), float(b[2]),
                                                                       float(b[3])))
                            for b, p, k in zip(xyxy, conf, cls, strict=True)])
        return out

    def warmup(self) -> None:
        size = self.config.imgsz
        dummy = np.zeros((size, size, 3), np.uint8)
        self.predict_raw([dummy])
        self.names = dict(self.model.names)
        log.info("vision detector %s ready (classes: %s)", self.name, ", ".join(self.names.values()))
