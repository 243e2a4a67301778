"""Training scenes seen the way the drones see them: a camera at a pose over planted objects.

``compose.render_scene`` scales every object at random, so a person lying down may be as large
as a fallen tree. Drone frames keep real sizes (a person ~1.8 m, a tree ~10 m), so a share of
the training mix is rendered with ``drone_view.render_frame`` at random altitudes, tilts and
headings; the detector then sees the classes at their true relative scale and context.
"""

from __future__ import annotations

import numpy as np

from devices.geography import offset
from simulators.scenes.compose import Scene
from simulators.scenes.drone_view import Planted, Pose, footprint, ground_homography, render_frame
from simulators.scenes.objects import REAL_SIZE_M, TARGETS, Rng

ORIGIN = (22.54, 114.05)  # any point works: the frame is rendered relative to the pose


def survey_scene(rng: Rng, size: int = 320, n_objects: tuple[int, int] = (1, 4)) -> Scene:
    """A square drone-camera image (6-18 m up, nadir to 25° off) with 1-4 planted objects.

    At 320 px that is 1.5-5 cm per pixel, the ground resolution of the 640 px drone frames
    at 12-36 m that the gateway sees, so objects come out at the sizes met in service.
    """
    pose = Pose(ORIGIN[0], ORIGIN[1], alt_m=float(rng.uniform(6, 18)), heading_deg=float(rng.uniform(0, 360)),
                pitch_deg=float(rng.uniform(-90, -65)), hfov_deg=float(rng.uniform(55, 80)))
    corners = footprint(ground_homography(pose, size, size), size, size)
    lo, hi = corners.min(0), corners.max(0)
    labels = list(TARGETS)
    planted: list[Planted] = []
    spots: list[tuple[float, float, float]] = []  # east, north, radius: keep objects apart
    for _ in range(int(rng.integers(n_objects[0], n_objects[1] + 1))):
        label = labels[rng.integers(len(labels))]
        radius = REAL_SIZE_M[label] / 2
        for _try in range(10):
            e, n = rng.uniform(lo[0], hi[0]), rng.uniform(lo[1], hi[1])
            if all(np.hypot(e - se, n - sn) > radius + sr for se, sn, sr in spots):
                break
        else:
            continue
        spots.append((e, n, radius))
        p = offset(pose.lat, pose.lon, e, n)
        planted.append(Planted(label, p.lat, p.lon))
    frame = render_frame(pose, planted, size, size, seed=int(rng.integers(2**31)),
                         distractors=int(rng.integers(4, 14)))
    return Scene(frame.image, list(frame.boxes))
