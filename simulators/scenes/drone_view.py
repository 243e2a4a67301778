"""What a drone camera at a given pose sees of objects planted at known lat/lon.

The ground is rendered as an orthophoto (east-north metres -> pixels) with planted sprites
at their true positions and sizes, then warped into the camera image with the ground-plane
homography of a pinhole camera (K·R·[e1 e2 -C]). This is written independently of
``vision.geo`` (matrices here, ray angles there) so end-to-end tests check one against the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from devices.geography import local_xy
from simulators.scenes.compose import box_of, ground, paste, rotate
from simulators.scenes.objects import DISTRACTORS, REAL_SIZE_M, TARGETS

MAX_CANVAS_PX = 2400
DISTRACTOR_SIZE_M: dict[str, tuple[float, float]] = {
    "intact_manhole": (0.8, 1.0), "pedestrian": (0.5, 0.7), "tree": (3.0, 8.0), "roof": (10.0, 30.0),
    "shadow": (3.0, 12.0),
}


@dataclass(frozen=True)
class Pose:
    lat: float
    lon: float
    alt_m: float
    heading_deg: float
    pitch_deg: float
    hfov_deg: float


@dataclass(frozen=True)
class Planted:
    label: str
    lat: float
    lon: float
    size_m: float | None = None  # default: typical size of the class
    angle_deg: float | None = None


@dataclass
class Frame:
    image: np.ndarray  # BGR uint8
    boxes: list[tuple[str, float, float, float, float]] = field(default_factory=list)  # visible planted objects

    def jpeg(self, quality: int = 90) -> bytes:
        ok, buf = cv2.imencode(".jpg", self.image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ValueError("JPEG encoding failed")
        return buf.tobytes()


def ground_homography(pose: Pose, width: int, height: int) -> np.ndarray:
    """3x3 map from ground (east, north, 1) metres, origin under the camera, to pixels."""
    f = (width / 2) / math.tan(math.radians(pose.hfov_deg) / 2)
    k = np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]])
    h, p = math.radians(pose.heading_deg), math.radians(pose.pitch_deg)
    fwd = np.array([math.sin(h) * math.cos(p), math.cos(h) * math.cos(p), math.sin(p)])
    right = np.array([math.cos(h), -math.sin(h), 0.0])
    down = np.cross(fwd, right)  # image y grows downwards
    r = np.stack([right, down, fwd])  # world -> camera rows
    d = np.array([[1, 0, 0], [0, 1, 0], [0, 0, -pose.alt_m]])
    return np.asarray(k @ r @ d, dtype=np.float64)


def footprint(hg: np.ndarray, width: int, height: int) -> np.ndarray:
    """Ground (east, north) of the four image corners; raises if one is above the horizon."""
    inv = np.linalg.inv(hg)
    pts = []
    for u, v in ((0, 0), (width, 0), (width, height), (0, height)):
        e, n, w = inv @ np.array([u, v, 1.0])
        if w <= 0:
            raise ValueError("camera sees the horizon; tilt it further down")
        pts.append((e / w, n / w))
    return np.array(pts)


def render_frame(pose: Pose, planted: list[Planted], width: int = 640, height: int = 480, seed: int = 0,
                 distractors: int = 12) -> Frame:
    rng = np.random.default_rng(seed)
    hg = ground_homography(pose, width, height)
    corners = footprint(hg, width, height)
    e0, n0 = corners.min(0) - 5
    e1, n1 = corners.max(0) + 5
    gsd = max(2 * pose.alt_m * math.tan(math.radians(pose.hfov_deg) / 2) / width / 1.5,
              max(e1 - e0, n1 - n0) / MAX_CANVAS_PX)
    cw, ch = int((e1 - e0) / gsd) + 1, int((n1 - n0) / gsd) + 1
    canvas = ground(rng, ch, cw)

    def to_canvas(east: float, north: float) -> tuple[float, float]:
        return (east - e0) / gsd, (n1 - north) / gsd

    for _ in range(distractors):
        name = list(DISTRACTORS)[rng.integers(len(DISTRACTORS))]
        lo, hi = DISTRACTOR_SIZE_M[name]
        size_px = max(4, int(rng.uniform(lo, hi) / gsd))
        spr = rotate(DISTRACTORS[name](rng, min(size_px, max(cw, ch) // 4)), rng.uniform(0, 360))
        paste(canvas, spr, rng.uniform(0, cw), rng.uniform(0, ch))
    masks = []
    for obj in planted:
        east, north = local_xy(obj.lat, obj.lon, pose.lat, pose.lon)
        size_m = obj.size_m or REAL_SIZE_M[obj.label] * rng.uniform(0.85, 1.15)
        angle = obj.angle_deg if obj.angle_deg is not None else rng.uniform(0, 360)
        spr = rotate(TARGETS[obj.label](rng, max(6, int(size_m / gsd))), angle)
        masks.append(paste(canvas, spr, *to_canvas(east, north)))
    # canvas pixel -> ground metres -> image pixel
    a = np.array([[gsd, 0, e0], [0, -gsd, n1], [0, 0, 1]])
    m = hg @ a
    warped = np.asarray(cv2.warpPerspective(canvas, m, (width, height), flags=cv2.INTER_AREA), np.float32)
    img = np.clip(warped + rng.normal(0, 0.01, warped.shape).astype(np.float32), 0, 1)
    frame = Frame((img * 255).astype(np.uint8))
    for obj, mask in zip(planted, masks, strict=True):
        box = box_of(cv2.warpPerspective(mask, m, (width, height)))
        if box is not None:
            frame.boxes.append((obj.label, *box))
    return frame
