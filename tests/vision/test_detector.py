"""The committed urban weights find objects planted in scenes they never saw (fresh seeds)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from citypack.cached import geography
from devices.geography import offset
from gateway.vision_link.sink import DEFAULT_WEIGHTS
from simulators.scenes.compose import render_scene
from simulators.scenes.drone_view import Planted, Pose, render_frame
from vision.detector import SHIPPED_WEIGHTS, Detector, DetectorConfig, choose_runtime, create_detector, register
from vision.errors import ModelLoadError, VisionError

C = geography()["luohu"].center


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_registry_errors_and_custom_backends(tmp_path: object) -> None:
    with pytest.raises(VisionError, match="unknown detector backend"):
        create_detector(DetectorConfig(weights=DEFAULT_WEIGHTS, backend="nope"))

    class Null:
        name = "null"

        def warmup(self) -> None:
            pass

        def detect(self, images: list[np.ndarray]) -> list[list[object]]:
            return [[] for _ in images]

    register("null", lambda _c: Null())  # type: ignore[arg-type,return-value]
    det = create_detector(DetectorConfig(weights=DEFAULT_WEIGHTS, backend="null"))
    assert isinstance(det, Detector) and det.detect([np.zeros((4, 4, 3), np.uint8)]) == [[]]


def _urban(imgsz: int) -> Detector:
    pytest.importorskip("ultralytics")
    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip("urban weights not built")
    det = create_detector(DetectorConfig(weights=DEFAULT_WEIGHTS, imgsz=imgsz, conf=0.25, max_batch=8))
    det.warmup()
    return det


@pytest.fixture(scope="module")
def urban() -> Detector:
    """At the gateway's 640 px, for drone frames."""
    return _urban(640)


@pytest.fixture(scope="module")
def urban320() -> Detector:
    """At the 320 px the training scenes are rendered at."""
    return _urban(320)


def test_missing_weights_is_a_typed_error() -> None:
    pytest.importorskip("ultralytics")
    with pytest.raises(ModelLoadError):
        create_detector(DetectorConfig(weights=DEFAULT_WEIGHTS.with_name("missing.pt")))


def test_finds_planted_objects_in_unseen_scenes(urban320: Detector) -> None:
    rng = np.random.default_rng(424242)  # not a training, validation or held-out seed
    scenes = [render_scene(rng, 320, empty_p=0.0) for _ in range(24)]
    found = total = 0
    for scene, dets in zip(scenes, urban320.detect([s.image for s in scenes]), strict=True):
        for label, *box in scene.boxes:
            total += 1
            found += any(d.label == label and iou(d.box, tuple(box)) >= 0.4 for d in dets)  # type: ignore[arg-type]
    print(f"recall {found}/{total}")
    assert total >= 40 and found / total >= 0.75, (found, total)


def test_drone_view_objects_and_clean_ground(urban: Detector) -> None:
    """Planted objects in drone frames (20 m, camera down, ~4.4 cm/px), over four headings and layouts."""
    labels = ["fire", "garbage", "vehicle", "person_down", "pothole", "crowd"]
    spots = [(-7.0, -3.0), (0.0, -6.0), (7.0, -3.0), (-7.0, 4.0), (0.0, 5.0), (7.0, 4.0)]
    hits = {lbl: 0 for lbl in labels}
    frames = []
    for k, heading in enumerate((0.0, 45.0, 160.0, 290.0)):
        order = labels[k:] + labels[:k]  # every label visits different spots
        objs = [Planted(lbl, *_ll(*spot)) for lbl, spot in zip(order, spots, strict=True)]
        frames.append(render_frame(Pose(C.lat, C.lon, 20.0, heading, -90.0, 70.0), objs, 640, 480, seed=70 + k))
    clean = [render_frame(Pose(C.lat, C.lon + 0.01 * (k + 1), 20.0, 30.0 * k, -90.0, 70.0), [], 640, 480,
                          seed=90 + k) for k in range(4)]
    results = urban.detect([f.image for f in frames + clean])
    for frame, dets in zip(frames, results[:4], strict=True):
        assert len(frame.boxes) == len(labels)
        for lbl, *b in frame.boxes:
            hits[lbl] += any(d.label == lbl and iou(d.box, tuple(b)) >= 0.3 for d in dets)  # type: ignore[arg-type]
    print("drone-view hits of 4:", hits)
    for strong in ("fire", "crowd", "vehicle", "garbage"):
        assert hits[strong] >= 3, hits
    assert sum(hits.values()) >= 0.6 * 4 * len(labels), hits
    for dets in results[4:]:
        assert [d for d in dets if d.confidence >= 0.5] == []


def test_batching_matches_one_by_one(urban320: Detector) -> None:
    rng = np.random.default_rng(99)
    imgs = [render_scene(rng, 320).image for _ in range(3)]
    together = urban320.detect(imgs)
    alone = [urban320.detect([im])[0] for im in imgs]
    for a, b in zip(together, alone, strict=True):
        assert [d.label for d in a] == [d.label for d in b]
        for da, db in zip(a, b, strict=True):
            assert da.box == pytest.approx(db.box, abs=2.0)


def _ll(east: float, north: float) -> tuple[float, float]:
    p = offset(C.lat, C.lon, east, north)
    return p.lat, p.lon


def test_onnx_export_loads_through_the_same_backend(tmp_path: Path, urban320: Detector) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from vision.export import export

    weights = tmp_path / "urban.pt"
    shutil.copyfile(DEFAULT_WEIGHTS, weights)
    onnx_path = export(weights, "onnx", imgsz=320)
    assert onnx_path.suffix == ".onnx" and onnx_path.is_file()
    onnx_det = create_detector(DetectorConfig(weights=onnx_path, imgsz=320))
    rng = np.random.default_rng(5)
    imgs = [render_scene(rng, 320, empty_p=0.0).image for _ in range(2)]
    for a, b in zip(urban320.detect(imgs), onnx_det.detect(imgs), strict=True):
        assert sorted(d.label for d in a) == sorted(d.label for d in b)
    with pytest.raises(VisionError, match="GPU"):
        export(weights, "engine", device="cpu")


def test_auto_runtime_is_openvino_on_a_cpu_with_the_exported_graph(tmp_path: Path) -> None:
    shipped = SHIPPED_WEIGHTS
    assert shipped.with_suffix(".onnx").is_file()
    assert choose_runtime("auto", "cpu", shipped) == "openvino"
    assert choose_runtime("auto", "cpu", shipped, int8=True) == "openvino"  # the INT8 IR is shipped too
    assert choose_runtime("auto", "cuda:0", shipped) == "torch"  # OpenVINO runs on CPUs only here
    lone = tmp_path / "city.pt"  # a city's own weights, never exported
    lone.write_bytes(b"")
    assert choose_runtime("auto", "cpu", lone) == "torch"
    named = tmp_path / "named.onnx"  # weights named as the exported graph itself
    named.write_bytes(b"")
    assert choose_runtime("auto", "cpu", named) == "openvino"
    assert choose_runtime("onnxruntime", "cpu", lone) == "onnxruntime"  # a named runtime is kept
