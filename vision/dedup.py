"""Spatio-temporal dedup: the same object seen again in later frames is not a new observation.

A candidate merges into a remembered track when the label matches and it lies within the
label's radius of the track's position and within ``window_s`` of its last sighting, from
any device (two drones over one garbage pile report it once). A track that is not seen for
``window_s`` is forgotten, so a hazard that comes back later is reported again.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from vision.geo import to_local
from vision.rules import AREA_LABELS, Candidate


@dataclass(frozen=True)
class DedupConfig:
    radius_m: float = 30.0  # covers flat-ground error at patrol altitude plus the object's size
    area_radius_m: float = 60.0  # smoke, flooding, crowds: big and shifting
    window_s: float = 300.0

    def radius(self, label: str) -> float:
        return self.area_radius_m if label in AREA_LABELS else self.radius_m


@dataclass
class Track:
    track_id: str
    label: str
    lat: float
    lon: float
    first_seen: datetime
    last_seen: datetime
    sightings: int = 1
    best_confidence: float = 0.0
    devices: set[str] = field(default_factory=set)


class Deduper:
    """Not thread-safe: one vision worker owns it."""

    def __init__(self, config: DedupConfig | None = None) -> None:
        self.config = config or DedupConfig()
        self.tracks: list[Track] = []
        self.merged = 0

    def _expire(self, now: datetime) -> None:
        window = self.config.window_s
        # Only forget tracks older than the window; a late (out-of-order) frame expires nothing newer.
        self.tracks = [t for t in self.tracks if (now - t.last_seen).total_seconds() <= window]

    def match(self, cand: Candidate) -> Track | None:
        radius = self.config.radius(cand.label)
        best: tuple[float, Track] | None = None
        for track in self.tracks:
            if track.label != cand.label or abs((cand.ts - track.last_seen).total_seconds()) > self.config.window_s:
                continue
            east, north = to_local(cand.lat, cand.lon, track.lat, track.lon)
            dist = math.hypot(east, north)
            if dist <= radius and (best is None or dist < best[0]):
                best = (dist, track)
        return best[1] if best else None

    def observe(self, cand: Candidate, device_id: str) -> Track | None:
        """Return a new track when ``cand`` is new (store an observation); None when merged."""
        self._expire(cand.ts)
        track = self.match(cand)
        if track is not None:
            track.sightings += 1
            track.last_seen = max(track.last_seen, cand.ts)
            track.best_confidence = max(track.best_confidence, cand.confidence)
            track.devices.add(device_id)
            # Follow the object with a running mean: later, closer views refine the position.
            w = 1.0 / track.sightings
            track.lat += (cand.lat - track.lat) * w
            track.lon += (cand.lon - track.lon) * w
            self.merged += 1
            return None
        track = Track(f"trk-{uuid.uuid4().hex[:16]}", cand.label, cand.lat, cand.lon, cand.ts, cand.ts,
                      best_confidence=cand.confidence, devices={device_id})
        self.tracks.append(track)
        return track
