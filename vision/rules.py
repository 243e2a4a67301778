"""Detections in one frame -> located, zone-tagged observation candidates (SPEC §4 shape).

The label mapping is configuration: a deployment with its own model maps its class names
onto the SPEC §3 vision labels (and drops the rest) without code changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from devices.payloads import VISION_LABELS
from vision.detector import Detection
from vision.geo import CameraPose, footprint_point, pixel_to_ground
from vision.zones import ZoneMap

# Objects that cover an area: several boxes of them close together are one incident.
AREA_LABELS = frozenset({"smoke", "fire", "flooding", "crowd", "garbage", "debris"})


@dataclass(frozen=True)
class RulesConfig:
    label_map: dict[str, str] = field(default_factory=dict)  # model class -> SPEC label ("" drops it)
    min_confidence: float = 0.35
    # The committed weights' weakest classes (held-out AP50 0.40 / 0.50, see vision/weights/README.md)
    # get a stricter operating point so they do not raise false alarms.
    min_confidence_by_label: dict[str, float] = field(
        default_factory=lambda: {"fallen_tree": 0.6, "debris": 0.6})
    group_radius_m: float = 15.0  # same label within this distance in one frame -> one observation

    def platform_label(self, model_label: str) -> str | None:
        label = self.label_map.get(model_label, model_label)
        return label if label in VISION_LABELS else None

    def threshold(self, label: str) -> float:
        return self.min_confidence_by_label.get(label, self.min_confidence)


@dataclass
class Candidate:
    """One observation before dedup: what, where, how sure, how many."""

    ts: datetime
    label: str
    confidence: float
    count: int
    lat: float
    lon: float
    east_m: float
    north_m: float
    range_m: float
    place_tags: list[str]
    boxes: list[tuple[float, float, float, float]]
    model_label: str
    zone: str | None = None


def _merge(group: list[Candidate]) -> Candidate:
    best = max(group, key=lambda c: c.confidence)
    n = len(group)
    lat = sum(c.lat for c in group) / n
    lon = sum(c.lon for c in group) / n
    tags = sorted({t for c in group for t in c.place_tags})
    return Candidate(best.ts, best.label, best.confidence, sum(c.count for c in group), lat, lon,
                     sum(c.east_m for c in group) / n, sum(c.north_m for c in group) / n,
                     min(c.range_m for c in group), tags, [b for c in group for b in c.boxes],
                     best.model_label, best.zone)


def to_candidates(detections: list[Detection], pose: CameraPose, width: int, height: int, ts: datetime,
                  district: str, zones: ZoneMap, config: RulesConfig) -> list[Candidate]:
    """Map labels, drop weak or un-locatable boxes, geo-reference, apply zones, group per frame."""
    located: list[Candidate] = []
    for det in detections:
        label = config.platform_label(det.label)
        if label is None or det.confidence < config.threshold(label):
            continue
        u, v = footprint_point(pose, det.box)
        ground = pixel_to_ground(pose, u, v, width, height)
        if ground is None:  # above the horizon or too far to place: no position, no observation
            continue
        final, tags, zone = zones.classify(district, label, ground.lat, ground.lon)
        located.append(Candidate(ts, final, det.confidence, 1, ground.lat, ground.lon, ground.east_m,
                                 ground.north_m, ground.range_m, tags, [det.box], det.label, zone))
    # Group same-label neighbours (a crowd split into two boxes, three cars in one no-parking spot).
    groups: list[list[Candidate]] = []
    for cand in sorted(located, key=lambda c: -c.confidence):
        for group in groups:
            head = group[0]
            radius = config.group_radius_m * (2 if cand.label in AREA_LABELS else 1)
            if head.label == cand.label and math.hypot(head.east_m - cand.east_m,
                                                       head.north_m - cand.north_m) <= radius:
                group.append(cand)
                break
        else:
            groups.append([cand])
    return [_merge(g) for g in groups]
