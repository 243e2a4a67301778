"""GeoJSON zones per district: no-parking areas and sensitive places (schools, hospitals, ...).

Zones are Polygon/MultiPolygon features with properties ``kind`` (``no_parking`` or
``place``), ``name`` and, for places, ``place_tags`` (SPEC §4 words). They come from the city
pack's ``zones.geojson`` (the gateway passes them in: ``ZoneMap.from_features``) or from a
folder of ``<district>.geojson`` files (``ZoneMap.load``). A ``vehicle`` inside a no-parking
zone becomes ``illegal_parking``; every observation gets the tags of the places it lies in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vision.errors import VisionError

NO_PARKING = "no_parking"
PLACE = "place"
Ring = list[tuple[float, float]]  # (lon, lat) as in GeoJSON


def point_in_ring(lon: float, lat: float, ring: Sequence[tuple[float, float]]) -> bool:
    """Even-odd ray casting; planar in degrees, which is exact enough inside a city."""
    inside = False
    n = len(ring)
    j = n - 1
    for i in range(n):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


@dataclass(frozen=True)
class Polygon:
    outer: Ring
    holes: tuple[Ring, ...] = ()

    def contains(self, lat: float, lon: float) -> bool:
        return point_in_ring(lon, lat, self.outer) and not any(point_in_ring(lon, lat, h) for h in self.holes)


@dataclass(frozen=True)
class Zone:
    kind: str
    name: str
    polygons: tuple[Polygon, ...]
    place_tags: tuple[str, ...] = ()

    def contains(self, lat: float, lon: float) -> bool:
        return any(p.contains(lat, lon) for p in self.polygons)


def _ring(coords: Any) -> Ring:
    return [(float(c[0]), float(c[1])) for c in coords]


def _polygons(geometry: dict[str, Any]) -> tuple[Polygon, ...]:
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    if kind == "Polygon":
        return (Polygon(_ring(coords[0]), tuple(_ring(h) for h in coords[1:])),)
    if kind == "MultiPolygon":
        return tuple(Polygon(_ring(p[0]), tuple(_ring(h) for h in p[1:])) for p in coords)
    raise VisionError(f"zone geometry must be Polygon or MultiPolygon, not {kind!r}")


def parse_zones(doc: dict[str, Any]) -> list[Zone]:
    if doc.get("type") != "FeatureCollection":
        raise VisionError("zones file must be a GeoJSON FeatureCollection")
    zones = []
    for i, feat in enumerate(doc.get("features", [])):
        props = feat.get("properties") or {}
        kind = props.get("kind")
        if kind not in (NO_PARKING, PLACE):
            raise VisionError(f"feature {i}: kind must be {NO_PARKING!r} or {PLACE!r}, not {kind!r}")
        try:
            polys = _polygons(feat["geometry"])
        except (KeyError, IndexError, TypeError, ValueError) as err:
            raise VisionError(f"feature {i}: bad geometry ({err})") from err
        zones.append(Zone(kind, str(props.get("name", f"zone-{i}")), polys, tuple(props.get("place_tags", ()))))
    return zones


@dataclass
class ZoneMap:
    """Zones by district; an unknown district simply has none."""

    by_district: dict[str, list[Zone]] = field(default_factory=dict)

    @classmethod
    def from_features(cls, by_district: dict[str, list[dict[str, Any]]]) -> ZoneMap:
        """Zones from GeoJSON features per district (a city pack's, already checked)."""
        return cls({d: parse_zones({"type": "FeatureCollection", "features": feats})
                    for d, feats in by_district.items()})

    @classmethod
    def load(cls, folder: Path) -> ZoneMap:
        zm = cls()
        for path in sorted(folder.glob("*.geojson")):
            try:
                zm.by_district[path.stem] = parse_zones(json.loads(path.read_text()))
            except (OSError, json.JSONDecodeError, VisionError) as err:
                raise VisionError(f"{path}: {err}") from err
        return zm

    def zones_at(self, district: str, lat: float, lon: float) -> Iterable[Zone]:
        return (z for z in self.by_district.get(district, ()) if z.contains(lat, lon))

    def place_tags(self, district: str, lat: float, lon: float) -> list[str]:
        tags: set[str] = set()
        for z in self.zones_at(district, lat, lon):
            tags.update(z.place_tags)
        return sorted(tags)

    def no_parking(self, district: str, lat: float, lon: float) -> Zone | None:
        return next((z for z in self.zones_at(district, lat, lon) if z.kind == NO_PARKING), None)

    def classify(self, district: str, label: str, lat: float, lon: float) -> tuple[str, list[str], str | None]:
        """(label after zone rules, place tags, name of the no-parking zone that applied)."""
        tags = self.place_tags(district, lat, lon)
        if label == "vehicle":
            zone = self.no_parking(district, lat, lon)
            if zone is not None:
                return "illegal_parking", tags, zone.name
        return label, tags, None
