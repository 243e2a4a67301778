"""Zones: point-in-polygon, shipped district files, vehicle -> illegal_parking, place tags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citypack.cached import geography
from devices.geography import offset
from tests.helpers import demo_zones
from vision.errors import VisionError
from vision.zones import ZoneMap, parse_zones, point_in_ring

SQUARE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)]
HOLE = [(0.4, 0.4), (0.6, 0.4), (0.6, 0.6), (0.4, 0.6), (0.4, 0.4)]


def feature(kind: str, rings: list[list[tuple[float, float]]], **props: object) -> dict[str, object]:
    return {"type": "Feature", "properties": {"kind": kind, **props},
            "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in r] for r in rings]}}


def test_point_in_ring() -> None:
    assert point_in_ring(0.5, 0.5, SQUARE)
    assert not point_in_ring(1.5, 0.5, SQUARE)
    assert not point_in_ring(0.5, -0.01, SQUARE)
    concave = [(0, 0), (2, 0), (2, 2), (1, 1), (0, 2)]  # a notch from the top
    assert point_in_ring(0.5, 1.2, concave) and not point_in_ring(1.0, 1.5, concave)


def test_holes_and_classification(tmp_path: Path) -> None:
    doc = {"type": "FeatureCollection", "features": [
        feature("no_parking", [SQUARE, HOLE], name="square"),
        feature("place", [SQUARE], name="school", place_tags=["school"]),
    ]}
    (tmp_path / "d1.geojson").write_text(json.dumps(doc))
    zm = ZoneMap.load(tmp_path)
    # GeoJSON is (lon, lat): lat 0.2, lon 0.2 is inside, the hole's centre is not no-parking.
    assert zm.classify("d1", "vehicle", 0.2, 0.2) == ("illegal_parking", ["school"], "square")
    assert zm.classify("d1", "vehicle", 0.5, 0.5) == ("vehicle", ["school"], None)
    assert zm.classify("d1", "garbage", 0.2, 0.2) == ("garbage", ["school"], None)
    assert zm.classify("d1", "vehicle", 2.0, 2.0) == ("vehicle", [], None)
    assert zm.classify("elsewhere", "vehicle", 0.2, 0.2) == ("vehicle", [], None)


def test_bad_files_are_refused() -> None:
    with pytest.raises(VisionError):
        parse_zones({"type": "Feature"})
    with pytest.raises(VisionError, match="kind"):
        parse_zones({"type": "FeatureCollection", "features": [feature("parking", [SQUARE])]})
    bad = feature("place", [SQUARE])
    bad["geometry"] = {"type": "Point", "coordinates": [0, 0]}
    with pytest.raises(VisionError, match="Polygon"):
        parse_zones({"type": "FeatureCollection", "features": [bad]})


def test_shipped_zones_cover_every_simulated_district() -> None:
    zm = demo_zones()
    assert set(zm.by_district) == set(geography())
    for name, district in geography().items():
        for place in district.places:
            tags = zm.place_tags(name, place.lat, place.lon)
            assert set(place.tags) <= set(tags), (name, place.name)
        c = district.center
        assert zm.classify(name, "vehicle", c.lat, c.lon)[0] == "illegal_parking"  # central clearway
        off = offset(c.lat, c.lon, 0, 100)  # 100 m north of the clearway
        assert zm.classify(name, "vehicle", off.lat, off.lon)[0] == "vehicle"


def test_hospital_frontage_is_no_parking() -> None:
    zm = demo_zones()
    h = geography()["futian"].place("Shenzhen Children's Hospital")
    label, tags, zone = zm.classify("futian", "vehicle", h.lat, h.lon)
    assert label == "illegal_parking" and "hospital" in tags and zone and "Hospital" in zone
