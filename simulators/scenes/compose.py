"""Compose one synthetic scene: ground, roads, distractors, labelled objects, camera effects.

Labels are exact: each placed object keeps its own footprint mask through rotation,
perspective and blur, and its box is the mask's extent in the final image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from simulators.scenes import CLASS_ID
from simulators.scenes.objects import DISTRACTORS, TARGETS, Rng, Sprite

MIN_BOX_PX = 4  # a box smaller than this after warps is not a fair target; it is dropped
# Distractor sizes as a fraction of the image side (lone pedestrians are small, roofs big).
DISTRACTOR_SCALE: dict[str, tuple[float, float]] = {
    "intact_manhole": (0.03, 0.1), "pedestrian": (0.02, 0.05), "tree": (0.06, 0.25),
    "roof": (0.15, 0.5), "shadow": (0.1, 0.4),
}
# Targets whose size is tied to the class (fraction of the image side); the rest use ``scale``.
# Big things stay big, and a person lying down (1.8 m) stays well below a fallen tree (~10 m).
CLASS_SCALE: dict[str, tuple[float, float]] = {
    "flooding": (0.2, 0.6), "smoke": (0.2, 0.6), "crowd": (0.2, 0.6), "fallen_tree": (0.25, 0.6),
    "person_down": (0.07, 0.22),
}


@dataclass
class Placed:
    label: str
    mask: np.ndarray  # (H, W) float32 footprint in image coordinates


@dataclass
class Scene:
    image: np.ndarray  # (H, W, 3) uint8 BGR
    boxes: list[tuple[str, float, float, float, float]] = field(default_factory=list)  # label, x1, y1, x2, y2

    def yolo_lines(self) -> list[str]:
        h, w = self.image.shape[:2]
        out = []
        for label, x1, y1, x2, y2 in self.boxes:
            cx, cy, bw, bh = (x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h
            out.append(f"{CLASS_ID[label]} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}")
        return out


def _noise(rng: Rng, h: int, w: int, cells: int) -> np.ndarray:
    small = rng.random((cells, cells)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def ground(rng: Rng, h: int, w: int) -> np.ndarray:
    """Asphalt, concrete, grass, paving or dirt with multi-scale noise, plus roads across it."""
    bases = [(0.32, 0.32, 0.33), (0.58, 0.58, 0.56), (0.2, 0.45, 0.3), (0.5, 0.55, 0.6), (0.35, 0.45, 0.55)]
    base = np.array(bases[rng.integers(len(bases))], np.float32) + rng.uniform(-0.06, 0.06, 3).astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    tex = 0.5 * _noise(rng, h, w, 4) + 0.3 * _noise(rng, h, w, 16) + 0.2 * rng.random((h, w)).astype(np.float32)
    img *= (0.8 + 0.4 * tex)[..., None]
    if rng.random() < 0.3:  # paving tiles
        step = int(rng.integers(8, 24))
        img[::step, :] *= 0.8
        img[:, ::step] *= 0.8
    for _ in range(rng.integers(0, 3)):  # roads with lane markings
        width = int(rng.uniform(0.12, 0.3) * min(h, w))
        asphalt = np.array([0.3, 0.3, 0.31], np.float32) + rng.uniform(-0.05, 0.05)
        vertical = rng.random() < 0.5
        pos = int(rng.uniform(0, (w if vertical else h) - width))
        sl = (slice(None), slice(pos, pos + width)) if vertical else (slice(pos, pos + width), slice(None))
        img[sl] = asphalt * (0.9 + 0.2 * _noise(rng, h, w, 20)[sl])[..., None]
        mid = pos + width // 2
        dash = int(rng.integers(8, 20))
        for k in range(0, (h if vertical else w), dash * 2):
            p1, p2 = ((mid, k), (mid, k + dash)) if vertical else ((k, mid), (k + dash, mid))
            cv2.line(img, p1, p2, (0.85, 0.85, 0.85), max(1, width // 25))
    return img


def rotate(sprite: Sprite, angle_deg: float) -> Sprite:
    h, w = sprite.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos) + 2, int(h * cos + w * sin) + 2
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(sprite, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))


def paste(img: np.ndarray, sprite: Sprite, cx: float, cy: float) -> np.ndarray:
    """Alpha-blend ``sprite`` centred at (cx, cy); return its footprint as a full-size mask."""
    h, w = img.shape[:2]
    sh, sw = sprite.shape[:2]
    x0, y0 = round(cx - sw / 2), round(cy - sh / 2)
    mask = np.zeros((h, w), np.float32)
    ix0, iy0, ix1, iy1 = max(0, x0), max(0, y0), min(w, x0 + sw), min(h, y0 + sh)
    if ix0 >= ix1 or iy0 >= iy1:
        return mask
    part = sprite[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0]
    alpha = part[..., 3:4]
    img[iy0:iy1, ix0:ix1] = img[iy0:iy1, ix0:ix1] * (1 - alpha) + part[..., :3] * alpha
    mask[iy0:iy1, ix0:ix1] = part[..., 3]
    return mask


def box_of(mask: np.ndarray, threshold: float = 0.3) -> tuple[float, float, float, float] | None:
    ys, xs = np.nonzero(mask > threshold)
    if len(xs) == 0:
        return None
    x1, y1, x2, y2 = float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)
    if x2 - x1 < MIN_BOX_PX or y2 - y1 < MIN_BOX_PX:
        return None
    return x1, y1, x2, y2


def view_homography(rng: Rng, canvas: int, size: int) -> np.ndarray:
    """Canvas -> output image; sometimes oblique (the far edge sees a wider strip of ground).

    The canvas is larger than the output, so an oblique view shows real ground everywhere
    instead of mirrored copies of objects that would have no labels.
    """
    m = (canvas - size) / 2
    sq = rng.uniform(0.3, 1.0) * m if rng.random() < 0.4 else 0.0
    src = np.array([[m - sq, m], [m + size + sq, m], [m + size, m + size], [m, m + size]], np.float32)
    dst = np.array([[0, 0], [size, 0], [size, size], [0, size]], np.float32)
    return np.asarray(cv2.getPerspectiveTransform(src, dst))


def camera_effects(rng: Rng, img: np.ndarray, masks: list[np.ndarray], homography: np.ndarray,
                   size: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Perspective, lighting, blur, sensor noise; masks follow the geometry."""
    img = cv2.warpPerspective(img, homography, (size, size), flags=cv2.INTER_LINEAR)
    masks = [cv2.warpPerspective(mk, homography, (size, size)) for mk in masks]
    gain = rng.uniform(0.55, 1.35)
    gamma = rng.uniform(0.7, 1.4)
    cast = 1 + rng.uniform(-0.12, 0.12, 3).astype(np.float32)  # colour temperature
    img = np.clip(img * gain * cast, 0, 1) ** gamma
    if rng.random() < 0.5:
        sigma = rng.uniform(0.3, 1.6)
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    elif rng.random() < 0.3:  # motion blur along the flight direction
        k = int(rng.integers(3, 8))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        img = cv2.filter2D(img, -1, kernel)
    img = img + rng.normal(0, rng.uniform(0.0, 0.04), img.shape).astype(np.float32)
    return np.clip(img, 0, 1), masks


