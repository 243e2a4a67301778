"""``learned``: the default triage backend — the text model decides meaning, the rules policy.

Per incident the rules run first (signals, thresholds, quarantine, trace); when readable
report text remains, the model's probabilities go through ``decide`` (the policy), and the
calibrated probability that the ticket is right becomes ``confidence``; among the least
confident share the review budget allows (``budget``; without one, below the artefact's
threshold), or when instruction-like text was quarantined, the ticket asks for review.
Devices alone are decided by the rules. The audit row names the model version and sha256 and
says which part decided what.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, tzinfo
from pathlib import Path

from triage import taxonomy as tx
from triage.backend import RULES_VERSION, BackendConfigError, TriageConfig, TriageResult
from triage.learned.budget import ReviewBudget
from triage.learned.decide import Decision, decide
from triage.learned.features import incident_text, incident_tokens
from triage.learned.model import DEFAULT_MODEL, ModelFileError, TextModel
from triage.models import DEFAULT_TZ, Incident, TriageInfo
from triage.rules import Assessment, Clock, assess_rules, utc_now
from triage.ticket import build_ticket


def learned_assessment(model: TextModel, incident: Incident, tz: tzinfo = DEFAULT_TZ,
                       budget: ReviewBudget | None = None) -> tuple[Assessment, Decision]:
    """The rules' assessment with the model's decision folded in (what the ticket is built from).

    ``budget``: the review budget that sets the confidence threshold (None: the artefact's)."""
    rules = assess_rules(incident)
    text = incident_text(incident)
    pred = model.predict(incident_tokens(incident, rules.findings, tz)) if text.has_text else None
    d = decide(rules, pred, quarantined=text.quarantined > 0)
    if d.decided_by == "rules":
        if budget is not None:
            budget.observe_rules(flagged=rules.needs_review)
        return dataclasses.replace(rules, trace=[*rules.trace, *d.trace]), d
    confidence = round(model.review_probability(d.features), 3)
    reasons = [r for r in rules.review_reasons if "instruction-like" in r]
    if budget is not None:
        low, threshold = budget.decide(confidence, forced=bool(reasons))
    else:
        low, threshold = confidence < model.review_threshold, model.review_threshold
    if low:
        reasons.append(f"model confidence {confidence:.2f} below {threshold:.2f}")
    rules_said = f"rules alone: {rules.category.value}/{rules.severity.value}/{rules.agency.value}"
    multi = d.agency.value == "emergency_management"
    sources = len({s.obs_index for s in rules.findings.signals if s.category is d.category}) or 1
    machine = any(s.machine and s.category is d.category for s in rules.findings.signals)
    a = dataclasses.replace(
        rules, category=d.category, severity=d.severity, agency=d.agency,
        urgency=tx.URGENCY[d.severity], confidence=confidence, multi_agency=multi,
        certainty=tx.certainty_for(confidence, machine_observed=machine, independent_sources=sources),
        also=rules.also if multi else [], related=[c for c in rules.candidates if c is not d.category],
        review_reasons=reasons, trace=[*rules.trace, rules_said, *d.trace],
    )
    return a, d


class LearnedBackend:
    name = "learned"

    def __init__(self, config: TriageConfig, clock: Clock = utc_now) -> None:
        path = config.learned_model or DEFAULT_MODEL
        try:
            self.model = TextModel(Path(path))
        except ModelFileError as err:
            raise BackendConfigError(str(err)) from err
        self._clock = clock
        self._tz = config.timezone
        self._city = config.city
        self.budget = (ReviewBudget(config.review_budget, self.model.review_threshold)
                       if config.review_budget is not None else None)

    def assess(self, incident: Incident) -> TriageResult:
        start = time.perf_counter()
        now: datetime = self._clock()
        a, d = learned_assessment(self.model, incident, self._tz, self.budget)
        label = f"{self.model.version}+{RULES_VERSION}" if d.decided_by == "model" else RULES_VERSION
        info = TriageInfo(backend="learned" if d.decided_by == "model" else "rules", model=label, latency_ms=0.0)
        ticket = build_ticket(incident, a, info, now, city=self._city)
        latency = (time.perf_counter() - start) * 1000
        ticket.triage.latency_ms = round(latency, 3)
        return TriageResult(ticket=ticket, backend="learned", model_file=str(self.model.path),
                            model_sha256=self.model.sha256, model_version=self.model.version,
                            decided_by=d.decided_by, validation="ok", latency_ms=latency,
                            incident=incident)

    def close(self) -> None:
        """Nothing to release."""
