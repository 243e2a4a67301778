"""Write a YOLO-format dataset of rendered scenes (images/, labels/, data.yaml).

Training and validation sets come from different seeds, so the held-out score measures
generalisation to unseen layouts, not memory of the training images.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import yaml

from simulators.scenes import CLASSES
from simulators.scenes.compose import render_scene
from simulators.scenes.survey import survey_scene

SURVEY_SHARE = 0.25


def write_split(root: Path, split: str, n: int, seed: int, size: int,
                progress: Callable[[int, int], None] | None = None) -> int:
    """Render ``n`` scenes from ``seed`` into ``root/images/split`` and ``root/labels/split``."""
    rng = np.random.default_rng(seed)
    img_dir, lbl_dir = root / "images" / split, root / "labels" / split
    img_dir.mkdir(parents=True, exist_ok=True)
    lbl_dir.mkdir(parents=True, exist_ok=True)
    boxes = 0
    for i in range(n):
        # A share of drone-camera scenes (real sizes, real context) among the random compositions.
        scene = survey_scene(rng, size) if rng.random() < SURVEY_SHARE else render_scene(rng, size)
        quality = int(rng.integers(55, 96))  # cameras compress; train on what the gateway receives
        cv2.imwrite(str(img_dir / f"{split}_{seed}_{i:05d}.jpg"), scene.image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        lines = scene.yolo_lines()
        (lbl_dir / f"{split}_{seed}_{i:05d}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
        boxes += len(lines)
        if progress is not None and (i + 1) % 100 == 0:
            progress(i + 1, n)
    return boxes


def write_dataset(root: Path, n_train: int, n_val: int, seed: int, val_seed: int, size: int = 320,
                  progress: Callable[[int, int], None] | None = None) -> Path:
    """Render both splits and return the ``data.yaml`` path Ultralytics trains from."""
    if seed == val_seed:
        raise ValueError("the held-out set must use a different seed from the training set")
    root.mkdir(parents=True, exist_ok=True)
    write_split(root, "train", n_train, seed, size, progress)
    write_split(root, "val", n_val, val_seed, size, progress)
    data = {"path": str(root.resolve()), "train": "images/train", "val": "images/val",
            "names": dict(enumerate(CLASSES))}
    path = root / "data.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
