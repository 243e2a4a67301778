"""Observations to signals: what each piece of evidence says about category and severity.

A signal is one explainable claim ("vision smoke 0.87 -> fire/medium"). The rules backend
aggregates signals; the correlator uses them to decide which incidents an observation can
join. Text is screened for instruction-like clauses before any keyword is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from triage import lexicon
from triage.injection import screen
from triage.lexicon import Cue
from triage.models import Category, Observation, Severity, Source
from triage.textscan import scan
from triage.thresholds import THRESHOLDS, is_plausible, level_for

C, S = Category, Severity

#: Labels from detectors and robots (SPEC §3): category, severity of one detection.
MACHINE_LABELS: Final = MappingProxyType({
    "fire": (C.FIRE, S.HIGH), "smoke": (C.FIRE, S.MEDIUM), "garbage": (C.SANITATION, S.LOW),
    "flooding": (C.FLOOD, S.MEDIUM), "pothole": (C.ROAD_HAZARD, S.LOW),
    "fallen_tree": (C.ROAD_HAZARD, S.MEDIUM), "debris": (C.ROAD_HAZARD, S.LOW),
    "damaged_manhole": (C.INFRASTRUCTURE, S.MEDIUM), "person_down": (C.PUBLIC_SAFETY, S.HIGH),
    "crowd": (C.PUBLIC_SAFETY, S.LOW), "vehicle": (C.TRAFFIC, S.INFORMATIONAL),
    "illegal_parking": (C.TRAFFIC, S.LOW), "spill": (C.SANITATION, S.LOW),
    "obstacle": (C.ROAD_HAZARD, S.LOW), "stuck": (C.DEVICE_FAULT, S.LOW),
    "bin_full": (C.SANITATION, S.LOW), "low_battery": (C.DEVICE_FAULT, S.LOW),
})
#: Labels the platform raises about its own devices (``source: device``).
DEVICE_LABELS: Final = MappingProxyType({
    "offline": S.LOW, "low_battery": S.LOW, "diagnostic_error": S.LOW,
    "clock_skew": S.INFORMATIONAL, "implausible_value": S.LOW, "stuck": S.LOW,
})
#: How much one observation of each source is believed when it carries no confidence.
BASE_CONFIDENCE: Final = MappingProxyType({
    Source.VISION: 0.7, Source.SENSOR: 0.9, Source.ROBOT: 0.8, Source.DEVICE: 0.95,
    Source.CITIZEN: 0.6,
})
_HAZMAT = re.compile(r"chemical|acid|gasoline|petrol|fuel|solvent|化学|酸|汽油|柴油|危化", re.I)
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Signal:
    category: Category
    severity: Severity
    confidence: float
    source: Source
    obs_index: int
    what: str  # a fixed vocabulary word (label, metric or lexicon term), never raw text
    reason: str
    device_id: str | None = None
    value: float | None = None

    @property
    def machine(self) -> bool:
        return self.source in (Source.VISION, Source.SENSOR, Source.ROBOT)


@dataclass
class Findings:
    """Everything the observations of one incident say."""

    signals: list[Signal] = field(default_factory=list)
    cues: set[Cue] = field(default_factory=set)
    cue_terms: list[str] = field(default_factory=list)
    text_places: set[str] = field(default_factory=set)
    quarantined: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    language: str = "en"


def _machine_signal(i: int, obs: Observation, label: str, places: frozenset[str]) -> Signal | None:
    category, severity = MACHINE_LABELS[label]
    conf = obs.confidence if obs.confidence is not None else BASE_CONFIDENCE[obs.source]
    why = f"obs#{i} {obs.source.value} {label}"
    if label == "crowd" and obs.count:
        severity = S.HIGH if obs.count >= 1000 else S.MEDIUM if obs.count >= 200 else S.LOW
    if label == "crowd" and places & {"metro", "market"}:
        severity, why = severity.shifted(1), why + " (crowd at a metro/market: one level up)"
    if label == "vehicle" and (obs.count or 0) >= 30:
        severity, why = S.LOW, why + " (congestion)"
    if label == "spill":
        if obs.text and _HAZMAT.search(screen(obs.text).clean_text):
            category, severity, why = C.FIRE, S.HIGH, why + " (hazardous material)"
        elif places & {"road", "highway"}:
            category, severity, why = C.ROAD_HAZARD, S.MEDIUM, why + " (on a roadway)"
    if obs.source is Source.VISION and conf < 0.5:
        severity, why = severity.shifted(-1), why + " (low confidence: one level down)"
    return Signal(category, severity, conf, obs.source, i, label,
                  f"{why} conf={conf:.2f} -> {category.value}/{severity.value}", obs.device_id)


def _metric_signal(i: int, obs: Observation, trace: list[str]) -> Signal | None:
    assert obs.metric is not None and obs.value is not None
    who = f"obs#{i} {obs.metric}={obs.value:g}"
    if not is_plausible(obs.metric, obs.value):
        return Signal(C.DEVICE_FAULT, S.LOW, 0.9, Source.DEVICE, i, "implausible_value",
                      f"{who} outside plausible range -> device_fault/low", obs.device_id,
                      obs.value)
    hit = level_for(obs.metric, obs.value)
    if hit is None:
        known = "below thresholds" if obs.metric in THRESHOLDS else "no threshold defined"
        trace.append(f"{who} {known}: not an incident sign")
        return None
    category, severity = hit
    conf = BASE_CONFIDENCE[Source.SENSOR]
    return Signal(category, severity, conf, obs.source, i, obs.metric,
                  f"{who} -> {category.value}/{severity.value}", obs.device_id, obs.value)


def _text_signals(i: int, text: str, findings: Findings) -> list[Signal]:
    screened = screen(text)
    for _ in screened.quarantined:
        findings.quarantined.append(text[:200])
        findings.trace.append(f"obs#{i} instruction-like clause quarantined, not read")
    found: list[tuple[Category, Severity, str, bool]] = []
    for clause in screened.kept:
        for hit in scan(clause):
            if hit.cue is not None:
                findings.cues.add(hit.cue)
                findings.cue_terms.append(hit.term)
                if hit.term in lexicon.PLACE_WORDS:
                    findings.text_places.add(lexicon.PLACE_WORDS[hit.term])
                continue
            assert hit.category is not None and hit.severity is not None
            category, severity = hit.category, hit.severity
            if hit.term in lexicon.SMOKE_TERMS and lexicon.AIR_CONTEXT.search(clause):
                category, severity = C.AIR_QUALITY, min(severity, S.MEDIUM, key=lambda s: s.rank)
            found.append((category, severity, hit.term, hit.weak))
    if any(not weak for *_, weak in found):  # landmark words count only when alone
        found = [f for f in found if not f[3]]
    best: dict[Category, tuple[Severity, str]] = {}
    for category, severity, term, _ in found:
        if category not in best or severity.rank > best[category][0].rank:
            best[category] = (severity, term)
    conf = BASE_CONFIDENCE[Source.CITIZEN]
    return [
        Signal(cat, sev, conf, Source.CITIZEN, i, term,
               f"obs#{i} text term {term!r} -> {cat.value}/{sev.value}")
        for cat, (sev, term) in best.items()
    ]


def _language(observations: Iterable[Observation]) -> str:
    """Chinese when most reports (their non-quarantined clauses) are Chinese; else English."""
    texts = [o.text for o in observations if o.text and o.source is Source.CITIZEN]
    if not texts:
        texts = [o.text for o in observations if o.text]
    kept = [" ".join(screen(t).kept) for t in texts]
    kept = [t for t in kept if t.strip()]
    zh = sum(1 for t in kept if len(_CJK.findall(t)) >= 2)
    return "zh" if kept and zh * 2 >= len(kept) else "en"


def collect(observations: list[Observation], place_tags: Iterable[str] = ()) -> Findings:
    """Turn every observation of an incident into signals, cues and trace lines."""
    places = frozenset(place_tags)
    findings = Findings(language=_language(observations))
    for i, obs in enumerate(observations):
        signal: Signal | None = None
        label = obs.label
        if label is not None and obs.source is Source.DEVICE and label in DEVICE_LABELS:
            signal = Signal(C.DEVICE_FAULT, DEVICE_LABELS[label], BASE_CONFIDENCE[Source.DEVICE],
                            Source.DEVICE, i, label,
                            f"obs#{i} device {label} -> device_fault/{DEVICE_LABELS[label].value}",
                            obs.device_id)
        elif label is not None and label in MACHINE_LABELS and obs.source is not Source.CITIZEN:
            signal = _machine_signal(i, obs, label, places)
        elif obs.metric is not None and obs.value is not None:
            signal = _metric_signal(i, obs, findings.trace)
        elif label and obs.source is not Source.CITIZEN:
            findings.trace.append(f"obs#{i} unknown label {label!r} ignored")
        if signal is not None:
            findings.signals.append(signal)
        if obs.text and obs.source is Source.CITIZEN:
            found = _text_signals(i, obs.text, findings)
            if not found:
                findings.trace.append(f"obs#{i} citizen text: no hazard terms")
            findings.signals.extend(found)
        elif obs.text and signal is None and obs.source is not Source.DEVICE:
            findings.signals.extend(_text_signals(i, obs.text, findings))
    return findings


def observation_categories(obs: Observation, place_tags: Iterable[str] = ()) -> set[Category]:
    """Categories one observation supports (empty if it says nothing classifiable)."""
    return {s.category for s in collect([obs], place_tags).signals}
