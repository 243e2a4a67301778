"""The exported-graph runtimes (ONNX Runtime, OpenVINO FP32 and INT8) against PyTorch.

The committed ``.onnx`` and INT8 IR must be the committed ``.pt``: same classes, and on drone
patrol frames the FP32 runtimes give PyTorch's detections (pre- and post-processing are our
own code, so this is what proves them), and INT8 finds the same objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway.bench.vision import patrol_frames
from gateway.vision_link.sink import DEFAULT_WEIGHTS
from vision.detector import Detection, DetectorConfig, create_detector
from vision.errors import ModelLoadError
from vision.pipeline import decode

pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    # Seed apart from the bench's and the INT8 calibration's frames.
    return [decode(jpeg) for _m, jpeg in patrol_frames(18, seed=907)]


def _run(backend: str, images: list[np.ndarray], int8: bool = False, batch: int = 1) -> list[list[Detection]]:
    det = create_detector(DetectorConfig(weights=DEFAULT_WEIGHTS, backend=backend, imgsz=640, int8=int8,
                                         max_batch=batch))
    det.warmup()
    return det.detect(images)


@pytest.fixture(scope="module")
def torch_dets(frames: list[np.ndarray]) -> list[list[Detection]]:
    return _run("ultralytics", frames)


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_fp32_runtimes_give_pytorchs_detections(backend: str, frames: list[np.ndarray],
                                                torch_dets: list[list[Detection]]) -> None:
    got = _run(backend, frames)
    assert sum(map(len, torch_dets)) >= 10, "the patrol frames should show planted objects"
    for ref, dets in zip(torch_dets, got, strict=True):
        assert len(dets) == len(ref)
        for a, b in zip(sorted(ref, key=lambda d: -d.confidence), sorted(dets, key=lambda d: -d.confidence),
                        strict=True):
            assert a.label == b.label
            assert abs(a.confidence - b.confidence) < 0.01
            assert max(abs(p - q) for p, q in zip(a.box, b.box, strict=True)) < 1.5


def test_batched_calls_give_the_single_frame_detections(frames: list[np.ndarray]) -> None:
    # A batch is padded to one shape; each frame keeps its own letterbox.
    mixed = [frames[0], frames[1][:400, :560], frames[2]]
    single = _run("openvino", mixed)
    batched = _run("openvino", mixed, batch=3)
    for a, b in zip(single, batched, strict=True):
        assert [d.label for d in a] == [d.label for d in b]
        for x, y in zip(a, b, strict=True):
            assert abs(x.confidence - y.confidence) < 0.01
            assert _iou(x.box, y.box) > 0.98


def test_int8_finds_the_objects_fp32_finds(frames: list[np.ndarray], torch_dets: list[list[Detection]]) -> None:
    got = _run("openvino", frames, int8=True)
    wanted = [(i, d) for i, ds in enumerate(torch_dets) for d in ds if d.confidence >= 0.35]
    found = sum(any(g.label == d.label and _iou(g.box, d.box) >= 0.7 for g in got[i]) for i, d in wanted)
    assert len(wanted) >= 10
    assert found >= 0.9 * len(wanted), f"INT8 found {found} of {len(wanted)} confident FP32 detections"
    # Not asserted: INT8 also draws a second, shifted box beside some objects (12 on these 18
    # frames), which is why it is not the default (vision/weights/README.md).


def test_exported_models_carry_the_class_names() -> None:
    import openvino as ov

    ov_det: Any = create_detector(DetectorConfig(weights=DEFAULT_WEIGHTS, backend="openvino", int8=True))
    ort_det: Any = create_detector(DetectorConfig(weights=DEFAULT_WEIGHTS, backend="onnxruntime"))
    names = ov_det.names
    assert names == ort_det.names
    assert list(names.values())[:3] == ["fire", "smoke", "garbage"] and len(names) == 11
    assert ov.Core().read_model(str(DEFAULT_WEIGHTS.with_name("urban-yolov8n-int8.xml"))) is not None


def test_missing_export_says_how_to_make_it(tmp_path: Path) -> None:
    weights = tmp_path / "mine.pt"
    weights.write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"vision export --weights .*--format openvino-int8"):
        create_detector(DetectorConfig(weights=weights, backend="openvino", int8=True))
    with pytest.raises(ModelLoadError, match="--format onnx"):
        create_detector(DetectorConfig(weights=weights, backend="onnxruntime"))