def render_scene(rng: Rng, size: int = 320, labels: list[str] | None = None,
                 n_objects: tuple[int, int] = (1, 5), n_distractors: tuple[int, int] = (2, 10),
                 empty_p: float = 0.07, scale: tuple[float, float] = (0.06, 0.4)) -> Scene:
    """One random scene; ``labels`` restricts which classes may appear."""
    pool = labels or list(TARGETS)
    canvas = int(size * 1.4)
    margin = (canvas - size) / 2
    img = ground(rng, canvas, canvas)
    for _ in range(rng.integers(*n_distractors)):
        name = list(DISTRACTORS)[rng.integers(len(DISTRACTORS))]
        lo, hi = DISTRACTOR_SCALE[name]
        spr = rotate(DISTRACTORS[name](rng, max(4, int(size * rng.uniform(lo, hi)))), rng.uniform(0, 360))
        paste(img, spr, rng.uniform(0, canvas), rng.uniform(0, canvas))
    placed: list[Placed] = []
    count = 0 if rng.random() < empty_p else int(rng.integers(n_objects[0], n_objects[1] + 1))
    taken = np.zeros((canvas, canvas), bool)
    for _ in range(count):
        label = pool[rng.integers(len(pool))]
        lo, hi = scale
        if label in CLASS_SCALE:  # keep real relative sizes: a person is never as big as a tree
            lo, hi = CLASS_SCALE[label]
        spr = rotate(TARGETS[label](rng, max(8, int(size * rng.uniform(lo, hi)))), rng.uniform(0, 360))
        for _try in range(8):  # avoid hiding one object under another
            cx, cy = margin + rng.uniform(0.1, 0.9) * size, margin + rng.uniform(0.1, 0.9) * size
            probe = np.zeros((canvas, canvas), np.float32)
            sh, sw = spr.shape[:2]
            x0, y0 = int(max(0, cx - sw / 2)), int(max(0, cy - sh / 2))
            probe[y0 : y0 + sh, x0 : x0 + sw] = 1
            if not (taken & (probe > 0)).any():
                break
        else:
            continue
        mask = paste(img, spr, cx, cy)
        taken |= mask > 0.1
        placed.append(Placed(label, mask))
    homography = view_homography(rng, canvas, size)
    img, masks = camera_effects(rng, img, [p.mask for p in placed], homography, size)
    scene = Scene((img * 255).astype(np.uint8))
    for p, mk in zip(placed, masks, strict=True):
        box = box_of(mk)
        if box is not None:
            scene.boxes.append((p.label, *box))
    return scene
