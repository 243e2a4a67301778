"""A drone's camera: a JPEG of what is planted below it, with its SPEC §2 metadata.

The image comes from ``simulators.scenes.drone_view.render_frame`` (the renderer the detector is
trained and tested on), looking straight down. The committed weights handle 4-7 cm per pixel best
(vision/weights/README.md): an inspection descends to ``INSPECT_ALT_M``, where hfov 70° at 640 px
is ~4.4 cm/px; a patrol stays at its cruise altitude (90-120 m) and zooms in instead
(``patrol_hfov``: ``PATROL_GSD_M`` per pixel at any altitude). Either way the metadata states the
true pose, so the gateway geo-references the frame right. The renderer (OpenCV, NumPy) is imported
on the first frame only, so a fleet that never takes one never loads it.
"""

from __future__ import annotations

import math
from datetime import datetime

from devices.geography import LatLon
from devices.payloads import FrameMeta
from simulators.obey import Sighting

INSPECT_ALT_M = 20.0
HFOV_DEG = 70.0
PITCH_DEG = -90.0  # straight down
WIDTH, HEIGHT = 640, 480
JPEG_QUALITY = 85
# A patrol frame's ground resolution: the middle of the detector's 4-7 cm/px. The footprint is then
# 32 x 24 m, the 24 m along the flight direction (image rows follow the heading).
PATROL_GSD_M = 0.05
# What the camera sees of a label: a car parked where it may not is, to a camera, just a car (the
# gateway calls it illegal_parking from the city pack's no-parking zones, cities/*/zones.geojson).
DRAWN_AS = {"illegal_parking": "vehicle"}
FRAME_RADIUS_M = 60.0  # planted things this close may be in the picture (footprints are <= 32 x 24 m)


def patrol_hfov(alt_m: float) -> float:
    """The horizontal field of view (degrees) that gives ``PATROL_GSD_M`` per pixel from ``alt_m``."""
    return round(math.degrees(2 * math.atan(PATROL_GSD_M * WIDTH / (2 * max(alt_m, 1.0)))), 2)


def frame_meta(ts: datetime, msg_id: str, at: LatLon, alt_m: float, heading_deg: float,
               hfov_deg: float) -> FrameMeta:
    """SPEC §2 metadata of a straight-down frame, rounded as it travels (the renderer uses it too,
    so image and metadata agree to the digit)."""
    return FrameMeta(ts=ts, msg_id=msg_id, lat=round(at.lat, 7), lon=round(at.lon, 7), alt_m=round(alt_m, 1),
                     heading_deg=round(heading_deg, 1) % 360.0, pitch_deg=PITCH_DEG, hfov_deg=hfov_deg)


def capture(meta: FrameMeta, seen: list[Sighting], seed: int) -> bytes:
    """The JPEG a camera at ``meta``'s pose takes of ``seen`` (label, lat, lon) on the ground."""
    from simulators.scenes.drone_view import Planted, Pose, render_frame
    from simulators.scenes.objects import TARGETS

    pose = Pose(meta.lat, meta.lon, meta.alt_m, meta.heading_deg, meta.pitch_deg, meta.hfov_deg)
    drawn = [(DRAWN_AS.get(label, label), lat, lon) for label, lat, lon in seen]
    planted = [Planted(label, lat, lon) for label, lat, lon in drawn if label in TARGETS]  # others: no sprite
    return render_frame(pose, planted, WIDTH, HEIGHT, seed=seed).jpeg(JPEG_QUALITY)
