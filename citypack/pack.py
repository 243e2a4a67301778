"""A city pack, loaded and checked as a whole, and the questions the platform asks of it.

``load_pack`` reads every file, collects every problem and raises one ``PackError`` listing
them, so a pack is either entirely usable or not loaded at all (a reload that fails keeps
the previous pack). The pack is immutable data; whoever holds it passes it on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from shapely.geometry import Point
from shapely.ops import nearest_points

from citypack.config import CityConfig
from citypack.errors import PackError, Problem
from citypack.geo import DistrictArea, NamedPlace, ZoneArea, district_of, read_districts, read_places, read_zones
from citypack.knowledge import PlanIndex, Words, read_words
from citypack.plans import Plan, read_plans
from devices.geography import BBox, District, LatLon, Place, distance_m

SHIPPED = Path(__file__).resolve().parents[1] / "cities"
DEMO_PACK = SHIPPED / "shenzhen-demo"
# A report farther than this from every named place or street gets the district only.
NEAR_M = 1_500.0


@dataclass(frozen=True)
class Address:
    """Where something is, as people there would say it."""

    district: str | None
    district_name: str | None
    place: str | None
    place_m: float | None
    street: str | None
    street_m: float | None

    def text(self, lang: str) -> str | None:
        """``"福田区 莲花山公园附近（深南大道）"`` / ``"Lianhuashan Park (Shennan Boulevard), Futian"``."""
        if self.district_name is None:
            return None
        zh = lang.startswith("zh")
        bits = []
        if self.place:
            bits.append(f"{self.place}附近" if zh else self.place)
        if self.street:
            bits.append(f"（{self.street}）" if zh else f"({self.street})")
        if not bits:
            return self.district_name
        if zh:
            return f"{self.district_name} {''.join(bits)}"
        return f"{' '.join(bits)}, {self.district_name}"


@dataclass(frozen=True)
class CityPack:
    directory: Path
    config: CityConfig
    districts: dict[str, DistrictArea]
    zones: list[ZoneArea]
    places: list[NamedPlace]
    plans: list[Plan]
    words: Words  # knowledge.yaml: how people say what the plans say
    sha256: str  # of every file read: which pack version a decision was made under

    @property
    def id(self) -> str:
        return self.config.id

    def district_at(self, lat: float, lon: float) -> str | None:
        return district_of(self.districts, Point(lon, lat))

    def district_name(self, district: str | None, lang: str) -> str | None:
        d = self.districts.get(district or "")
        return None if d is None else (d.name_zh if lang.startswith("zh") else d.name_en)

    def address(self, lat: float, lon: float, lang: str, district: str | None = None) -> Address:
        """The district (given, else from the outlines) and the nearest named place and street in it."""
        district = district if district in self.districts else self.district_at(lat, lon)
        here = Point(lon, lat)
        best: dict[str, tuple[float, NamedPlace]] = {}
        for p in self.places:
            if district is not None and p.district != district:
                continue
            near = nearest_points(p.geometry, here)[0]
            d = distance_m(lat, lon, near.y, near.x)
            if d <= NEAR_M and (p.kind not in best or d < best[p.kind][0]):
                best[p.kind] = (d, p)
        place, street = best.get("place"), best.get("street")
        return Address(district, self.district_name(district, lang),
                       place[1].name(lang) if place else None, round(place[0], 1) if place else None,
                       street[1].name(lang) if street else None, round(street[0], 1) if street else None)

    @cached_property
    def geography(self) -> dict[str, District]:
        """The districts as the simulators and the dispatch planner walk them (box, grid, places)."""
        out = {}
        for d in self.districts.values():
            west, south, east, north = d.outline.bounds
            places = tuple(Place(p.name_en, p.geometry.y, p.geometry.x, p.tags) for p in self.places
                           if p.district == d.id and p.kind == "place" and isinstance(p.geometry, Point))
            out[d.id] = District(d.id, d.name_zh, LatLon(d.center.y, d.center.x), BBox(south, west, north, east),
                                 depot=LatLon(d.depot.y, d.depot.x), drone_base=LatLon(d.drone_base.y, d.drone_base.x),
                                 places=places)
        return out

    @cached_property
    def knowledge(self) -> PlanIndex:
        """The plans indexed for citation (built on first use: simulators never need it)."""
        return PlanIndex(self.plans, self.config.languages, self.words)

    def zone_features(self) -> dict[str, list[dict[str, Any]]]:
        """Zones per district as GeoJSON features (vision's zone rules read these)."""
        out: dict[str, list[dict[str, Any]]] = {d: [] for d in self.districts}
        for z in self.zones:
            out[z.district].append(z.feature)
        return out

    def plan(self, plan_id: str, lang: str) -> Plan | None:
        """The plan in ``lang``, else in the pack's first language that has it."""
        versions = {p.lang: p for p in self.plans if p.id == plan_id}
        for want in (lang[:2], *self.config.languages):
            if want in versions:
                return versions[want]
        return None


def _read_config(root: Path, problems: list[Problem]) -> CityConfig | None:
    try:
        raw = yaml.safe_load((root / "city.yaml").read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(Problem("city.yaml", "file missing"))
        return None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        problems.append(Problem("city.yaml", f"not readable YAML: {err}"))
        return None
    try:
        return CityConfig.model_validate(raw)
    except ValidationError as err:
        for e in err.errors():
            loc = ".".join(str(x) for x in e["loc"]) or None
            problems.append(Problem("city.yaml", e["msg"], field=loc))
        return None


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def load_pack(directory: Path | str) -> CityPack:
    """Read and check a city pack; ``PackError`` lists every problem (file, feature, field)."""
    root = Path(directory).resolve()
    if not root.is_dir():
        raise PackError(str(directory), [Problem(".", "not a directory")])
    problems: list[Problem] = []
    config = _read_config(root, problems)
    districts = read_districts(root, problems)
    zones = read_zones(root, districts, problems)
    places = read_places(root, districts, problems)
    plans = read_plans(root, problems)
    words = read_words(root, problems)
    if config is not None:
        for p in plans:
            if p.lang not in config.languages:
                problems.append(Problem(p.file, f"language {p.lang!r} is not among the city's languages "
                                                f"({', '.join(config.languages)})"))
    if problems or config is None:
        raise PackError(str(directory), problems)
    return CityPack(root, config, districts, zones, places, plans, words, _digest(root))
