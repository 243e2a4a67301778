"""Our letterbox, NMS and AP against what they imitate (Ultralytics, torchvision)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vision.detector import Detection
from vision.map_eval import average_precision, evaluate_detector
from vision.yolo_tensor import letterbox, nms


@pytest.mark.parametrize("shape", [(480, 640), (320, 320), (333, 517), (720, 1280), (1000, 200)])
def test_letterbox_matches_ultralytics(shape: tuple[int, int]) -> None:
    augment = pytest.importorskip("ultralytics.data.augment")
    img = np.random.default_rng(1).integers(0, 255, (*shape, 3), dtype=np.uint8)
    ours, _lb = letterbox(img, 640)
    theirs = augment.LetterBox((640, 640), auto=True, stride=32)(image=img)
    assert ours.shape == theirs.shape
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


def test_nms_matches_torchvision() -> None:
    torchvision = pytest.importorskip("torchvision")
    import torch

    rng = np.random.default_rng(2)
    xy = rng.uniform(0, 500, (400, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 120, (400, 2))], axis=1).astype(np.float32)
    scores = rng.uniform(0, 1, 400).astype(np.float32)
    ours = nms(boxes, scores, 0.5, 1000)
    theirs = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.5).numpy()
    assert ours.tolist() == theirs.tolist()


def test_average_precision_extremes() -> None:
    # A perfect detector scores 0.995, as in Ultralytics (the trapezoid meets precision 0 at recall 1).
    assert average_precision(np.ones(4), np.linspace(1, 0.5, 4), 4) == pytest.approx(0.995)
    assert average_precision(np.zeros(0), np.zeros(0), 3) == 0.0
    # Half the ground truth found at full precision: the envelope falls linearly to 0 at recall 1.
    assert average_precision(np.ones(2), np.array([0.9, 0.8]), 4) == pytest.approx(0.75, abs=0.01)


class Oracle:
    """Detects exactly the labelled boxes (and, when ``noise``, one false box per image)."""

    name = "oracle"

    def __init__(self, labels: Path, noise: bool) -> None:
        self.labels, self.noise, self.paths = labels, noise, sorted(labels.glob("*.txt"))
        self.i = 0

    def warmup(self) -> None:
        pass

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        out = []
        for img in images:
            h, w = img.shape[:2]
            dets = []
            for line in self.paths[self.i].read_text().split("\n"):
                if line.strip():
                    k, cx, cy, bw, bh = (float(v) for v in line.split())
                    dets.append(Detection(["a", "b"][int(k)], 0.9, ((cx - bw / 2) * w, (cy - bh / 2) * h,
                                                                   (cx + bw / 2) * w, (cy + bh / 2) * h)))
            if self.noise:
                dets.append(Detection("a", 0.95, (0.0, 0.0, 3.0, 3.0)))
            out.append(dets)
            self.i += 1
        return out


def test_evaluate_detector_scores_an_oracle_perfectly(tmp_path: Path) -> None:
    import cv2

    img_dir, lbl_dir = tmp_path / "images" / "val", tmp_path / "labels" / "val"
    img_dir.mkdir(parents=True)
    lbl_dir.mkdir(parents=True)
    for i in range(4):
        cv2.imwrite(str(img_dir / f"{i}.jpg"), np.zeros((100, 200, 3), np.uint8))
        (lbl_dir / f"{i}.txt").write_text(f"{i % 2} 0.5 0.5 0.2 0.3\n0 0.2 0.2 0.1 0.1\n")
    perfect = evaluate_detector(Oracle(lbl_dir, False), img_dir, {0: "a", 1: "b"}, batch=3)
    assert perfect["map50"] == pytest.approx(0.995) and perfect["boxes"] == 8
    noisy = evaluate_detector(Oracle(lbl_dir, True), img_dir, {0: "a", 1: "b"}, batch=3)
    assert noisy["per_class_ap50"]["b"] == pytest.approx(0.995)
    assert noisy["per_class_ap50"]["a"] < 0.9  # its most confident boxes are all false
