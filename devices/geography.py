"""Geography shared by everyone: districts, named places, a street grid, distances.

A city's districts come from its city pack (``citypack``: ``cities/<city>/districts.geojson``
and ``places.geojson``), not from code; this module holds the types and the arithmetic. The
districts are the ``{district}`` of every topic, and the place tags the closed set triage
understands, so this is shared vocabulary: simulators place devices with it, vision and
dispatch render incidents and route responders on it. Keep it free of simulator state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

EARTH_RADIUS_M = 6_371_000.0
# Place tags are the closed set triage understands (SPEC §4 location.place_tags).
PLACE_TAGS = frozenset(
    {"school", "hospital", "residential", "market", "road", "park", "river", "industrial",
     "metro", "elderly_home", "highway"}
)


class GeographyError(ValueError):
    """An unknown district or place, or a point outside a district."""


@dataclass(frozen=True, slots=True)
class LatLon:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    lat: float
    lon: float
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BBox:
    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east


def distance_m(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    """Haversine distance in metres."""
    p1, p2 = math.radians(a_lat), math.radians(b_lat)
    dp, dl = p2 - p1, math.radians(b_lon - a_lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def offset(lat: float, lon: float, east_m: float, north_m: float) -> LatLon:
    """The point ``east_m``/``north_m`` metres away (equirectangular; fine at city scale)."""
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return LatLon(lat + dlat, lon + dlon)


def local_xy(lat: float, lon: float, origin_lat: float, origin_lon: float) -> tuple[float, float]:
    """Metres east and north of ``origin``."""
    x = math.radians(lon - origin_lon) * EARTH_RADIUS_M * math.cos(math.radians(origin_lat))
    y = math.radians(lat - origin_lat) * EARTH_RADIUS_M
    return x, y


def bearing_deg(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    """Compass heading from a to b in [0, 360)."""
    x, y = local_xy(b_lat, b_lon, a_lat, a_lon)
    return math.degrees(math.atan2(x, y)) % 360.0


@dataclass(frozen=True)
class StreetGrid:
    """Axis-aligned streets every ``spacing_m`` around ``origin``; nodes are (i, j) indices."""

    origin: LatLon
    spacing_m: float
    half_cells: int
    bbox: BBox

    @cached_property
    def nodes(self) -> tuple[tuple[int, int], ...]:
        n = self.half_cells
        return tuple(
            (i, j)
            for i in range(-n, n + 1)
            for j in range(-n, n + 1)
            if self.bbox.contains(*self._latlon(i, j))
        )

    @cached_property
    def _node_set(self) -> frozenset[tuple[int, int]]:
        return frozenset(self.nodes)

    def _latlon(self, i: int, j: int) -> tuple[float, float]:
        p = offset(self.origin.lat, self.origin.lon, i * self.spacing_m, j * self.spacing_m)
        return p.lat, p.lon

    def position(self, node: tuple[int, int]) -> LatLon:
        return LatLon(*self._latlon(*node))

    def neighbours(self, node: tuple[int, int]) -> list[tuple[int, int]]:
        i, j = node
        cand = [(i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)]
        return [c for c in cand if c in self._node_set]

    def step_towards(self, node: tuple[int, int], goal: tuple[int, int]) -> tuple[int, int]:
        """Next node on a Manhattan route (east-west first, then north-south)."""
        i, j = node
        if i != goal[0]:
            nxt = (i + (1 if goal[0] > i else -1), j)
        elif j != goal[1]:
            nxt = (i, j + (1 if goal[1] > j else -1))
        else:
            return node
        # The grid is convex within a box, so a Manhattan step stays on the grid.
        return nxt if nxt in self._node_set else goal

    def nearest_node(self, lat: float, lon: float) -> tuple[int, int]:
        x, y = local_xy(lat, lon, self.origin.lat, self.origin.lon)
        guess = (round(x / self.spacing_m), round(y / self.spacing_m))
        if guess in self._node_set:
            return guess
        return min(self.nodes, key=lambda n: (n[0] * self.spacing_m - x) ** 2
                   + (n[1] * self.spacing_m - y) ** 2)


@dataclass(frozen=True)
class District:
    name: str
    name_zh: str
    center: LatLon
    bbox: BBox
    depot: LatLon  # where cleaning robots dock, charge and empty their bins
    drone_base: LatLon
    places: tuple[Place, ...] = field(default_factory=tuple)

    @cached_property
    def grid(self) -> StreetGrid:
        return StreetGrid(self.center, spacing_m=250.0, half_cells=6, bbox=self.bbox)

    def place(self, name: str) -> Place:
        for p in self.places:
            if p.name.lower() == name.lower():
                return p
        known = ", ".join(p.name for p in self.places)
        raise GeographyError(f"no place {name!r} in {self.name} (known: {known})")

    def contains(self, lat: float, lon: float) -> bool:
        return self.bbox.contains(lat, lon)
