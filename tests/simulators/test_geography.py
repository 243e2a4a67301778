from __future__ import annotations

import pytest

from citypack.cached import district as get_district
from citypack.cached import geography
from devices.geography import PLACE_TAGS, GeographyError, bearing_deg, distance_m, local_xy, offset


def test_districts_are_consistent() -> None:
    assert {"futian", "nanshan", "luohu"} <= set(geography())
    for d in geography().values():
        for p in (d.center, d.depot, d.drone_base):
            assert d.contains(p.lat, p.lon), (d.name, p)
        for place in d.places:
            assert d.contains(place.lat, place.lon), (d.name, place.name)
            assert set(place.tags) <= PLACE_TAGS
        others = [o for o in geography().values() if o is not d]
        assert not any(o.contains(d.center.lat, d.center.lon) for o in others)


def test_distances_and_offsets() -> None:
    assert distance_m(22.0, 114.0, 23.0, 114.0) == pytest.approx(111_195, rel=1e-3)
    p = offset(22.5, 114.0, 300.0, -400.0)
    assert distance_m(22.5, 114.0, p.lat, p.lon) == pytest.approx(500.0, rel=1e-3)
    x, y = local_xy(p.lat, p.lon, 22.5, 114.0)
    assert (x, y) == (pytest.approx(300.0, abs=0.5), pytest.approx(-400.0, abs=0.5))
    assert bearing_deg(22.5, 114.0, 22.6, 114.0) == pytest.approx(0.0, abs=0.01)
    assert bearing_deg(22.5, 114.0, 22.5, 114.1) == pytest.approx(90.0, abs=0.1)


def test_street_grid_routes_to_any_node() -> None:
    grid = get_district("luohu").grid  # its box cuts the grid: routes must stay on it
    assert len(grid.nodes) > 50
    for node in grid.nodes:
        assert grid.bbox.contains(*(lambda p: (p.lat, p.lon))(grid.position(node)))
        assert grid.neighbours(node), node
    goal = grid.nearest_node(22.5450, 114.1260)
    for start in grid.nodes[::7]:
        node, steps = start, 0
        while node != goal:
            nxt = grid.step_towards(node, goal)
            assert nxt in grid.neighbours(node)
            node, steps = nxt, steps + 1
        assert steps == abs(start[0] - goal[0]) + abs(start[1] - goal[1])


def test_unknown_names_are_clear_errors() -> None:
    with pytest.raises(GeographyError, match=r"unknown district 'gotham'.*futian"):
        get_district("gotham")
    with pytest.raises(GeographyError, match="no place 'Nowhere' in futian"):
        get_district("futian").place("Nowhere")
    assert get_district("futian").place("lianhuashan park").tags == ("park",)
