"""A verification drone's camera: a JPEG of what is planted below it, with its SPEC §2 metadata.

The image comes from ``simulators.scenes.drone_view.render_frame`` (the renderer the detector is
trained and tested on), looking straight down from ``INSPECT_ALT_M``: at hfov 70° and 640 px
that is ~4.4 cm per pixel, inside the 4-7 cm/px the committed weights handle best
(vision/weights/README.md). The renderer (OpenCV, NumPy) is imported on the first frame only, so a
fleet that never inspects never loads it.
"""

from __future__ import annotations

from devices.payloads import FrameMeta
from simulators.obey import Sighting

INSPECT_ALT_M = 20.0
HFOV_DEG = 70.0
PITCH_DEG = -90.0  # straight down
WIDTH, HEIGHT = 640, 480
JPEG_QUALITY = 85
FRAME_RADIUS_M = 60.0  # planted things this close may be in the picture (the footprint is ~28 x 21 m)


def capture(meta: FrameMeta, seen: list[Sighting], seed: int) -> bytes:
    """The JPEG a camera at ``meta``'s pose takes of ``seen`` (label, lat, lon) on the ground."""
    from simulators.scenes.drone_view import Planted, Pose, render_frame
    from simulators.scenes.objects import TARGETS

    pose = Pose(meta.lat, meta.lon, meta.alt_m, meta.heading_deg, meta.pitch_deg, meta.hfov_deg)
    # Labels the renderer has no sprite for (illegal_parking is a vehicle plus a zone) are not drawn.
    planted = [Planted(label, lat, lon) for label, lat, lon in seen if label in TARGETS]
    return render_frame(pose, planted, WIDTH, HEIGHT, seed=seed).jpeg(JPEG_QUALITY)
