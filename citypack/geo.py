"""The pack's three GeoJSON files, read and checked: districts, zones, named places and streets.

Coordinates are WGS 84 longitude, latitude (RFC 7946). Every problem found is collected with
the file, the feature and the field it is in, so one ``urbanops city check`` lists them all.
Geometry is shapely's; planar tests in degrees are exact enough inside one city.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon, shape
from shapely.validation import explain_validity

from citypack.errors import Problem
from devices.geography import PLACE_TAGS

DISTRICT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # SPEC §2: the {district} of a topic
ZONE_KINDS = ("no_parking", "place")
PLACE_KINDS = ("place", "street")
# Districts may touch; overlapping by more than this (deg², ~1,000 m²) is a drawing error.
OVERLAP_TOLERANCE = 1e-7


@dataclass(frozen=True)
class DistrictArea:
    id: str
    name_zh: str
    name_en: str
    outline: Polygon | MultiPolygon
    center: Point  # where the district's simulated street grid is centred
    depot: Point  # where cleaning robots dock
    drone_base: Point


@dataclass(frozen=True)
class ZoneArea:
    district: str
    kind: str
    name: str
    name_zh: str
    area: Polygon | MultiPolygon
    place_tags: tuple[str, ...]
    feature: dict[str, Any]  # as written, for the map layer and vision's zone rules


@dataclass(frozen=True)
class NamedPlace:
    kind: str  # "place" (a point) or "street" (a line)
    name_en: str
    name_zh: str
    geometry: Point | LineString | MultiLineString
    district: str
    tags: tuple[str, ...]

    def name(self, lang: str) -> str:
        return self.name_zh if lang.startswith("zh") else self.name_en


class _Reader:
    def __init__(self, root: Path, problems: list[Problem]) -> None:
        self.root, self.problems = root, problems

    def features(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        """(label, feature) pairs of a FeatureCollection; problems recorded, never raised."""
        path = self.root / name
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.problems.append(Problem(name, "file missing"))
            return []
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            self.problems.append(Problem(name, f"not readable JSON: {err}"))
            return []
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(
                doc.get("features"), list):
            self.problems.append(Problem(name, "must be a GeoJSON FeatureCollection with a 'features' list"))
            return []
        out = []
        for i, f in enumerate(doc["features"]):
            props = f.get("properties") if isinstance(f, dict) else None
            ident = props.get("id") or props.get("name_en") or props.get("name") if isinstance(props, dict) else None
            label = f"feature {i}" + (f" ({ident})" if ident else "")
            if not isinstance(f, dict) or not isinstance(props, dict):
                self.problems.append(Problem(name, "a Feature with a 'properties' object is expected", label))
                continue
            out.append((label, f))
        return out

    def geometry(self, file: str, label: str, f: dict[str, Any], kinds: tuple[type, ...]) -> Any:
        geom: Any
        try:
            geom = shape(f.get("geometry") or {})
        except (ValueError, TypeError, AttributeError, KeyError, shapely.errors.GEOSException) as err:
            self.problems.append(Problem(file, f"unreadable geometry: {err}", label, "geometry"))
            return None
        if not isinstance(geom, kinds):
            want = " or ".join(k.__name__ for k in kinds)
            self.problems.append(Problem(file, f"geometry must be {want}, not {geom.geom_type}", label, "geometry"))
            return None
        if bool(shapely.is_empty(geom)) or not bool(shapely.is_valid(geom)):
            self.problems.append(Problem(file, f"invalid geometry: {explain_validity(geom)}", label, "geometry"))
            return None
        lon_lat_ok = all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in _coords(geom))
        if not lon_lat_ok:
            self.problems.append(Problem(file, "coordinates must be [longitude, latitude] in degrees",
                                         label, "geometry"))
            return None
        return geom

    def text(self, file: str, label: str, props: dict[str, Any], key: str) -> str:
        v = props.get(key)
        if not isinstance(v, str) or not v.strip():
            self.problems.append(Problem(file, "a non-empty string is required", label, f"properties.{key}"))
            return ""
        return v

    def choice(self, file: str, label: str, props: dict[str, Any], key: str, allowed: tuple[str, ...]) -> bool:
        if props.get(key) in allowed:
            return True
        self.problems.append(Problem(file, f"must be one of {', '.join(allowed)}", label, f"properties.{key}"))
        return False

    def point(self, file: str, label: str, props: dict[str, Any], key: str) -> Point | None:
        v = props.get(key)
        if (isinstance(v, list) and len(v) == 2 and all(isinstance(c, int | float) for c in v)
                and -180 <= v[0] <= 180 and -90 <= v[1] <= 90):
            return Point(float(v[0]), float(v[1]))
        self.problems.append(Problem(file, "expected [longitude, latitude]", label, f"properties.{key}"))
        return None

    def tags(self, file: str, label: str, props: dict[str, Any], key: str) -> tuple[str, ...]:
        v = props.get(key, [])
        if not isinstance(v, list) or not all(isinstance(t, str) for t in v):
            self.problems.append(Problem(file, "a list of place tags is expected", label, f"properties.{key}"))
            return ()
        unknown = sorted(set(v) - PLACE_TAGS)
        if unknown:
            self.problems.append(Problem(file, f"unknown place tag(s) {', '.join(unknown)} "
                                               f"(known: {', '.join(sorted(PLACE_TAGS))})", label, f"properties.{key}"))
        return tuple(t for t in v if t in PLACE_TAGS)


def _coords(geom: Any) -> list[tuple[float, float]]:
    return [(float(c[0]), float(c[1])) for c in shapely.get_coordinates(geom)]


def read_districts(root: Path, problems: list[Problem]) -> dict[str, DistrictArea]:
    r, file = _Reader(root, problems), "districts.geojson"
    out: dict[str, DistrictArea] = {}
    for label, f in r.features(file):
        props = f["properties"]
        ident = props.get("id")
        if not isinstance(ident, str) or not DISTRICT_ID.match(ident):
            problems.append(Problem(file, "must match [a-z0-9][a-z0-9_-]{0,63} (it is the {district} of topics)",
                                    label, "properties.id"))
            continue
        if ident in out:
            problems.append(Problem(file, f"district {ident!r} appears twice", label, "properties.id"))
            continue
        geom = r.geometry(file, label, f, (Polygon, MultiPolygon))
        names = r.text(file, label, props, "name_zh"), r.text(file, label, props, "name_en")
        points = {k: r.point(file, label, props, k) for k in ("center", "depot", "drone_base")}
        if geom is None or not all(names) or any(p is None for p in points.values()):
            continue
        for k, p in points.items():
            if p is not None and not geom.covers(p):
                problems.append(Problem(file, "lies outside the district's outline", label, f"properties.{k}"))
        out[ident] = DistrictArea(ident, names[0], names[1], geom, points["center"],  # type: ignore[arg-type]
                                  points["depot"], points["drone_base"])  # type: ignore[arg-type]
    if not out and not any(p.file == file for p in problems):
        problems.append(Problem(file, "a city needs at least one district"))
    areas = list(out.values())
    for i, a in enumerate(areas):
        for b in areas[i + 1:]:
            if a.outline.intersection(b.outline).area > OVERLAP_TOLERANCE:
                problems.append(Problem(file, f"districts {a.id} and {b.id} overlap", f"district {b.id}", "geometry"))
    return out


def district_of(districts: dict[str, DistrictArea], geom: Any) -> str | None:
    """The district that covers a point, or for a line or area, the one holding most of it."""
    point = geom if isinstance(geom, Point) else geom.representative_point()
    for d in districts.values():
        if d.outline.covers(point):
            return d.id
    return None


def read_zones(root: Path, districts: dict[str, DistrictArea], problems: list[Problem]) -> list[ZoneArea]:
    r, file = _Reader(root, problems), "zones.geojson"
    out = []
    for label, f in r.features(file):
        props = f["properties"]
        district, kind = props.get("district"), props.get("kind")
        if district not in districts:
            problems.append(Problem(file, f"unknown district {district!r} (known: {', '.join(districts)})",
                                    label, "properties.district"))
        known_kind = r.choice(file, label, props, "kind", ZONE_KINDS)
        geom = r.geometry(file, label, f, (Polygon, MultiPolygon))
        name, name_zh = r.text(file, label, props, "name"), r.text(file, label, props, "name_zh")
        tags = r.tags(file, label, props, "place_tags")
        if kind == "place" and not tags:
            problems.append(Problem(file, "a place zone needs at least one place tag", label, "properties.place_tags"))
        if geom is None or district not in districts or not known_kind or not name or not name_zh:
            continue
        if not districts[district].outline.covers(geom.representative_point()):
            problems.append(Problem(file, f"lies outside district {district}", label, "geometry"))
        out.append(ZoneArea(district, kind, name, name_zh, geom, tags, f))
    return out


def read_places(root: Path, districts: dict[str, DistrictArea], problems: list[Problem]) -> list[NamedPlace]:
    r, file = _Reader(root, problems), "places.geojson"
    out = []
    for label, f in r.features(file):
        props = f["properties"]
        kind = props.get("kind")
        if not r.choice(file, label, props, "kind", PLACE_KINDS):
            continue
        kinds: tuple[type, ...] = (Point,) if kind == "place" else (LineString, MultiLineString)
        geom = r.geometry(file, label, f, kinds)
        names = r.text(file, label, props, "name_zh"), r.text(file, label, props, "name_en")
        tags = r.tags(file, label, props, "tags")
        if geom is None or not all(names):
            continue
        district = district_of(districts, geom)
        if district is None:
            problems.append(Problem(file, "lies in no district", label, "geometry"))
            continue
        out.append(NamedPlace(kind, names[1], names[0], geom, district, tags))
    return out
