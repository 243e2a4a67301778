"""Frame processing shared by the in-gateway sink and the edge worker (no MQTT, no SQL here).

decode JPEG -> detect (batched) -> geo-reference + zones -> dedup -> redact (only frames that
produce a new observation are ever kept, and only after redaction).

Evidence is the part of the frame around the new observations (``evidence_region``), not the
whole frame: operators see the incident with its surroundings, bystanders elsewhere in the view
are never stored, and the face and plate detectors run on fewer pixels at full resolution.
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


EVIDENCE_MIN_SIDE = 160  # px: at the patrol's 30 m, 10 m of ground around a small object


def evidence_region(boxes: list[tuple[float, float, float, float]], width: int, height: int,
                    context: float = 0.5, min_side: int = EVIDENCE_MIN_SIDE) -> tuple[int, int, int, int]:
    """The frame area kept as evidence: the boxes' union, padded by ``context`` of its size on
    each side (at least ``min_side`` pixels across, so small objects keep their surroundings)."""
    x1, y1 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x2, y2 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    bw, bh = x2 - x1, y2 - y1
    half_w = max(bw * (0.5 + context), min_side / 2)
    half_h = max(bh * (0.5 + context), min_side / 2)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    a, b = max(0, int(cx - half_w)), max(0, int(cy - half_h))
    c, d = min(width, int(np.ceil(cx + half_w))), min(height, int(np.ceil(cy + half_h)))
    return a, b, c, d


def grow(region: tuple[int, int, int, int], width: int, height: int, frac: float = 0.15,
         min_px: int = 32) -> tuple[int, int, int, int]:
    """``region`` widened on every side by ``frac`` of its longer side (at least ``min_px``).

    Faces and plates are searched in this wider area, so one cut by the evidence border is still
    seen whole by the detectors and blurred, not kept half-recognisable."""
    x1, y1, x2, y2 = region
    m = max(min_px, int(frac * max(x2 - x1, y2 - y1)))
    return max(0, x1 - m), max(0, y1 - m), min(width, x2 + m), min(height, y2 + m)


def annotate(image: np.ndarray, items: list[tuple[Candidate, Track]],
             origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Boxes and labels drawn in place on the (already redacted, already copied) evidence image.

    ``origin`` is the evidence image's top-left corner in frame pixels (candidate boxes are in
    frame pixels)."""
    ox, oy = origin
    for cand, _track in items:
        for x1, y1, x2, y2 in cand.boxes:
            p1, p2 = (int(x1) - ox, int(y1) - oy), (int(x2) - ox, int(y2) - oy)
            cv2.rectangle(image, p1, p2, (0, 0, 255), 2)
            cv2.putText(image, f"{cand.label} {cand.confidence:.2f}", (p1[0], max(10, p1[1] - 4)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 255), 1, cv2.LINE_AA)
    return image


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
        x1, y1, x2, y2 = evidence_region([b for cand, _t in out.new for b in cand.boxes], w, h)
        sx1, sy1, sx2, sy2 = grow((x1, y1, x2, y2), w, h)
        try:
            red = self.redactor.redact(np.ascontiguousarray(image[sy1:sy2, sx1:sx2]))
        except VisionError as err:  # fail closed: observation without evidence image
            log.warning("no evidence for %s/%s: %s", f.device_id, f.meta.msg_id, err)
            out.error = str(err)
            return
        kept = red.image[y1 - sy1 : y2 - sy1, x1 - sx1 : x2 - sx1]
        out.evidence = annotate(np.ascontiguousarray(kept), out.new, (x1, y1))
        out.faces, out.plates = len(red.faces), len(red.plates)
