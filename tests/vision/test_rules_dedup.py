"""Detections -> located candidates (labels, thresholds, grouping) and spatio-temporal dedup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from citypack.cached import geography
from devices.geography import distance_m, offset
from tests.helpers import demo_zones
from vision.dedup import DedupConfig, Deduper
from vision.detector import Detection
from vision.geo import CameraPose
from vision.rules import Candidate, RulesConfig, to_candidates

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
C = geography()["futian"].center
W, H = 640, 480
# Straight down from 100 m with a 90 deg hfov: 0.3125 m per pixel, image top = north.
NADIR = CameraPose(C.lat, C.lon, 100.0, 0.0, -90.0, 90.0)


def box_at(u: float, v: float, half: float = 10) -> tuple[float, float, float, float]:
    return (u - half, v - half, u + half, v + half)


def cands(dets: list[Detection], pose: CameraPose = NADIR, config: RulesConfig | None = None) -> list[Candidate]:
    return to_candidates(dets, pose, W, H, T0, "futian", demo_zones(), config or RulesConfig())


def test_position_label_and_zone() -> None:
    # 320 px right of centre -> 100 m east; the central clearway is only 15 m wide, so no zone there,
    # but a vehicle at the centre is inside it.
    out = cands([Detection("garbage", 0.9, box_at(640, 240)), Detection("vehicle", 0.8, box_at(320, 240))])
    by = {c.label: c for c in out}
    east = offset(C.lat, C.lon, 100, 0)
    assert distance_m(by["garbage"].lat, by["garbage"].lon, east.lat, east.lon) < 0.5
    assert by["illegal_parking"].zone == "futian central clearway"
    assert "road" in by["illegal_parking"].place_tags and by["illegal_parking"].model_label == "vehicle"


def test_thresholds_unknown_labels_and_label_map() -> None:
    dets = [Detection("garbage", 0.2, box_at(100, 100)), Detection("cat", 0.99, box_at(200, 100)),
            Detection("trash_pile", 0.9, box_at(300, 100))]
    assert cands(dets) == []
    out = cands(dets, config=RulesConfig(label_map={"trash_pile": "garbage"}))
    assert [c.label for c in out] == ["garbage"]


def test_same_label_neighbours_in_one_frame_become_one_with_count() -> None:
    dets = [Detection("vehicle", 0.9, box_at(100, 100)), Detection("vehicle", 0.7, box_at(120, 100)),
            Detection("vehicle", 0.8, box_at(600, 400))]
    out = sorted(cands(dets), key=lambda c: -c.count)
    assert [c.count for c in out] == [2, 1]
    assert out[0].confidence == 0.9 and len(out[0].boxes) == 2


def candidate(label: str, east: float, north: float, ts: datetime, conf: float = 0.8) -> Candidate:
    p = offset(C.lat, C.lon, east, north)
    return Candidate(ts, label, conf, 1, p.lat, p.lon, east, north, 0.0, [], [(0, 0, 1, 1)], label)


def test_dedup_merges_same_object_in_next_frames() -> None:
    d = Deduper(DedupConfig(radius_m=30, window_s=300))
    first = d.observe(candidate("pothole", 0, 0, T0), "drone-01")
    assert first is not None
    for k in range(1, 6):  # next frames: a few metres of geo jitter
        assert d.observe(candidate("pothole", k * 2.0, -k, T0 + timedelta(seconds=k)), "drone-01") is None
    assert d.observe(candidate("pothole", 3, 3, T0 + timedelta(seconds=9)), "drone-02") is None  # other drone
    assert first.sightings == 7 and first.devices == {"drone-01", "drone-02"} and d.merged == 6


def test_dedup_keeps_different_labels_far_objects_and_old_ones() -> None:
    d = Deduper(DedupConfig(radius_m=30, window_s=300))
    assert d.observe(candidate("pothole", 0, 0, T0), "a") is not None
    assert d.observe(candidate("garbage", 0, 0, T0), "a") is not None  # same place, other label
    assert d.observe(candidate("pothole", 80, 0, T0), "a") is not None  # 80 m away
    assert d.observe(candidate("pothole", 0, 0, T0 + timedelta(seconds=301)), "a") is not None  # expired
    assert d.merged == 0 and len(d.tracks) == 1  # the three T0 tracks expired


def test_late_frame_does_not_expire_newer_tracks() -> None:
    d = Deduper(DedupConfig(window_s=60))
    assert d.observe(candidate("debris", 0, 0, T0), "a") is not None
    assert d.observe(candidate("debris", 0, 0, T0 - timedelta(seconds=600)), "b") is not None  # too old to merge
    assert d.observe(candidate("debris", 1, 0, T0 + timedelta(seconds=5)), "a") is None


def test_area_labels_use_the_wider_radius() -> None:
    d = Deduper(DedupConfig(radius_m=30, area_radius_m=60))
    assert d.observe(candidate("smoke", 0, 0, T0), "a") is not None
    assert d.observe(candidate("smoke", 45, 0, T0), "a") is None
    assert d.observe(candidate("vehicle", 0, 0, T0), "a") is not None
    assert d.observe(candidate("vehicle", 45, 0, T0), "a") is not None
