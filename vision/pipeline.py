"""Frame processing shared by the in-gateway sink and the edge worker (no MQTT, no SQL here).

decode JPEG -> detect (batched) -> geo-reference + zones -> dedup -> redact (only frames that
produce a new observation are ever kept, and only after redaction).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from devices.payloads import FrameMeta
from vision.dedup import DedupConfig, Deduper, Track
from vision.detector import Detection, Detector
from vision.errors import VisionError
from vision.geo import CameraPose
from vision.privacy import Redactor
from vision.rules import Candidate, RulesConfig, to_candidates
from vision.zones import ZoneMap

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameIn:
    district: str
    device_id: str
    device_kind: str
    meta: FrameMeta
    jpeg: bytes


@dataclass
class FrameOut:
    frame: FrameIn
    detections: list[Detection] = field(default_factory=list)
    new: list[tuple[Candidate, Track]] = field(default_factory=list)
    merged: int = 0
    evidence: np.ndarray | None = None  # redacted BGR image; only set when ``new`` is not empty
    faces: int = 0
    plates: int = 0
    error: str | None = None


def decode(jpeg: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise VisionError("JPEG could not be decoded")
    return img


def pose_of(meta: FrameMeta) -> CameraPose:
    return CameraPose(meta.lat, meta.lon, meta.alt_m, meta.heading_deg, meta.pitch_deg, meta.hfov_deg)


def annotate(image: np.ndarray, items: list[tuple[Candidate, Track]]) -> np.ndarray:
    """Boxes and labels on the (already redacted) evidence image, for operators."""
    out = image.copy()
    for cand, _track in items:
        for x1, y1, x2, y2 in cand.boxes:
            cv2.rectangle(out, (int(x1), int(y1)), (int(x2), int(y2)), (0, 0, 255), 2)
            cv2.putText(out, f"{cand.label} {cand.confidence:.2f}", (int(x1), max(10, int(y1) - 4)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 255), 1, cv2.LINE_AA)
    return out


class FrameProcessor:
    """Owns the detector, dedup state and redactor; used from one worker thread only."""

    def __init__(self, detector: Detector, redactor: Redactor | None, zones: ZoneMap,
                 rules: RulesConfig | None = None, dedup: DedupConfig | None = None) -> None:
        self.detector = detector
        self.redactor = redactor
        self.zones = zones
        self.rules = rules or RulesConfig()
        self.deduper = Deduper(dedup)

    def process(self, frames: list[FrameIn]) -> list[FrameOut]:
        outs = [FrameOut(f) for f in frames]
        images: list[np.ndarray] = []
        live: list[FrameOut] = []
        for out in outs:
            try:
                images.append(decode(out.frame.jpeg))
                live.append(out)
            except VisionError as err:
                out.error = str(err)
        if not images:
            return outs
        for out, image, dets in zip(live, images, self.detector.detect(images), strict=True):
            out.detections = dets
            self._locate(out, image)
        return outs

    def _locate(self, out: FrameOut, image: np.ndarray) -> None:
        f = out.frame
        h, w = image.shape[:2]
        cands = to_candidates(out.detections, pose_of(f.meta), w, h, f.meta.ts, f.district, self.zones, self.rules)
        for cand in cands:
            track = self.deduper.observe(cand, f.device_id)
            if track is None:
                out.merged += 1
            else:
                out.new.append((cand, track))
        if not out.new or self.redactor is None:
            return
        try:
            red = self.redactor.redact(image)
        except VisionError as err:  # fail closed: observation without evidence image
            log.warning("no evidence for %s/%s: %s", f.device_id, f.meta.msg_id, err)
            out.error = str(err)
            return
        out.evidence = annotate(red.image, out.new)
        out.faces, out.plates = len(red.faces), len(red.plates)
