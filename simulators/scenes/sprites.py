"""Small drawing helpers shared by the sprite drawers (``objects``, ``figures``).

A sprite is a float32 BGRA array in [0, 1]; alpha is the object's footprint, so a label box
can be computed exactly from it after any warp.
"""

from __future__ import annotations

import cv2
import numpy as np

Rng = np.random.Generator
Sprite = np.ndarray  # (h, w, 4) float32 BGRA


def blank(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((max(h, 2), max(w, 2), 3), np.float32), np.zeros((max(h, 2), max(w, 2)), np.float32)


def pack(color: np.ndarray, alpha: np.ndarray) -> Sprite:
    return np.dstack([np.clip(color, 0, 1), np.clip(alpha, 0, 1)]).astype(np.float32)


def jitter(rng: Rng, base: tuple[float, float, float], amount: float = 0.08) -> tuple[float, float, float]:
    b, g, r = (float(np.clip(v + rng.uniform(-amount, amount), 0, 1)) for v in base)
    return (b, g, r)


def blob(rng: Rng, h: int, w: int, roughness: float = 0.35, points: int = 14) -> np.ndarray:
    """An irregular filled polygon mask filling roughly the h x w box."""
    ang = np.sort(rng.uniform(0, 2 * np.pi, points))
    rad = 1.0 - roughness * rng.random(points)
    xs = (w / 2) + np.cos(ang) * rad * (w / 2 - 1)
    ys = (h / 2) + np.sin(ang) * rad * (h / 2 - 1)
    mask = np.zeros((h, w), np.float32)
    cv2.fillPoly(mask, [np.stack([xs, ys], 1).astype(np.int32)], 1.0)
    return mask


def noise(rng: Rng, h: int, w: int, cells: int = 6) -> np.ndarray:
    small = rng.random((max(cells, 2), max(cells, 2))).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def crop(sprite: Sprite, pad: int = 1) -> Sprite:
    """Trim empty borders so placement and overlap checks see the object, not its canvas."""
    ys, xs = np.nonzero(sprite[..., 3] > 0.02)
    if len(xs) == 0:
        return sprite
    y0, y1 = max(0, int(ys.min()) - pad), min(sprite.shape[0], int(ys.max()) + 1 + pad)
    x0, x1 = max(0, int(xs.min()) - pad), min(sprite.shape[1], int(xs.max()) + 1 + pad)
    return sprite[y0:y1, x0:x1].copy()
