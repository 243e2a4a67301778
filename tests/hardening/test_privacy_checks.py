"""The artefact search's checks fire on what they must catch: an unredacted evidence image,
a frame leaked as bytes, hex, base64 or its hash — and stay quiet on a properly redacted image.
Without this, a search that finds nothing could just be a search that cannot find anything."""

from __future__ import annotations

import base64
import hashlib

import cv2
import numpy as np
import pytest

from tests.hardening.privacy_checks import (
    JPEG_MARKERS,
    detail_kept,
    exposed,
    find,
    locate,
    needles,
    refound,
    visible,
)
from tests.hardening.privacy_scene import Frame, frames
from vision.privacy import FaceDetector, PlateDetector, blur_regions


@pytest.fixture(scope="module")
def scene() -> list[Frame]:
    return frames()


@pytest.fixture(scope="module")
def faces() -> FaceDetector:
    return FaceDetector()


def reencode(image: np.ndarray, quality: int = 85) -> np.ndarray:
    """What the sink does to an evidence image: JPEG at quality 85, with red boxes drawn on it."""
    marked = image.copy()
    cv2.rectangle(marked, (10, 10), (image.shape[1] - 10, image.shape[0] - 10), (0, 0, 255), 2)
    ok, buf = cv2.imencode(".jpg", marked, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert decoded is not None
    return decoded


def test_faces_and_the_painted_plate_are_found(scene: list[Frame], faces: FaceDetector) -> None:
    bus, zid = scene
    assert len(faces.detect(bus.image)) >= 2 and len(faces.detect(zid.image)) >= 2
    assert refound(PlateDetector().detect(bus.image), bus.plates) == bus.plates


def test_unredacted_regions_are_exposed_redacted_ones_are_not(scene: list[Frame], faces: FaceDetector) -> None:
    plates = PlateDetector()
    for frame in scene:
        boxes = faces.detect(frame.image) + frame.plates
        raw = reencode(frame.image)
        assert exposed(raw, frame.image, boxes) == boxes  # redaction switched off: every box caught
        assert min(detail_kept(raw, frame.image, b) for b in boxes) > 0.9
        blurred = reencode(blur_regions(frame.image, boxes))
        assert exposed(blurred, frame.image, boxes) == []
        # Blurring only the faces leaves the plate exposed, and the plate detector agrees. (Not
        # so for faces: CenterFace still finds a blurred head, so its verdict proves nothing.)
        only_faces = reencode(blur_regions(frame.image, faces.detect(frame.image)))
        assert exposed(only_faces, frame.image, boxes) == frame.plates
        assert refound(plates.detect(only_faces), frame.plates) == frame.plates
        assert refound(plates.detect(blurred), frame.plates) == []
        # Evidence cropped around the incident is located in the frame and checked the same way.
        x0, y0 = max(0, int(boxes[0][0]) - 40), max(0, int(boxes[0][1]) - 30)
        crop = (slice(y0, y0 + 300), slice(x0, x0 + 260))
        raw_crop = reencode(np.ascontiguousarray(frame.image[crop]))
        assert locate(raw_crop, frame.image) == (x0, y0)
        assert boxes[0] in exposed(raw_crop, frame.image, boxes)
        blurred_crop = reencode(np.ascontiguousarray(blur_regions(frame.image, boxes)[crop]))
        assert locate(blurred_crop, frame.image) == (x0, y0)
        assert visible(blurred_crop, frame.image, boxes) and exposed(blurred_crop, frame.image, boxes) == []


def test_leaks_are_found_in_any_encoding(scene: list[Frame]) -> None:
    frame = scene[0]
    wanted = needles(frame.name, frame.jpeg)
    log = b"2026-11-28 INFO something\n"
    assert find(log, wanted) == []
    middle = len(frame.jpeg) // 2
    assert find(log + frame.jpeg[middle:middle + 1100] + log, wanted)  # any excerpt of ~1 KiB
    assert find(frame.jpeg[middle:middle + 1100].hex().upper().encode(), wanted)
    assert find(log + base64.b64encode(frame.jpeg) + log, wanted)
    assert find(b'{"sha": "%s"}' % hashlib.sha256(frame.jpeg).hexdigest().encode(), wanted)
    assert find(base64.b64encode(frame.jpeg), {"m": JPEG_MARKERS["base64 jpeg"]})
    # A redacted re-encoding of the same frame shares no excerpt with it (no false alarm on evidence).
    ok, evidence = cv2.imencode(".jpg", blur_regions(frame.image, frame.plates), [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok and find(evidence.tobytes(), wanted) == []
