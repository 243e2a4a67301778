"""Train the urban detector on rendered scenes and evaluate it on a held-out seed.

The scenes come from a ``WriteDataset`` the caller passes in (the CLI gives the simulators'
scene renderer): ``vision/`` depends on no scene generator. Ultralytics is imported inside
the functions (heavy, optional). The recipe is recorded next
to the weights so anyone can reproduce them: same seeds, same sizes, same starting checkpoint.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from vision.errors import VisionError

Progress = Callable[[str], None]


class WriteDataset(Protocol):
    """Render ``n_train`` scenes from ``seed`` and ``n_val`` from ``val_seed`` at ``size`` px
    into ``root`` as an Ultralytics dataset; return its ``data.yaml``."""

    def __call__(self, root: Path, n_train: int, n_val: int, seed: int, val_seed: int,
                 size: int = ...) -> Path: ...


def fastanpr_checkpoint() -> Path:
    """fastanpr's YOLOv8n plate detector, located without importing fastanpr (needs paddleocr)."""
    spec = importlib.util.find_spec("fastanpr")
    if spec is None or not spec.submodule_search_locations:
        raise VisionError("fastanpr is not installed (pip install --no-deps fastanpr)")
    path = Path(next(iter(spec.submodule_search_locations))) / "best.pt"
    if not path.is_file():
        raise VisionError(f"fastanpr checkpoint missing at {path}")
    return path


def offline_ultralytics(config_dir: Path) -> None:
    """Keep Ultralytics from reaching the network or writing to $HOME."""
    config_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir))


@dataclass(frozen=True)
class Recipe:
    n_train: int = 1500
    n_val: int = 300
    n_test: int = 400
    train_seed: int = 1
    val_seed: int = 2
    test_seed: int = 3
    imgsz: int = 320
    epochs: int = 5
    batch: int = 16
    workers: int = 2
    close_mosaic: int = 2
    # Short fine-tune: Ultralytics' default 3 warm-up epochs and auto lr (AdamW 0.00067 for 11
    # classes) would spend most of a 5-epoch budget warming up.
    optimizer: str = "AdamW"
    lr0: float = 0.0015
    warmup_epochs: float = 0.5
    mosaic: float = 1.0
    train_seed_torch: int = 0
    start: str = "fastanpr"  # "fastanpr" (its YOLOv8n plate checkpoint) or a path to urban weights to continue


def render_data(work: Path, recipe: Recipe, write_dataset: WriteDataset,
                progress: Progress) -> tuple[Path, Path]:
    """Train/val dataset and a separate held-out test dataset (its own seed)."""
    # Rendering is deterministic per seed: reuse a folder rendered from the same numbers.
    stamp = json.dumps({k: v for k, v in asdict(recipe).items()
                        if k in ("n_train", "n_val", "n_test", "train_seed", "val_seed", "test_seed", "imgsz")})
    stamp_file = work / "data-recipe.json"
    if stamp_file.is_file() and stamp_file.read_text() == stamp:
        progress("reusing rendered data (same seeds and sizes)")
        return work / "data" / "data.yaml", work / "heldout" / "data.yaml"
    progress(f"rendering {recipe.n_train} train + {recipe.n_val} val scenes")
    data = write_dataset(work / "data", recipe.n_train, recipe.n_val, recipe.train_seed, recipe.val_seed,
                         recipe.imgsz)
    progress(f"rendering {recipe.n_test} held-out scenes (seed {recipe.test_seed})")
    test = write_dataset(work / "heldout", 0, recipe.n_test, recipe.val_seed + 1000, recipe.test_seed,
                         recipe.imgsz)
    stamp_file.write_text(stamp)
    return data, test


def evaluate(weights: Path, data_yaml: Path, imgsz: int, device: str = "cpu") -> dict[str, Any]:
    """mAP50 / mAP50-95 / per-class AP50 on the ``val`` split of ``data_yaml``."""
    from ultralytics import YOLO

    model = YOLO(str(weights))
    metrics = model.val(data=str(data_yaml), imgsz=imgsz, batch=16, device=device, plots=False,
                        verbose=False, workers=0)
    names = model.names
    per_class = {names[int(c)]: round(float(ap), 4) for c, ap in zip(metrics.box.ap_class_index,
                                                                      metrics.box.ap50, strict=True)}
    return {"map50": round(float(metrics.box.map50), 4), "map50_95": round(float(metrics.box.map), 4),
            "precision": round(float(metrics.box.mp), 4), "recall": round(float(metrics.box.mr), 4),
            "per_class_ap50": per_class}


def _previous_report(start: Path) -> dict[str, Any] | None:
    path = start.with_suffix(".json")
    if not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data


def train(recipe: Recipe, work: Path, out: Path, write_dataset: WriteDataset, progress: Progress,
          device: str = "cpu") -> dict[str, Any]:
    """Render data with ``write_dataset``, fine-tune, evaluate on the held-out seed, copy weights +
    report to ``out``."""
    offline_ultralytics(work / "ultralytics")
    from ultralytics import YOLO

    data, heldout = render_data(work, recipe, write_dataset, progress)
    start = fastanpr_checkpoint() if recipe.start == "fastanpr" else Path(recipe.start)
    previous = _previous_report(start)
    progress(f"training from {start} for {recipe.epochs} epochs at {recipe.imgsz}px on {device}")
    t0 = time.monotonic()
    model = YOLO(str(start))
    model.train(data=str(data), epochs=recipe.epochs, imgsz=recipe.imgsz, batch=recipe.batch,
                workers=recipe.workers, device=device, seed=recipe.train_seed_torch, deterministic=True,
                close_mosaic=recipe.close_mosaic, optimizer=recipe.optimizer, lr0=recipe.lr0,
                warmup_epochs=recipe.warmup_epochs, mosaic=recipe.mosaic, project=str(work / "runs"),
                name="urban", exist_ok=True, plots=False, amp=False, verbose=False)
    train_s = time.monotonic() - t0
    best = work / "runs" / "urban" / "weights" / "best.pt"
    if not best.is_file():
        raise VisionError(f"training produced no weights at {best}")
    progress("evaluating on the held-out set")
    result = evaluate(best, heldout, recipe.imgsz, device)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(best, out / "urban-yolov8n.pt")
    report = {"weights": "urban-yolov8n.pt", "recipe": asdict(recipe), "train_seconds": round(train_s, 1),
              "device": device, "heldout": result,
              "trained_at": datetime.now(UTC).isoformat(timespec="seconds")}
    if previous is not None:  # a continued run keeps the history of the stages before it
        report["continued_from"] = previous
    (out / "urban-yolov8n.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
