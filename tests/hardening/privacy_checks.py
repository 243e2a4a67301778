"""Pure checks for the privacy artefact search: is a raw frame (or an encoding of it) inside
some bytes, and is a region of a stored image still the original's detail?

Kept apart from the end-to-end test so ``test_privacy_checks.py`` can show each check fires
on an unredacted image or a leaked frame: an artefact search that cannot fail proves nothing.
"""

from __future__ import annotations

import base64
import hashlib

import cv2
import numpy as np

Box = tuple[float, float, float, float]
WINDOW = 48  # bytes: long enough to be unique to one image
STRIDE = 512  # one window per this many bytes of the frame: searching stays fast on MBs of artefacts
# Markers of any JPEG, raw or base64 ("/9j/" is base64 of FF D8 FF): no text artefact may hold one.
JPEG_MARKERS = {"jpeg SOI": b"\xff\xd8\xff", "base64 jpeg": b"/9j/"}


def _scan(jpeg: bytes) -> bytes:
    """The entropy-coded data after the first SOS marker: unique to the picture. The headers
    before it (JFIF, quantisation and Huffman tables) are shared with every JPEG from the same
    encoder, so they would 'match' an innocent evidence image."""
    start = jpeg.find(b"\xff\xda")
    assert start > 0, "not a baseline JPEG"
    length = int.from_bytes(jpeg[start + 2:start + 4], "big")
    return jpeg[start + 2 + length:-2]


def needles(name: str, jpeg: bytes) -> dict[str, bytes]:
    """Byte strings whose presence in an artefact means this frame leaked: a window of its scan
    data every ``STRIDE`` bytes (raw and hex, so any excerpt of ``STRIDE + WINDOW`` bytes or more
    holds one), windows of its base64 encoding, and its SHA-256."""
    scan = _scan(jpeg)
    out: dict[str, bytes] = {}
    for at in range(0, len(scan) - WINDOW, STRIDE):
        chunk = scan[at:at + WINDOW]
        out[f"{name} bytes@{at}"] = chunk
        out[f"{name} hex@{at}"] = chunk.hex().encode()
        out[f"{name} HEX@{at}"] = chunk.hex().upper().encode()
    b64 = base64.b64encode(jpeg)
    for at in range(len(b64) // 8, len(b64) - 2 * WINDOW, STRIDE):  # past the shared headers
        out[f"{name} base64@{at}"] = b64[at:at + 2 * WINDOW]
    digest = hashlib.sha256(jpeg)
    out[f"{name} sha256"] = digest.hexdigest().encode()
    out[f"{name} sha256 raw"] = digest.digest()
    return out


def find(blob: bytes, wanted: dict[str, bytes]) -> list[str]:
    """Names of the needles found inside ``blob``."""
    return [name for name, needle in wanted.items() if needle in blob]


def _highpass(gray: np.ndarray) -> np.ndarray:
    g = gray.astype(np.float64)
    return g - cv2.GaussianBlur(g, (0, 0), 2.0)


def detail_kept(stored: np.ndarray, original: np.ndarray, box: Box) -> float:
    """Correlation of the fine detail (high-pass) of ``stored`` with the original's inside ``box``:
    ~0.8-1 for the same picture re-encoded (even with annotation lines drawn over it), ~0 once
    the region is pixelated and blurred."""
    h, w = original.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    a = _highpass(cv2.cvtColor(original, cv2.COLOR_BGR2GRAY))[y1:y2, x1:x2].ravel()
    b = _highpass(cv2.cvtColor(stored, cv2.COLOR_BGR2GRAY))[y1:y2, x1:x2].ravel()
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def locate(stored: np.ndarray, original: np.ndarray) -> tuple[int, int]:
    """Where a stored image (the whole frame, or a crop of it around the incident) lies in the
    original frame: template matching, robust to the blurred boxes and drawn annotations."""
    if stored.shape == original.shape:
        return 0, 0
    res = cv2.matchTemplate(cv2.cvtColor(original, cv2.COLOR_BGR2GRAY), cv2.cvtColor(stored, cv2.COLOR_BGR2GRAY),
                            cv2.TM_CCOEFF_NORMED)
    _lo, score, _lo_at, (x, y) = cv2.minMaxLoc(res)
    assert score > 0.5, f"stored image is not a crop of this frame (match {score:.2f})"
    return int(x), int(y)


def visible(stored: np.ndarray, original: np.ndarray, boxes: list[Box], min_px: int = 8
            ) -> list[tuple[Box, Box]]:
    """(box in the frame, its part in the stored image's pixels) for each box the stored image
    shows at least ``min_px`` × ``min_px`` of."""
    x0, y0 = locate(stored, original)
    h, w = stored.shape[:2]
    out = []
    for b in boxes:
        x1, y1 = max(0.0, b[0] - x0), max(0.0, b[1] - y0)
        x2, y2 = min(float(w), b[2] - x0), min(float(h), b[3] - y0)
        if x2 - x1 >= min_px and y2 - y1 >= min_px:
            out.append((b, (x1, y1, x2, y2)))
    return out


def exposed(stored: np.ndarray, original: np.ndarray, boxes: list[Box], limit: float = 0.5) -> list[Box]:
    """The boxes whose detail survived into the stored image (an unredacted face or plate)."""
    x0, y0 = locate(stored, original)
    h, w = stored.shape[:2]
    same_area = original[y0:y0 + h, x0:x0 + w]
    return [b for b, part in visible(stored, original, boxes) if detail_kept(stored, same_area, part) >= limit]


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def refound(found: list[Box], originals: list[Box], min_iou: float = 0.3) -> list[Box]:
    """Original boxes a detector still finds in a stored image."""
    return [o for o in originals if any(iou(o, f) >= min_iou for f in found)]
