"""The deterministic rules backend: explainable triage, always available, the fallback.

Decision order (each step writes a line to ``rule_trace``):

1. every observation becomes signals (``signals.collect``): labels, sensor thresholds,
   lexicon terms of screened citizen text;
2. per category the strongest signal sets severity; confidences of independent signals
   combine as 1 - Π(1 - c);
3. place tags (and vulnerable places named in the text) raise severity: fire at a school,
   elderly home or hospital is critical; other tags raise one level (``PLACE_RAISES``);
4. the lead category is the most severe, ties broken by ``HAZARD_PRIORITY``;
5. text cues about people raise the lead: trapped/dead/explosion → critical, injured → high,
   spreading fire or flood → high, mass casualties → critical with emergency management;
6. emergency management leads when other categories of other agencies, not mere
   consequences of the lead (``CONSEQUENCES``), reach medium (any level after a disaster
   cue such as a typhoon);
7. review is asked for when confidence < 0.6, categories tie, nothing is classifiable,
   or instruction-like text was quarantined.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from triage import taxonomy as tx
from triage.lexicon import Cue
from triage.models import Agency, Category, Certainty, Incident, Severity, Urgency
from triage.signals import Findings, Signal, collect

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Assessment:
    """What the rules concluded about one incident, with the reasons."""

    category: Category
    severity: Severity
    agency: Agency
    urgency: Urgency
    certainty: Certainty
    confidence: float
    language: str
    candidates: dict[Category, Severity]
    findings: Findings
    places: frozenset[str]
    related: list[Category] = field(default_factory=list)
    multi_agency: bool = False
    also: list[Category] = field(default_factory=list)  # why several agencies are needed
    review_reasons: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)

    @property
    def needs_review(self) -> bool:
        return bool(self.review_reasons)

    @property
    def evidence_categories(self) -> frozenset[Category]:
        return frozenset(self.candidates)


def _combine(signals: list[Signal]) -> float:
    """Noisy-OR over independent sources (one vote per observation)."""
    best: dict[int, float] = {}
    for s in signals:
        best[s.obs_index] = max(best.get(s.obs_index, 0.0), s.confidence)
    miss = 1.0
    for c in best.values():
        miss *= 1.0 - c
    return round(min(0.99, 1.0 - miss), 3)


def _raise_for_place(category: Category, severity: Severity, places: frozenset[str],
                     trace: list[str]) -> Severity:
    vulnerable = places & tx.VULNERABLE_PLACES
    if category is Category.FIRE and vulnerable and severity.rank >= Severity.MEDIUM.rank:
        trace.append(f"fire near {', '.join(sorted(vulnerable))} -> critical")
        return Severity.CRITICAL
    raising = places & (tx.PLACE_RAISES[category] | (tx.VULNERABLE_PLACES
                                                     if category is Category.FIRE else set()))
    if raising and severity is not Severity.INFORMATIONAL and severity is not Severity.CRITICAL:
        raised = severity.shifted(1)
        if category is not Category.FIRE and raised is Severity.CRITICAL:
            raised = max(severity, Severity.HIGH, key=lambda s: s.rank)
        trace.append(f"{category.value} at {', '.join(sorted(raising))}: "
                     f"{severity.value} -> {raised.value}")
        return raised
    return severity


_HIGH_CUES: dict[Cue, frozenset[Category]] = {
    Cue.INJURED: frozenset(Category) - {Category.DEVICE_FAULT},
    Cue.SPREADING: frozenset({Category.FIRE, Category.FLOOD}),
    Cue.IMMINENT: frozenset({Category.INFRASTRUCTURE, Category.ROAD_HAZARD}),
}


def _apply_cues(category: Category, severity: Severity, cues: set[Cue],
                trace: list[str]) -> Severity:
    floor = severity
    if Cue.MASS in cues or (Cue.CRITICAL in cues and category is not Category.DEVICE_FAULT):
        floor = Severity.CRITICAL
    elif any(cue in cues and category in cats for cue, cats in _HIGH_CUES.items()):
        floor = Severity.HIGH
    if floor.rank > severity.rank:
        trace.append(f"text cues {sorted(c.value for c in cues)}: {severity.value} -> {floor.value}")
        return floor
    return severity


def assess_rules(incident: Incident) -> Assessment:
    """Apply the documented rules to one incident (pure, deterministic)."""
    tags = frozenset(incident.location.place_tags if incident.location else [])
    findings = collect(incident.observations, tags)
    trace = [s.reason for s in findings.signals] + findings.trace
    places = tags | frozenset(findings.text_places)
    if findings.text_places - tags:
        trace.append(f"text names vulnerable place(s): {', '.join(sorted(findings.text_places))}")
    by_cat: dict[Category, list[Signal]] = {}
    for s in findings.signals:
        by_cat.setdefault(s.category, []).append(s)
    candidates: dict[Category, Severity] = {}
    conf: dict[Category, float] = {}
    for cat, sigs in by_cat.items():
        top = max(sigs, key=lambda s: s.severity.rank).severity
        candidates[cat] = _raise_for_place(cat, top, places, trace)
        conf[cat] = _combine(sigs)
    reasons: list[str] = []
    cues = findings.cues
    if not candidates:
        fallback = Category.PUBLIC_SAFETY
        sev = Severity.HIGH if cues & {Cue.CRITICAL, Cue.INJURED, Cue.MASS} else Severity.INFORMATIONAL
        candidates[fallback], conf[fallback] = sev, 0.0 if sev is Severity.INFORMATIONAL else 0.5
        reasons.append("no classifiable evidence")
        trace.append(f"no classifiable evidence -> {fallback.value}/{sev.value} for review")
    order = {c: i for i, c in enumerate(tx.HAZARD_PRIORITY)}
    absorbed = {a for k, v in tx.ABSORBED.items() if k in candidates for a in v}
    for cat in sorted(absorbed & set(candidates)):
        trace.append(f"{cat.value} read as an effect of the incident, not its lead")
    ranked = sorted(candidates, key=lambda c: (c in absorbed, -candidates[c].rank, order[c]))
    lead = ranked[0]
    severity = _apply_cues(lead, candidates[lead], cues, trace)
    candidates[lead] = severity
    # Multi-agency: categories of other agencies that are not consequences of the lead.
    disaster = Cue.DISASTER in cues
    floor = Severity.LOW if disaster else Severity.MEDIUM
    others: list[Category] = [
        c for c in ranked[1:]
        if c is not Category.DEVICE_FAULT and c not in absorbed
        and (disaster or c not in tx.CONSEQUENCES[lead])
        and tx.LEAD_AGENCY[c] is not tx.LEAD_AGENCY[lead]
        and candidates[c].rank >= floor.rank
    ]
    multi = bool(others) or Cue.MASS in cues
    agency = Agency.EMERGENCY_MANAGEMENT if multi else tx.LEAD_AGENCY[lead]
    if multi:
        why = "mass casualties" if Cue.MASS in cues else "also " + ", ".join(c.value for c in others)
        trace.append(f"several agencies needed ({why}) -> emergency_management leads")
        if severity.rank < Severity.HIGH.rank:  # coordination of several agencies is urgent
            trace.append(f"multi-agency incident: {severity.value} -> high")
            severity = candidates[lead] = Severity.HIGH
    else:
        trace.append(f"lead {lead.value} -> {agency.value}")
    confidence = conf[lead]
    if confidence < 0.6 and not reasons:  # "no classifiable evidence" already says why
        reasons.append(f"low confidence {confidence:.2f}")
    if (not multi and len(ranked) > 1 and ranked[1] not in tx.CONSEQUENCES[lead]
            and ranked[1] is not Category.DEVICE_FAULT and ranked[1] not in absorbed
            and candidates[ranked[1]] is candidates[lead]
            and lead is not Category.DEVICE_FAULT):
        reasons.append(f"ambiguous: {lead.value} or {ranked[1].value}")
    if findings.quarantined:
        reasons.append("report contains instruction-like text (quarantined)")
    machine = any(s.machine and s.category is lead for s in findings.signals)
    sources = len({s.obs_index for s in by_cat.get(lead, [])})
    certainty = tx.certainty_for(confidence, machine_observed=machine, independent_sources=sources)
    return Assessment(
        category=lead, severity=severity, agency=agency, urgency=tx.URGENCY[severity],
        certainty=certainty, confidence=confidence, language=findings.language,
        candidates=candidates, findings=findings, places=places,
        related=ranked[1:], multi_agency=multi, also=others,
        review_reasons=reasons, trace=trace,
    )
