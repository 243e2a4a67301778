"""Top-down/oblique-looking sprites for each detector class and for distractors.

Every drawer takes a random generator and a nominal size (longest side, pixels) and returns a
float32 BGRA sprite in [0, 1]; alpha is the object's footprint, so the label box can be
computed exactly from it after any warp. Looks are varied on purpose (colours, shapes, counts)
so a detector learns the class, not one drawing.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from simulators.scenes.figures import fallen_tree, person_down
from simulators.scenes.sprites import Rng, Sprite
from simulators.scenes.sprites import blank as _blank
from simulators.scenes.sprites import blob as _blob
from simulators.scenes.sprites import jitter as _c
from simulators.scenes.sprites import noise as _noise
from simulators.scenes.sprites import pack as _pack

__all__ = ["DISTRACTORS", "REAL_SIZE_M", "TARGETS", "Rng", "Sprite", "fallen_tree", "person_down"]


def vehicle(rng: Rng, size: int) -> Sprite:
    length = size
    width = max(4, int(size * rng.uniform(0.38, 0.48)))
    col, a = _blank(width, length)
    palette = [(0.95, 0.95, 0.95), (0.1, 0.1, 0.1), (0.15, 0.15, 0.75), (0.7, 0.3, 0.1),
               (0.6, 0.6, 0.62), (0.2, 0.5, 0.2), (0.1, 0.7, 0.85), (0.35, 0.3, 0.3)]
    body = _c(rng, palette[rng.integers(len(palette))], 0.05)
    r = max(1, width // 4)
    cv2.rectangle(col, (r, 0), (length - 1 - r, width - 1), body, -1)
    cv2.rectangle(col, (0, r), (length - 1, width - 1 - r), body, -1)
    cv2.rectangle(a, (r, 0), (length - 1 - r, width - 1), 1.0, -1)
    cv2.rectangle(a, (0, r), (length - 1, width - 1 - r), 1.0, -1)
    glass = (0.12, 0.1, 0.08)
    m = max(1, width // 6)
    cv2.rectangle(col, (int(length * 0.22), m), (int(length * 0.34), width - 1 - m), glass, -1)  # windscreen
    cv2.rectangle(col, (int(length * 0.74), m + 1), (int(length * 0.82), width - 2 - m), glass, -1)  # rear
    roof = tuple(min(1.0, v * 1.1 + 0.04) for v in body)
    cv2.rectangle(col, (int(length * 0.35), m), (int(length * 0.73), width - 1 - m), roof, -1)
    if rng.random() < 0.5:  # a van/truck: longer roof, no rear window
        cv2.rectangle(col, (int(length * 0.35), m), (int(length * 0.95), width - 1 - m), roof, -1)
    return _pack(col, a)


def fire(rng: Rng, size: int) -> Sprite:
    h, w = size, max(6, int(size * rng.uniform(0.6, 1.0)))
    col, a = _blank(h, w)
    heat = np.zeros((h, w), np.float32)
    for _ in range(rng.integers(3, 7)):  # overlapping tongues of flame
        cx = rng.uniform(0.25, 0.75) * w
        cy = rng.uniform(0.45, 0.75) * h
        ax, ay = rng.uniform(0.12, 0.3) * w, rng.uniform(0.2, 0.45) * h
        cv2.ellipse(heat, (int(cx), int(cy)), (int(ax) + 1, int(ay) + 1), rng.uniform(-20, 20), 0, 360, 1.0, -1)
    glow = np.asarray(cv2.GaussianBlur(heat, (0, 0), max(0.8, size / 14))) * (0.6 + 0.6 * _noise(rng, h, w, 5))
    heat = np.clip(glow / max(float(glow.max()), 1e-6), 0, 1).astype(np.float32)
    col[..., 2] = np.clip(0.85 + 0.3 * heat, 0, 1)           # red
    col[..., 1] = np.clip(0.15 + 0.85 * heat**1.5, 0, 1)     # yellow core
    col[..., 0] = np.clip(0.6 * heat**4, 0, 1)               # white-hot centre
    a[:] = np.clip(heat * 2.2 - 0.15, 0, 1)
    return _pack(col, a)


def smoke(rng: Rng, size: int) -> Sprite:
    h, w = max(6, int(size * rng.uniform(0.6, 1.0))), size
    shade = rng.uniform(0.25, 0.8)
    tint = rng.uniform(-0.04, 0.04)
    col = np.full((h, w, 3), shade, np.float32) + np.array([tint, 0, -tint], np.float32)
    col += (_noise(rng, h, w, 8)[..., None] - 0.5) * 0.25
    shape = cv2.GaussianBlur(_blob(rng, h, w, 0.4, 18), (0, 0), max(1.0, size / 10))
    density = shape * (0.55 + 0.45 * _noise(rng, h, w, 7))
    a = np.clip(density * rng.uniform(1.3, 1.9), 0, 0.95)
    return _pack(col, a)


def garbage(rng: Rng, size: int) -> Sprite:
    h, w = max(6, int(size * rng.uniform(0.5, 0.9))), size
    col, a = _blank(h, w)
    bags = [(0.08, 0.08, 0.08), (0.55, 0.25, 0.1), (0.85, 0.85, 0.85), (0.2, 0.45, 0.15), (0.1, 0.55, 0.8)]
    for _ in range(rng.integers(6, 16)):
        cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.2, 0.8) * h
        rx, ry = rng.uniform(0.06, 0.16) * w + 1, rng.uniform(0.1, 0.25) * h + 1
        c = _c(rng, bags[rng.integers(len(bags))], 0.06)
        cv2.ellipse(col, (int(cx), int(cy)), (int(rx), int(ry)), rng.uniform(0, 180), 0, 360, c, -1)
        cv2.ellipse(a, (int(cx), int(cy)), (int(rx), int(ry)), 0, 0, 360, 1.0, -1)
        hl = tuple(min(1.0, v + 0.25) for v in c)  # plastic sheen
        cv2.circle(col, (int(cx - rx / 3), int(cy - ry / 3)), max(1, int(min(rx, ry) / 3)), hl, -1)
    for _ in range(rng.integers(4, 12)):  # loose scraps
        x, y = int(rng.uniform(0.1, 0.9) * w), int(rng.uniform(0.1, 0.9) * h)
        s = max(1, int(size * rng.uniform(0.02, 0.06)))
        c = (float(rng.random()), float(rng.random()), float(rng.random()))
        cv2.rectangle(col, (x, y), (x + s, y + s), c, -1)
        cv2.rectangle(a, (x, y), (x + s, y + s), 1.0, -1)
    return _pack(col, a)


def flooding(rng: Rng, size: int) -> Sprite:
    h, w = max(8, int(size * rng.uniform(0.45, 0.85))), size
    mask = cv2.GaussianBlur(_blob(rng, h, w, 0.3, 20), (0, 0), max(1.0, size / 40))
    base = _c(rng, (0.35, 0.42, 0.4) if rng.random() < 0.6 else (0.55, 0.45, 0.3), 0.08)
    col = np.full((h, w, 3), base, np.float32)
    col += (_noise(rng, h, w, 10)[..., None] - 0.5) * 0.12
    for _ in range(rng.integers(3, 9)):  # ripples and sky reflections
        y = int(rng.uniform(0.15, 0.85) * h)
        x0, x1 = sorted((int(rng.uniform(0, 0.6) * w), int(rng.uniform(0.4, 1) * w)))
        cv2.line(col, (x0, y), (x1, y + int(rng.integers(-2, 3))), tuple(min(1.0, v + 0.22) for v in base),
                 max(1, size // 90))
    return _pack(col, np.clip(mask * 1.2, 0, 0.97))


def pothole(rng: Rng, size: int) -> Sprite:
    h, w = max(5, int(size * rng.uniform(0.55, 0.95))), size
    outer = _blob(rng, h, w, 0.3, 16)
    inner = cv2.erode(outer, np.ones((3, 3), np.uint8), iterations=max(1, size // 12))
    col = np.zeros((h, w, 3), np.float32)
    col[:] = _c(rng, (0.42, 0.42, 0.42), 0.06)  # broken rim
    deep = _c(rng, (0.1, 0.1, 0.11), 0.04)
    col[inner > 0] = deep
    col += (_noise(rng, h, w, 6)[..., None] - 0.5) * 0.12
    if rng.random() < 0.4:  # puddle in the hole
        col[inner > 0] = col[inner > 0] * 0.6 + np.array([0.3, 0.25, 0.2], np.float32) * 0.4
    return _pack(col, outer)


def debris(rng: Rng, size: int) -> Sprite:
    h, w = max(6, int(size * rng.uniform(0.5, 0.9))), size
    col, a = _blank(h, w)
    tones = [(0.55, 0.55, 0.55), (0.3, 0.4, 0.5), (0.65, 0.62, 0.6), (0.2, 0.3, 0.45)]
    for _ in range(rng.integers(8, 20)):  # angular rubble and planks
        cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
        r = rng.uniform(0.04, 0.12) * size + 1
        n = int(rng.integers(3, 6))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        pts = np.stack([cx + np.cos(ang) * r, cy + np.sin(ang) * r * rng.uniform(0.4, 1)], 1).astype(np.int32)
        c = _c(rng, tones[rng.integers(len(tones))], 0.07)
        cv2.fillPoly(col, [pts], c)
        cv2.fillPoly(a, [pts], 1.0)
        cv2.polylines(col, [pts], True, tuple(v * 0.5 for v in c), 1)
    return _pack(col, a)


def _manhole(rng: Rng, size: int, damaged: bool) -> Sprite:
    col, a = _blank(size, size)
    c, r = (size // 2, size // 2), size // 2 - 1
    metal = _c(rng, (0.3, 0.32, 0.33), 0.05)
    cv2.circle(col, c, r, tuple(v * 1.3 for v in metal), -1)  # frame
    cv2.circle(a, c, r, 1.0, -1)
    cv2.circle(col, c, int(r * 0.85), metal, -1)
    if not damaged:  # an intact lid: tidy grid pattern
        for k in range(-3, 4):
            off = int(k * r * 0.2)
            cv2.line(col, (c[0] + off, c[1] - int(r * 0.7)), (c[0] + off, c[1] + int(r * 0.7)), (0.2, 0.2, 0.2), 1)
        return _pack(col, a)
    # Broken or displaced lid: a black crescent of open shaft and radial cracks through the frame.
    shift = (int(rng.uniform(-0.45, 0.45) * r), int(rng.uniform(-0.45, 0.45) * r))
    cv2.circle(col, c, int(r * 0.8), (0.02, 0.02, 0.02), -1)
    cv2.circle(col, (c[0] + shift[0], c[1] + shift[1]), int(r * 0.8), metal, -1)
    for _ in range(rng.integers(3, 7)):
        ang = rng.uniform(0, 2 * np.pi)
        p1 = (int(c[0] + np.cos(ang) * r * 0.2), int(c[1] + np.sin(ang) * r * 0.2))
        p2 = (int(c[0] + np.cos(ang) * r * 1.0), int(c[1] + np.sin(ang) * r * 1.0))
        cv2.line(col, p1, p2, (0.05, 0.05, 0.05), max(1, size // 20))
    return _pack(col, a)


def damaged_manhole(rng: Rng, size: int) -> Sprite:
    return _manhole(rng, size, True)


def intact_manhole(rng: Rng, size: int) -> Sprite:
    return _manhole(rng, size, False)


def _person(col: np.ndarray, a: np.ndarray, rng: Rng, cx: float, cy: float, s: float) -> None:
    """A standing person seen from above: shoulders and a head."""
    cloth = (float(rng.random()), float(rng.random()), float(rng.random()))
    cv2.ellipse(col, (int(cx), int(cy)), (max(1, int(s * 0.5)), max(1, int(s * 0.28))), rng.uniform(0, 180),
                0, 360, cloth, -1)
    cv2.ellipse(a, (int(cx), int(cy)), (max(1, int(s * 0.5)), max(1, int(s * 0.28))), 0, 0, 360, 1.0, -1)
    hair = _c(rng, (0.08, 0.1, 0.12), 0.05)
    cv2.circle(col, (int(cx), int(cy)), max(1, int(s * 0.2)), hair, -1)


def crowd(rng: Rng, size: int) -> Sprite:
    h, w = max(8, int(size * rng.uniform(0.5, 0.9))), size
    col, a = _blank(h, w)
    n = int(rng.integers(12, 40))
    s = max(3.0, size * rng.uniform(0.07, 0.11))
    region = _blob(rng, h, w, 0.25, 12)
    ys, xs = np.nonzero(region)
    for i in rng.choice(len(xs), size=min(n, len(xs)), replace=False):
        _person(col, a, rng, xs[i], ys[i], s)
    return _pack(col, a)


def pedestrian(rng: Rng, size: int) -> Sprite:
    col, a = _blank(size, size)
    _person(col, a, rng, size / 2, size / 2, size * 0.9)
    return _pack(col, a)


def tree(rng: Rng, size: int) -> Sprite:
    col, a = _blank(size, size)
    leaf = _c(rng, (0.15, 0.42, 0.2), 0.08)
    for _ in range(rng.integers(4, 9)):
        cx, cy = rng.uniform(0.3, 0.7) * size, rng.uniform(0.3, 0.7) * size
        r = int(rng.uniform(0.2, 0.3) * size) + 1
        c = tuple(float(np.clip(v * rng.uniform(0.8, 1.2), 0, 1)) for v in leaf)
        cv2.circle(col, (int(cx), int(cy)), r, c, -1)
        cv2.circle(a, (int(cx), int(cy)), r, 1.0, -1)
    return _pack(col, a)


def roof(rng: Rng, size: int) -> Sprite:
    h = max(6, int(size * rng.uniform(0.4, 1.0)))
    col, a = _blank(h, size)
    tones = [(0.5, 0.5, 0.52), (0.25, 0.3, 0.6), (0.65, 0.62, 0.6), (0.35, 0.35, 0.3)]
    c = _c(rng, tones[rng.integers(len(tones))], 0.06)
    col[:] = c
    a[:] = 1.0
    cv2.rectangle(col, (0, 0), (size - 1, h - 1), tuple(v * 0.7 for v in c), max(1, size // 30))
    for _ in range(rng.integers(0, 4)):  # rooftop units
        x, y = int(rng.uniform(0.1, 0.8) * size), int(rng.uniform(0.1, 0.8) * h)
        s = max(2, int(size * 0.08))
        cv2.rectangle(col, (x, y), (x + s, y + s), (0.75, 0.75, 0.75), -1)
    return _pack(col, a)


def shadow(rng: Rng, size: int) -> Sprite:
    h = max(4, int(size * rng.uniform(0.3, 1.0)))
    mask = cv2.GaussianBlur(_blob(rng, h, size, 0.2, 8), (0, 0), max(1.0, size / 20))
    return _pack(np.zeros((h, size, 3), np.float32), mask * rng.uniform(0.2, 0.45))


Drawer = Callable[[Rng, int], Sprite]
TARGETS: dict[str, Drawer] = {
    "fire": fire, "smoke": smoke, "garbage": garbage, "flooding": flooding, "pothole": pothole,
    "fallen_tree": fallen_tree, "debris": debris, "damaged_manhole": damaged_manhole,
    "person_down": person_down, "crowd": crowd, "vehicle": vehicle,
}
DISTRACTORS: dict[str, Drawer] = {
    "intact_manhole": intact_manhole, "pedestrian": pedestrian, "tree": tree, "roof": roof, "shadow": shadow,
}
# Typical real size in metres (longest side), used by the drone view to size sprites by altitude.
REAL_SIZE_M: dict[str, float] = {
    "fire": 4.0, "smoke": 12.0, "garbage": 3.5, "flooding": 18.0, "pothole": 1.6, "fallen_tree": 10.0,
    "debris": 4.0, "damaged_manhole": 1.0, "person_down": 1.8, "crowd": 10.0, "vehicle": 4.6,
}
