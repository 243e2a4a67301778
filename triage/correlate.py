"""Correlation: observations become incidents, one per real-world event.

An observation joins the open incident that is close in space (haversine distance within
the category's radius), close in time (within ``window_s`` of the incident's last
observation), in the same district and of a compatible category (the same, or one the
taxonomy treats as its consequence: smoke and PM2.5, flood and traffic, ...). Otherwise it
opens a new incident. Repeated readings of one device keep only the most severe (then the
latest), so severity can rise while an incident is open but never falls back. Incidents
close after ``quiet_s`` without observations. Device faults only join device faults.

Deterministic: time comes from the caller (``now``), ids from a counter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from triage import taxonomy as tx
from triage.models import Category, Incident, Location, Observation, Severity, Source
from triage.signals import collect

C = Category
EARTH_RADIUS_M = 6_371_008.8
RADIUS_M: Mapping[Category, float] = MappingProxyType({
    C.FIRE: 200, C.FLOOD: 300, C.AIR_QUALITY: 500, C.NOISE: 200, C.PUBLIC_SAFETY: 150,
    C.TRAFFIC: 150, C.ROAD_HAZARD: 100, C.INFRASTRUCTURE: 100, C.SANITATION: 80,
    C.DEVICE_FAULT: 50,
})
QUIET_S: Mapping[Category, float] = MappingProxyType({C.FLOOD: 3600, C.AIR_QUALITY: 3600,
                                                      C.DEVICE_FAULT: 3600})
_EXTRA_COMPATIBLE = {frozenset({C.FIRE, C.INFRASTRUCTURE}), frozenset({C.FLOOD, C.INFRASTRUCTURE})}


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def compatible(a: Category, b: Category) -> bool:
    return (a is b or b in tx.CONSEQUENCES[a] or a in tx.CONSEQUENCES[b]
            or frozenset({a, b}) in _EXTRA_COMPATIBLE)


@dataclass(frozen=True)
class CorrelatorConfig:
    window_s: float = 1800.0  # largest gap between observations of one incident
    quiet_s: float = 1800.0  # close after this long without observations (QUIET_S overrides)
    radius_m: Mapping[Category, float] = field(default_factory=lambda: RADIUS_M)
    max_observations: int = 64


@dataclass
class _Open:
    incident_id: str
    district: str | None
    opened_at: datetime
    last_seen: datetime
    categories: set[Category] = field(default_factory=set)
    observations: list[tuple[Observation, int]] = field(default_factory=list)  # (obs, rank)
    place_tags: set[str] = field(default_factory=set)
    address: str | None = None
    lat_sum: float = 0.0
    lon_sum: float = 0.0
    n_pos: int = 0

    @property
    def position(self) -> tuple[float, float] | None:
        return (self.lat_sum / self.n_pos, self.lon_sum / self.n_pos) if self.n_pos else None

    def snapshot(self) -> Incident:
        pos = self.position
        loc = Location(lat=pos[0] if pos else None, lon=pos[1] if pos else None,
                       address=self.address, place_tags=sorted(self.place_tags))
        return Incident(incident_id=self.incident_id, opened_at=self.opened_at,
                        district=self.district, location=loc,
                        observations=[o for o, _ in self.observations])


@dataclass(frozen=True)
class CorrelationUpdate:
    incident: Incident  # snapshot to (re-)triage; same incident_id while the incident is open
    created: bool


def _signals(obs: Observation, tags: list[str]) -> tuple[set[Category], int]:
    """The categories one observation points to and the rank of its most severe signal."""
    findings = collect([obs], tags)
    rank = max((s.severity.rank for s in findings.signals), default=Severity.INFORMATIONAL.rank)
    return {s.category for s in findings.signals}, rank


def _key(obs: Observation) -> tuple[str, ...] | None:
    """Repeated readings of one device share a key; every citizen report is distinct."""
    if obs.source is Source.CITIZEN or obs.device_id is None:
        return None
    return (obs.source.value, obs.device_id, obs.label or "", obs.metric or "")


class Correlator:
    def __init__(self, config: CorrelatorConfig | None = None,
                 id_factory: Callable[[datetime, int], str] | None = None) -> None:
        self.config = config or CorrelatorConfig()
        self._ids = id_factory or (lambda t, n: f"inc-{t:%Y%m%d%H%M%S}-{n:04d}")
        self._seq = 0
        self._open: list[_Open] = []

    def _point(self, obs: Observation, location: Location | None) -> tuple[float, float] | None:
        if obs.position is not None:
            return obs.position.lat, obs.position.lon
        if location is not None and location.lat is not None and location.lon is not None:
            return location.lat, location.lon
        return None

    def _score(self, inc: _Open, cats: set[Category], point: tuple[float, float] | None,
               district: str | None, ts: datetime, device_id: str | None) -> float | None:
        """Distance-like score of a candidate incident (lower is better), None if it can't join."""
        if district is not None and inc.district is not None and district != inc.district:
            return None
        if abs((ts - inc.last_seen).total_seconds()) > self.config.window_s and not (
                inc.opened_at <= ts <= inc.last_seen):
            return None
        fault = cats == {C.DEVICE_FAULT}
        if fault != (inc.categories == {C.DEVICE_FAULT}):
            return None
        if cats and inc.categories and not any(compatible(a, b) for a in cats for b in inc.categories):
            return None
        radius = max(self.config.radius_m.get(c, 150.0) for c in (cats | inc.categories) or {C.FIRE})
        here = inc.position
        if point is not None and here is not None:
            d = haversine_m(point[0], point[1], here[0], here[1])
            return d if d <= radius else None
        if fault:  # a device fault without position joins only its own device's incident
            same = any(o.device_id == device_id for o, _ in inc.observations)
            return radius if same else None
        return radius + 1  # same district, no position: after every located candidate

    def observe(self, obs: Observation, *, now: datetime, district: str | None = None,
                location: Location | None = None) -> CorrelationUpdate:
        """Add one observation; returns the incident it joined or opened."""
        ts = obs.ts or now
        cats, rank = _signals(obs, location.place_tags if location else [])
        point = self._point(obs, location)
        scored = [(s, -inc.last_seen.timestamp(), i, inc) for i, inc in enumerate(self._open)
                  if (s := self._score(inc, cats, point, district, ts, obs.device_id)) is not None]
        created = not scored
        if created:
            self._seq += 1
            inc = _Open(self._ids(ts, self._seq), district, ts, ts)
            self._open.append(inc)
        else:
            inc = min(scored, key=lambda t: (t[0], t[1], t[2]))[3]
        self._add(inc, obs, rank, ts, cats, point, location)
        return CorrelationUpdate(inc.snapshot(), created)

    def restore(self, incident: Incident) -> None:
        """Take an open incident back from storage (a restart, or another worker's partition):
        its observations are replayed into the same state ``observe`` built, under its own id."""
        if any(inc.incident_id == incident.incident_id for inc in self._open):
            return
        loc = incident.location
        times = [o.ts for o in incident.observations if o.ts is not None]
        first = incident.opened_at or (min(times) if times else None)
        if first is None:
            return
        inc = _Open(incident.incident_id, incident.district, first, max(times, default=first))
        tags = list(loc.place_tags) if loc else []
        for obs in incident.observations:
            cats, rank = _signals(obs, tags)
            self._add(inc, obs, rank, obs.ts or first, cats, self._point(obs, None), loc)
        if inc.n_pos == 0 and loc is not None and loc.lat is not None and loc.lon is not None:
            inc.lat_sum, inc.lon_sum, inc.n_pos = loc.lat, loc.lon, 1
        self._open.append(inc)

    def _add(self, inc: _Open, obs: Observation, rank: int, ts: datetime, cats: set[Category],
             point: tuple[float, float] | None, location: Location | None) -> None:
        inc.last_seen = max(inc.last_seen, ts)
        inc.opened_at = min(inc.opened_at, ts)
        inc.categories |= cats
        if location is not None:
            inc.place_tags |= set(location.place_tags)
            inc.address = inc.address or location.address
        if point is not None:
            inc.lat_sum, inc.lon_sum, inc.n_pos = inc.lat_sum + point[0], inc.lon_sum + point[1], inc.n_pos + 1
        key = _key(obs)
        for i, (old, old_rank) in enumerate(inc.observations):
            if key is not None and _key(old) == key:
                if rank >= old_rank:  # keep the peak reading: severity never falls while open
                    inc.observations[i] = (obs, rank)
                return
        inc.observations.append((obs, rank))
        if len(inc.observations) > self.config.max_observations:
            inc.observations.pop(0)

    def close_quiet(self, now: datetime) -> list[Incident]:
        """Close and return the incidents quiet for their category's quiet time."""
        closed: list[_Open] = []
        still: list[_Open] = []
        for inc in self._open:
            quiet = max((QUIET_S.get(c, self.config.quiet_s) for c in inc.categories),
                        default=self.config.quiet_s)
            (closed if now - inc.last_seen >= timedelta(seconds=quiet) else still).append(inc)
        self._open = still
        return [inc.snapshot() for inc in closed]

    def open_incidents(self) -> list[Incident]:
        return [inc.snapshot() for inc in self._open]
