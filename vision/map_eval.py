"""mAP50 of any ``Detector`` on a YOLO-format split, so every runtime is scored by one yardstick.

Ultralytics' ``val`` scores only models it loads itself; the ONNX Runtime and OpenVINO backends
run their own pre- and post-processing, and what matters is what those give. This scores the
detections a backend returns (built with a low ``conf``, as ``val`` uses 0.001) against the
label files: per class, predictions sorted by confidence are matched greedily to the unmatched
ground-truth box of that class with the highest IoU >= 0.5; AP is the area under the
precision envelope sampled at 101 recall points (COCO's interpolation, as Ultralytics).
Figures are close to ``val``'s, not identical (its matching differs in detail); compare
runtimes with this function only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.detector import Detector


def read_labels(path: Path, width: int, height: int) -> list[tuple[int, tuple[float, float, float, float]]]:
    """Ground truth of one image: class id and x1, y1, x2, y2 in pixels."""
    out = []
    if path.is_file():
        for line in path.read_text().split("\n"):
            parts = line.split()
            if len(parts) != 5:
                continue
            k, cx, cy, w, h = int(parts[0]), *(float(p) for p in parts[1:])
            out.append((k, ((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width,
                            (cy + h / 2) * height)))
    return out


def _iou(box: tuple[float, float, float, float], others: np.ndarray) -> np.ndarray:
    w = (np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])).clip(0)
    h = (np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])).clip(0)
    inter = w * h
    area = (box[2] - box[0]) * (box[3] - box[1])
    return np.asarray(inter / (area + (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1]) - inter + 1e-9))


def average_precision(tp: np.ndarray, conf: np.ndarray, n_gt: int) -> float:
    if n_gt == 0:
        return float("nan")
    if tp.size == 0:
        return 0.0
    order = np.argsort(-conf, kind="stable")
    hits = np.cumsum(tp[order])
    recall = hits / n_gt
    precision = hits / np.arange(1, len(hits) + 1)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[1.0], precision, [0.0]])
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    x = np.linspace(0, 1, 101)
    return float(np.trapezoid(np.interp(x, mrec, mpre), x))


def evaluate_detector(detector: Detector, split_dir: Path, names: dict[int, str], batch: int = 8,
                      progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """mAP50 and per-class AP50 of ``detector`` on ``split_dir`` (``images/`` beside ``labels/``).

    ``split_dir`` is e.g. ``root/images/val``; labels are read from ``root/labels/val``."""
    images = sorted(split_dir.glob("*.jpg"))
    label_dir = split_dir.parent.parent / "labels" / split_dir.name
    ids = {v: k for k, v in names.items()}
    preds: dict[int, list[tuple[float, bool]]] = {k: [] for k in names}
    n_gt = dict.fromkeys(names, 0)
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        arrays: list[np.ndarray] = []
        for p in chunk:
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"unreadable image {p}")
            arrays.append(img)
        for path, img, dets in zip(chunk, arrays, detector.detect(arrays), strict=True):
            gt = read_labels(label_dir / f"{path.stem}.txt", img.shape[1], img.shape[0])
            for k, _b in gt:
                n_gt[k] = n_gt.get(k, 0) + 1
            for k in {k for k, _b in gt} | {ids.get(d.label, -1) for d in dets}:
                if k < 0:
                    continue
                gt_boxes = np.asarray([b for c, b in gt if c == k], dtype=np.float64).reshape(-1, 4)
                used = np.zeros(len(gt_boxes), bool)
                for d in sorted((d for d in dets if ids.get(d.label) == k), key=lambda d: -d.confidence):
                    hit = False
                    if len(gt_boxes):
                        iou = np.where(used, -1.0, _iou(d.box, gt_boxes))
                        j = int(iou.argmax())
                        if iou[j] >= 0.5:
                            used[j] = hit = True
                    preds.setdefault(k, []).append((d.confidence, hit))
        if progress is not None:
            progress(min(start + batch, len(images)), len(images))
    per_class: dict[str, float] = {}
    for k, name in names.items():
        if n_gt.get(k, 0) == 0:
            continue
        rows = preds.get(k, [])
        tp = np.asarray([hit for _c, hit in rows], dtype=np.float64)
        conf = np.asarray([c for c, _hit in rows], dtype=np.float64)
        per_class[name] = round(average_precision(tp, conf, n_gt[k]), 4)
    map50 = float(np.mean(list(per_class.values()))) if per_class else 0.0
    return {"map50": round(map50, 4), "per_class_ap50": per_class, "images": len(images),
            "boxes": int(sum(n_gt.values())), "detector": detector.name}
