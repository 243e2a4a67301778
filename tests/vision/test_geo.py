"""Flat-ground geo-referencing against hand-computed cases."""

from __future__ import annotations

import math

import pytest

from vision.geo import (
    CameraPose,
    focal_px,
    footprint_point,
    ground_to_pixel,
    metres_per_pixel,
    pixel_to_ground,
    position_error_m,
    to_local,
)

LAT, LON = 22.5431, 114.0579
W, H = 640, 480


def pose(alt: float = 100.0, heading: float = 0.0, pitch: float = -90.0, hfov: float = 90.0) -> CameraPose:
    return CameraPose(LAT, LON, alt, heading, pitch, hfov)


def test_nadir_centre_is_below_the_drone() -> None:
    g = pixel_to_ground(pose(), W / 2, H / 2, W, H)
    assert g is not None
    assert g.east_m == pytest.approx(0, abs=1e-6) and g.north_m == pytest.approx(0, abs=1e-6)
    assert (g.lat, g.lon) == pytest.approx((LAT, LON), abs=1e-9)


def test_nadir_right_edge_with_90_degree_fov_is_altitude_east() -> None:
    # hfov 90 deg: the right edge ray is 45 deg off vertical -> alt metres east (heading north).
    g = pixel_to_ground(pose(alt=100), W, H / 2, W, H)
    assert g is not None
    assert g.east_m == pytest.approx(100.0, abs=1e-6) and g.north_m == pytest.approx(0.0, abs=1e-6)


def test_nadir_image_top_points_along_heading() -> None:
    # Heading east: the top edge's centre is ahead, i.e. east; f = 320 px, 240 px up -> 100*240/320 m.
    g = pixel_to_ground(pose(alt=100, heading=90), W / 2, 0, W, H)
    assert g is not None
    assert g.east_m == pytest.approx(75.0, abs=1e-6) and g.north_m == pytest.approx(0.0, abs=1e-6)


def test_oblique_45_degrees_centre_is_altitude_ahead() -> None:
    g = pixel_to_ground(pose(alt=50, heading=180, pitch=-45), W / 2, H / 2, W, H)
    assert g is not None
    assert g.north_m == pytest.approx(-50.0, abs=1e-6) and g.east_m == pytest.approx(0.0, abs=1e-6)
    # Latitude drop of 50 m: 50 / 6371000 rad.
    assert g.lat == pytest.approx(LAT - math.degrees(50 / 6_371_000), abs=1e-9)


def test_oblique_pixel_below_centre_is_nearer() -> None:
    # Pitch -30, a pixel whose ray is 30 deg lower (v = H/2 + f*tan 30) looks 60 deg down: alt/tan 60 ahead.
    f = focal_px(W, 90)
    v = H / 2 + f * math.tan(math.radians(30))
    g = pixel_to_ground(pose(alt=30, pitch=-30), W / 2, v, W, H)
    assert g is not None
    assert g.north_m == pytest.approx(30 / math.tan(math.radians(60)), rel=1e-9)


def test_above_horizon_and_too_far_give_none() -> None:
    assert pixel_to_ground(pose(pitch=0), W / 2, 0, W, H) is None
    assert pixel_to_ground(pose(alt=100, pitch=-2), W / 2, H / 2, W, H) is None  # ~2.9 km away
    assert pixel_to_ground(pose(alt=0), W / 2, H / 2, W, H) is None


@pytest.mark.parametrize("heading,pitch", [(0, -90), (37, -60), (250, -45), (359, -80)])
def test_ground_to_pixel_inverts_pixel_to_ground(heading: float, pitch: float) -> None:
    p = pose(alt=80, heading=heading, pitch=pitch, hfov=70)
    for u, v in [(10, 20), (320, 240), (600, 450)]:
        g = pixel_to_ground(p, u, v, W, H)
        assert g is not None
        back = ground_to_pixel(p, g.lat, g.lon, W, H)
        assert back is not None
        assert back == pytest.approx((u, v), abs=1e-3)
        assert to_local(g.lat, g.lon, LAT, LON) == pytest.approx((g.east_m, g.north_m), abs=0.01)


def test_footprint_point_centre_when_down_bottom_when_level() -> None:
    box = (100.0, 100.0, 200.0, 300.0)
    assert footprint_point(pose(pitch=-90), box) == (150.0, 200.0)
    assert footprint_point(pose(pitch=0), box) == (150.0, 300.0)


def test_error_model_numbers() -> None:
    p = pose(alt=100, pitch=-90, hfov=90)
    assert metres_per_pixel(p, W) == pytest.approx(200 / 640)
    # Straight down at the centre, an altitude error moves nothing; at the edge (45 deg) 1:1.
    assert position_error_m(p, W / 2, H / 2, W, H, d_alt_m=10) == pytest.approx(0.0, abs=1e-6)
    assert position_error_m(p, W, H / 2, W, H, d_alt_m=10) == pytest.approx(10.0, abs=1e-6)
    # Pitch error of 1 deg at nadir: 100 * tan(1 deg).
    assert position_error_m(p, W / 2, H / 2, W, H, d_pitch_deg=1) == pytest.approx(100 * math.tan(math.radians(1)))
