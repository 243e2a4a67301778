"""A small drone flight over planted incidents (and a clean control flight) for vision tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from citypack.cached import geography
from devices.geography import LatLon, offset
from devices.payloads import FrameMeta
from simulators.scenes.drone_view import Planted, Pose, render_frame

CENTRE = geography()["futian"].center  # inside the central clearway (no parking)
# An inspection pass: 20 m above ground, camera down (the committed weights are trained on objects
# of ~20-130 px, i.e. a person lying down of 1.8 m needs a ground resolution of ~5 cm/px).
ALT_M, HFOV, PITCH = 20.0, 70.0, -90.0
# label, metres east, metres north of the centre; the vehicle stands in the no-parking clearway.
PLANTED = [("vehicle", 0.0, 0.0), ("garbage", 6.0, 15.0), ("fire", -6.0, 30.0), ("person_down", 5.0, 45.0),
           ("crowd", -3.0, 62.0)]
EXPECTED = {"vehicle": "illegal_parking"}


@dataclass(frozen=True)
class Shot:
    meta: FrameMeta
    jpeg: bytes


def planted() -> list[Planted]:
    out = []
    for label, east, north in PLANTED:
        p = offset(CENTRE.lat, CENTRE.lon, east, north)
        out.append(Planted(label, p.lat, p.lon))
    return out


def flight(start: LatLon, objects: list[Planted], frames: int, step_m: float, prefix: str,
           heading: float = 0.0, seed: int = 100) -> list[Shot]:
    """Frames every ``step_m`` metres northwards from ``start``, camera straight down."""
    t0 = datetime.now(UTC).replace(microsecond=0)
    shots = []
    for i in range(frames):
        pos = offset(start.lat, start.lon, 0.0, -10.0 + step_m * i)
        pose = Pose(pos.lat, pos.lon, ALT_M, heading, PITCH, HFOV)
        jpeg = render_frame(pose, objects, 640, 480, seed=seed + i).jpeg(88)
        meta = FrameMeta(ts=t0 + timedelta(seconds=i), msg_id=f"{prefix}-{i}", lat=pos.lat, lon=pos.lon,
                         alt_m=ALT_M, heading_deg=heading, pitch_deg=PITCH, hfov_deg=HFOV)
        shots.append(Shot(meta, jpeg))
    return shots


def incident_flight() -> list[Shot]:
    return flight(CENTRE, planted(), frames=14, step_m=6.0, prefix="inc", heading=0.0)


def control_flight() -> list[Shot]:
    # Same district, 600 m west, nothing planted: only ground, roofs, trees, manholes, pedestrians.
    start = offset(CENTRE.lat, CENTRE.lon, -600.0, 200.0)
    return flight(start, [], frames=8, step_m=6.0, prefix="ctl", heading=90.0, seed=900)
