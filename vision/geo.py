"""Pixel -> ground position for a drone camera, flat-ground pinhole model.

Conventions (SPEC §2 frame user properties): ``alt_m`` is height above the ground the
objects stand on, ``heading_deg`` the compass direction the camera looks (0 = north,
clockwise), ``pitch_deg`` the camera's elevation (-90 = straight down, 0 = horizon),
``hfov_deg`` the horizontal field of view; square pixels, principal point at the centre,
no roll, no lens distortion. With the camera straight down, the image top points along the
heading. The error of this model is discussed in docs/vision.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_000.0
MAX_RANGE_M = 2_000.0  # rays that meet the ground farther away than this are too uncertain to use
Vec = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class CameraPose:
    lat: float
    lon: float
    alt_m: float
    heading_deg: float
    pitch_deg: float
    hfov_deg: float


@dataclass(frozen=True, slots=True)
class GroundPoint:
    lat: float
    lon: float
    east_m: float  # offset from the point under the camera
    north_m: float
    range_m: float  # horizontal distance from the point under the camera


def _axes(pose: CameraPose) -> tuple[Vec, Vec, Vec]:
    """Forward, right and up unit vectors of the camera in east-north-up coordinates."""
    h, p = math.radians(pose.heading_deg), math.radians(pose.pitch_deg)
    fwd = (math.sin(h) * math.cos(p), math.cos(h) * math.cos(p), math.sin(p))
    right = (math.cos(h), -math.sin(h), 0.0)
    up = (right[1] * fwd[2] - right[2] * fwd[1], right[2] * fwd[0] - right[0] * fwd[2],
          right[0] * fwd[1] - right[1] * fwd[0])
    return fwd, right, up


def focal_px(width: int, hfov_deg: float) -> float:
    return (width / 2) / math.tan(math.radians(hfov_deg) / 2)


def to_latlon(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    """Equirectangular offset: well under a metre of error within a few km."""
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lat + dlat, lon + dlon


def to_local(lat: float, lon: float, origin_lat: float, origin_lon: float) -> tuple[float, float]:
    """Metres east and north of the origin."""
    east = math.radians(lon - origin_lon) * EARTH_RADIUS_M * math.cos(math.radians(origin_lat))
    north = math.radians(lat - origin_lat) * EARTH_RADIUS_M
    return east, north


def pixel_to_ground(pose: CameraPose, u: float, v: float, width: int, height: int,
                    max_range_m: float = MAX_RANGE_M) -> GroundPoint | None:
    """Where the ray through pixel (u, v) meets flat ground; None above the horizon or too far."""
    if pose.alt_m <= 0:
        return None
    f = focal_px(width, pose.hfov_deg)
    a, b = (u - width / 2) / f, (height / 2 - v) / f
    fwd, right, up = _axes(pose)
    ray = tuple(fwd[i] + a * right[i] + b * up[i] for i in range(3))
    if ray[2] >= -1e-9:
        return None
    t = pose.alt_m / -ray[2]
    east, north = t * ray[0], t * ray[1]
    rng = math.hypot(east, north)
    if rng > max_range_m:
        return None
    lat, lon = to_latlon(pose.lat, pose.lon, east, north)
    return GroundPoint(lat, lon, east, north, rng)


def ground_to_pixel(pose: CameraPose, lat: float, lon: float, width: int, height: int) -> tuple[float, float] | None:
    """Inverse of ``pixel_to_ground``: the pixel that sees a ground point (None if behind the camera)."""
    east, north = to_local(lat, lon, pose.lat, pose.lon)
    d = (east, north, -pose.alt_m)
    fwd, right, up = _axes(pose)
    z = sum(d[i] * fwd[i] for i in range(3))
    if z <= 1e-9:
        return None
    f = focal_px(width, pose.hfov_deg)
    x = sum(d[i] * right[i] for i in range(3))
    y = sum(d[i] * up[i] for i in range(3))
    return width / 2 + f * x / z, height / 2 - f * y / z


def footprint_point(pose: CameraPose, box: tuple[float, float, float, float]) -> tuple[float, float]:
    """The pixel of a box that touches the ground: the centre when looking down, sliding to the
    bottom edge as the camera tilts towards the horizon (an upright object stands on its base)."""
    x1, y1, x2, y2 = box
    cy = (y1 + y2) / 2
    down = abs(math.sin(math.radians(pose.pitch_deg)))
    return (x1 + x2) / 2, cy + (y2 - cy) * (1.0 - down)


def metres_per_pixel(pose: CameraPose, width: int) -> float:
    """Ground sampling distance at the image centre for a straight-down view."""
    return 2 * pose.alt_m * math.tan(math.radians(pose.hfov_deg) / 2) / width


def position_error_m(pose: CameraPose, u: float, v: float, width: int, height: int, d_alt_m: float = 0.0,
                     d_pitch_deg: float = 0.0, d_heading_deg: float = 0.0, object_height_m: float = 0.0) -> float:
    """How far the flat-ground answer moves when the pose is off by the given amounts, or when the
    object stands ``object_height_m`` above the ground (a rooftop fire): used to document the error."""
    base = pixel_to_ground(pose, u, v, width, height)
    moved = CameraPose(pose.lat, pose.lon, pose.alt_m + d_alt_m - object_height_m,
                       (pose.heading_deg + d_heading_deg) % 360, pose.pitch_deg + d_pitch_deg, pose.hfov_deg)
    other = pixel_to_ground(moved, u, v, width, height)
    if base is None or other is None:
        return math.inf
    return math.hypot(base.east_m - other.east_m, base.north_m - other.north_m)
