"""YOLOv8 pre- and post-processing in NumPy and OpenCV, for runtimes that only run the graph.

ONNX Runtime and OpenVINO execute the exported network; this module does what Ultralytics'
``predict`` does around it, the same way, so every runtime gives the same detections:

- letterbox: scale the image to fit ``imgsz`` (never beyond it), pad to a multiple of the
  stride with grey 114, centre the image; BGR to RGB, 0..1 float32, NCHW;
- decode: the head's ``(4 + classes) x anchors`` output, boxes as centre/size in input pixels
  and class scores already through a sigmoid; keep the best class of each anchor above ``conf``;
- NMS: greedy by score, class-agnostic or per class, at most ``max_det`` boxes;
- boxes back to the original image's pixels, clipped.

A batch is padded to one shape (the largest letterboxed size), which changes nothing for the
boxes: each image keeps its own scale and offset.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import cv2
import numpy as np

from vision.detector import Detection

STRIDE = 32
PAD_VALUE = 114
MAX_NMS = 30000  # candidates kept for NMS, as Ultralytics


@dataclass(frozen=True, slots=True)
class Letterbox:
    gain: float
    pad_x: float  # left padding in input pixels
    pad_y: float
    width: int  # original image size
    height: int


def letterbox(image: np.ndarray, imgsz: int, stride: int = STRIDE) -> tuple[np.ndarray, Letterbox]:
    """The image scaled and padded to the smallest stride multiple holding it (Ultralytics'
    ``LetterBox(auto=True)``), and the transform to undo on the boxes."""
    h, w = image.shape[:2]
    gain = min(imgsz / h, imgsz / w)
    new_w, new_h = round(w * gain), round(h * gain)
    dw, dh = (imgsz - new_w) % stride / 2, (imgsz - new_h) % stride / 2
    if (new_w, new_h) != (w, h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    if top or bottom or left or right:
        image = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT,
                                   value=(PAD_VALUE, PAD_VALUE, PAD_VALUE))
    return image, Letterbox(gain, float(left), float(top), w, h)


def to_batch(images: list[np.ndarray], imgsz: int) -> tuple[np.ndarray, list[Letterbox]]:
    """A float32 NCHW RGB batch in 0..1 for the network, and each image's letterbox."""
    boxed = [letterbox(img, imgsz) for img in images]
    height = max(b.shape[0] for b, _ in boxed)
    width = max(b.shape[1] for b, _ in boxed)
    batch = np.full((len(images), height, width, 3), PAD_VALUE, np.uint8)
    for i, (img, _lb) in enumerate(boxed):
        batch[i, : img.shape[0], : img.shape[1]] = img
    # BGR -> RGB and HWC -> CHW in one strided copy, then scale.
    tensor = np.ascontiguousarray(batch[..., ::-1].transpose(0, 3, 1, 2)).astype(np.float32)
    tensor *= 1.0 / 255.0
    return tensor, [lb for _img, lb in boxed]


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, max_det: int) -> np.ndarray:
    """Indices kept by greedy NMS, best first. ``boxes`` are x1, y1, x2, y2."""
    order = np.argsort(-scores, kind="stable")[:MAX_NMS]
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    keep: list[int] = []
    while order.size and len(keep) < max_det:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = (np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])).clip(0)
        h = (np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])).clip(0)
        inter = w * h
        overlap = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[overlap <= iou]
    return np.asarray(keep, dtype=np.int64)


def decode(output: np.ndarray, boxes_of: list[Letterbox], names: dict[int, str], conf: float, iou: float,
           agnostic: bool = True, max_det: int = 300) -> list[list[Detection]]:
    """Detections per image from the head's ``(batch, 4 + classes, anchors)`` output."""
    out: list[list[Detection]] = []
    for pred, lb in zip(output, boxes_of, strict=True):
        scores_all = pred[4:]
        cls = scores_all.argmax(axis=0)
        score = scores_all[cls, np.arange(scores_all.shape[1])]
        mask = score > conf
        if not mask.any():
            out.append([])
            continue
        cx, cy, bw, bh = pred[0, mask], pred[1, mask], pred[2, mask], pred[3, mask]
        xyxy = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        score, cls = score[mask], cls[mask]
        # Per-class NMS by offsetting each class's boxes far apart, as Ultralytics does.
        shifted = xyxy if agnostic else xyxy + (cls[:, None] * 7680.0)
        keep = nms(shifted, score, iou, max_det)
        xyxy = xyxy[keep]
        xyxy[:, [0, 2]] = ((xyxy[:, [0, 2]] - lb.pad_x) / lb.gain).clip(0, lb.width)
        xyxy[:, [1, 3]] = ((xyxy[:, [1, 3]] - lb.pad_y) / lb.gain).clip(0, lb.height)
        out.append([Detection(names.get(int(k), str(int(k))), float(p), (float(b[0]), float(b[1]), float(b[2]),
                                                                        float(b[3])))
                    for b, p, k in zip(xyxy, score[keep], cls[keep], strict=True)])
    return out


def parse_names(raw: str | None) -> dict[int, str]:
    """Class names from an Ultralytics export's metadata (a Python dict literal)."""
    if not raw:
        return {}
    value = ast.literal_eval(raw)
    if not isinstance(value, dict):
        return {}
    return {int(k): str(v) for k, v in value.items()}
