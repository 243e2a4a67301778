"""The two classes a detector most easily confuses: a person lying down and a fallen tree.

Both are "something long on the ground", so each is drawn with the cues that tell them apart
from above: a person is short and jointed (skin-coloured head and hands, clothing in two
colours, bent limbs, shoes) and comes in several poses; a tree is long and woody (tapered bark
trunk, often a root plate, a wide leafy or bare crown at one end). Sizes, colours and poses
vary so the detector learns the class, not one drawing.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from simulators.scenes.sprites import Rng, Sprite, blank, crop, jitter, noise, pack

SKIN = [(0.62, 0.72, 0.88), (0.5, 0.62, 0.8), (0.35, 0.48, 0.66), (0.22, 0.32, 0.45), (0.15, 0.22, 0.32)]
HAIR = [(0.05, 0.06, 0.08), (0.1, 0.18, 0.3), (0.35, 0.6, 0.75), (0.6, 0.6, 0.62), (0.1, 0.1, 0.45)]
TOPS = [(0.1, 0.1, 0.8), (0.75, 0.35, 0.1), (0.9, 0.9, 0.9), (0.1, 0.1, 0.1), (0.2, 0.6, 0.2),
        (0.1, 0.75, 0.95), (0.55, 0.2, 0.55), (0.5, 0.5, 0.5), (0.1, 0.5, 0.95)]
TROUSERS = [(0.5, 0.3, 0.15), (0.08, 0.08, 0.1), (0.4, 0.4, 0.42), (0.45, 0.6, 0.65), (0.25, 0.2, 0.15)]
BARK = [(0.15, 0.25, 0.38), (0.3, 0.33, 0.38), (0.1, 0.13, 0.18), (0.2, 0.3, 0.4), (0.74, 0.78, 0.8)]
LEAVES = [(0.12, 0.45, 0.15), (0.2, 0.5, 0.3), (0.1, 0.3, 0.1), (0.15, 0.45, 0.4), (0.1, 0.5, 0.8),
          (0.12, 0.35, 0.6)]


def _pick(rng: Rng, palette: list[tuple[float, float, float]], amount: float = 0.06) -> tuple[float, float, float]:
    if rng.random() < 0.15:  # anything goes sometimes, so no single colour defines the class
        return (float(rng.random()), float(rng.random()), float(rng.random()))
    return jitter(rng, palette[rng.integers(len(palette))], amount)


def _pt(x: float, y: float) -> tuple[int, int]:
    return round(float(x)), round(float(y))


def _limb(col: np.ndarray, a: np.ndarray, p0: tuple[float, float], ang: float, length: float, thick: int,
          colour: tuple[float, float, float]) -> tuple[float, float]:
    p1 = (p0[0] + math.cos(ang) * length, p0[1] + math.sin(ang) * length)
    cv2.line(col, _pt(*p0), _pt(*p1), colour, thick)
    cv2.line(a, _pt(*p0), _pt(*p1), 1.0, thick)
    return p1


def person_down(rng: Rng, size: int) -> Sprite:
    """A person lying on the ground seen from above; ``size`` is head-to-feet length in pixels."""
    n = int(size * 1.3) + 4
    col, a = blank(n, n)
    L = float(size)
    ox, oy = (n - L) / 2, n / 2  # head end of the body axis (+x runs towards the feet)
    skin, hair = _pick(rng, SKIN, 0.05), _pick(rng, HAIR, 0.04)
    top, legs = _pick(rng, TOPS), _pick(rng, TROUSERS)
    shoe = jitter(rng, (0.08, 0.08, 0.1) if rng.random() < 0.7 else (0.85, 0.85, 0.85), 0.05)
    pose = rng.choice(["straight", "sprawled", "curled", "one_knee"])
    t_arm, t_leg = max(1, int(L * rng.uniform(0.055, 0.075))), max(1, int(L * rng.uniform(0.075, 0.1)))
    for side in (-1, 1):  # legs first: the torso and arms lie on top of them
        hip = (ox + 0.5 * L, oy + side * 0.075 * L)
        if pose == "curled" or (pose == "one_knee" and side == 1):
            bend_side = 1 if pose == "curled" else side  # both knees drawn up to the same side
            thigh = bend_side * math.radians(rng.uniform(40, 85))
            shin = thigh - bend_side * math.radians(rng.uniform(80, 130))
        else:
            spread = rng.uniform(15, 35) if pose == "sprawled" else rng.uniform(0, 8)
            thigh = side * math.radians(spread)
            shin = thigh + side * math.radians(rng.uniform(-5, 15))
        knee = _limb(col, a, hip, thigh, 0.25 * L, t_leg, legs)
        ankle = _limb(col, a, knee, shin, 0.23 * L, max(1, int(t_leg * 0.85)), legs)
        foot = (ankle[0] + math.cos(shin) * 0.03 * L, ankle[1] + math.sin(shin) * 0.03 * L)
        cv2.ellipse(col, _pt(*foot), (max(1, int(0.045 * L)), max(1, int(0.028 * L))), math.degrees(shin), 0, 360,
                    shoe, -1)
        cv2.ellipse(a, _pt(*foot), (max(1, int(0.045 * L)), max(1, int(0.028 * L))), math.degrees(shin), 0, 360,
                    1.0, -1)
    torso_w = max(2, int(L * rng.uniform(0.2, 0.26)))
    cv2.line(col, _pt(ox + 0.19 * L, oy), _pt(ox + 0.5 * L, oy), top, torso_w)
    cv2.line(a, _pt(ox + 0.19 * L, oy), _pt(ox + 0.5 * L, oy), 1.0, torso_w)
    fold = tuple(v * 0.75 for v in top)  # a crease or belt line gives the torso some structure
    cv2.line(col, _pt(ox + 0.47 * L, oy - torso_w / 2.4), _pt(ox + 0.47 * L, oy + torso_w / 2.4), fold,
             max(1, int(L * 0.02)))
    for side in (-1, 1):
        shoulder = (ox + 0.2 * L, oy + side * 0.1 * L)
        if pose == "sprawled":
            upper = side * math.radians(rng.uniform(60, 150))
        elif pose == "straight":
            upper = side * math.radians(rng.uniform(5, 40) if rng.random() < 0.7 else rng.uniform(140, 175))
        else:
            upper = side * math.radians(rng.uniform(10, 120))
        elbow = _limb(col, a, shoulder, upper, 0.16 * L, t_arm, top)
        hand = _limb(col, a, elbow, upper + math.radians(rng.uniform(-50, 50)), 0.14 * L, max(1, int(t_arm * 0.85)),
                     top if rng.random() < 0.5 else skin)  # short sleeves show the forearm
        cv2.circle(col, _pt(*hand), max(1, int(0.035 * L)), skin, -1)
        cv2.circle(a, _pt(*hand), max(1, int(0.035 * L)), 1.0, -1)
    head = (ox + 0.07 * L, oy + rng.uniform(-0.03, 0.03) * L)
    r = max(1, int(0.065 * L))
    cv2.circle(col, _pt(*head), r, skin, -1)
    cv2.circle(a, _pt(*head), r, 1.0, -1)
    turn = rng.uniform(0, 2 * math.pi)  # hair covers part of the head, which way depends on the face
    cv2.circle(col, _pt(head[0] + math.cos(turn) * r * 0.35, head[1] + math.sin(turn) * r * 0.35),
               max(1, int(r * 0.85)), hair, -1)
    col *= (0.85 + 0.3 * noise(rng, n, n, 5))[..., None]  # cloth folds and shading
    return crop(pack(col, a))


def _crown(col: np.ndarray, a: np.ndarray, rng: Rng, x0: float, x1: float, cy: float, spread: float,
           bare: bool) -> None:
    leaf = _pick(rng, LEAVES, 0.05)
    bark = tuple(v * 0.8 for v in _pick(rng, BARK, 0.04))
    for _ in range(rng.integers(6, 14)):  # branches fanning out from the trunk into the crown
        sx = rng.uniform(x0, (x0 + x1) / 2)
        ex, ey = rng.uniform(sx, x1), cy + rng.uniform(-1, 1) * spread / 2
        thick = max(1, int(spread * rng.uniform(0.015, 0.04)))
        cv2.line(col, _pt(sx, cy), _pt(ex, ey), bark, thick)
        cv2.line(a, _pt(sx, cy), _pt(ex, ey), 1.0, thick)
        if bare:  # twigs: forks at the branch tips
            for _k in range(2):
                tx, ty = ex + rng.uniform(0, 0.1) * (x1 - x0), ey + rng.uniform(-0.12, 0.12) * spread
                cv2.line(col, _pt(ex, ey), _pt(tx, ty), bark, max(1, thick // 2))
                cv2.line(a, _pt(ex, ey), _pt(tx, ty), 1.0, max(1, thick // 2))
    if bare:
        return
    for _ in range(rng.integers(18, 45)):  # foliage clumps, lit unevenly
        t = rng.uniform(0, 1)
        cx = x0 + t * (x1 - x0)
        half = spread / 2 * math.sqrt(max(0.05, 1 - (2 * t - 1) ** 2))
        cyy = cy + rng.uniform(-1, 1) * half
        r = max(1, int(spread * rng.uniform(0.07, 0.16)))
        c = tuple(float(np.clip(v * rng.uniform(0.7, 1.25), 0, 1)) for v in leaf)
        cv2.circle(col, _pt(cx, cyy), r, c, -1)
        cv2.circle(a, _pt(cx, cyy), r, 1.0, -1)


def fallen_tree(rng: Rng, size: int) -> Sprite:
    """A tree lying across the ground: root plate, tapered trunk, crown at the far end."""
    w = size
    spread = w * rng.uniform(0.28, 0.55)
    h = int(spread * 1.2) + 4
    col, a = blank(h, w)
    cy = h / 2
    bark = _pick(rng, BARK, 0.05)
    base_t = max(2.0, w * rng.uniform(0.045, 0.1))
    trunk_end = w * rng.uniform(0.4, 0.7)
    bend = rng.uniform(-0.08, 0.08) * spread
    root_x = w * 0.04
    steps = 8
    for k in range(steps):  # a slightly bent trunk that tapers towards the crown
        t0, t1 = k / steps, (k + 1) / steps
        p0 = (root_x + t0 * (trunk_end - root_x), cy + bend * math.sin(math.pi * t0))
        p1 = (root_x + t1 * (trunk_end - root_x), cy + bend * math.sin(math.pi * t1))
        th = max(1, int(base_t * (1 - 0.55 * t0)))
        cv2.line(col, _pt(*p0), _pt(*p1), bark, th)
        cv2.line(a, _pt(*p0), _pt(*p1), 1.0, th)
    grain = tuple(v * 0.6 for v in bark)
    for _ in range(rng.integers(2, 5)):  # bark furrows along the trunk
        off = rng.uniform(-0.3, 0.3) * base_t
        cv2.line(col, _pt(root_x + 0.1 * w, cy + off), _pt(trunk_end * rng.uniform(0.6, 0.95), cy + off * 0.6),
                 grain, 1)
    if rng.random() < 0.55:  # upturned root plate: a disc of soil and roots across the trunk's base
        soil = jitter(rng, (0.18, 0.28, 0.38), 0.05)
        ax = (max(1, int(w * rng.uniform(0.025, 0.05))), max(2, int(base_t * rng.uniform(1.5, 2.6))))
        cv2.ellipse(col, _pt(root_x + ax[0], cy), ax, 0, 0, 360, soil, -1)
        cv2.ellipse(a, _pt(root_x + ax[0], cy), ax, 0, 0, 360, 1.0, -1)
        for _ in range(rng.integers(4, 9)):
            ang = rng.uniform(0, 2 * math.pi)
            end = (root_x + ax[0] + math.cos(ang) * ax[0] * 1.3, cy + math.sin(ang) * ax[1] * 1.2)
            cv2.line(col, _pt(root_x + ax[0], cy), _pt(*end), tuple(v * 0.5 for v in soil), max(1, int(base_t / 5)))
    elif rng.random() < 0.5:  # snapped: a pale splintered end
        cv2.circle(col, _pt(root_x, cy), max(1, int(base_t / 2)), jitter(rng, (0.6, 0.75, 0.82), 0.05), -1)
    _crown(col, a, rng, trunk_end - 0.1 * w, w - 2, cy + bend * 0.3, spread, bare=rng.random() < 0.15)
    col *= (0.85 + 0.3 * noise(rng, h, w, 7))[..., None]
    return crop(pack(col, a))
