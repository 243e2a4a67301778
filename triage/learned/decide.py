"""From the model's probabilities to a decision under the rules' policy.

The model brings meaning, the rules bring policy:

- no readable report text (devices only): the rules decide alone;
- otherwise the model picks category, severity and whether emergency management leads;
- the agency is always the category's lead agency or emergency management (never another);
- a severity a device measured for the chosen category is a floor the model cannot lower;
- fire at a school, hospital or elderly home at medium or above is critical;
- an emergency-management incident is at least high;
- instruction-like clauses were removed before the model read anything (``features``).

``decision_features`` are what the review calibrator turns into P(ticket right).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from triage import taxonomy as tx
from triage.learned.model import Prediction
from triage.models import Agency, Category, Severity
from triage.rules import Assessment


@dataclass
class Decision:
    category: Category
    severity: Severity
    agency: Agency
    decided_by: str  # "model" | "rules"
    features: list[float] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def _within_one(probs: dict[str, float], severity: Severity) -> float:
    return sum(p for s, p in probs.items() if abs(Severity(s).rank - severity.rank) <= 1)


def decide(rules: Assessment, pred: Prediction | None, *, quarantined: bool) -> Decision:
    if pred is None:
        return Decision(rules.category, rules.severity, rules.agency, "rules",
                        trace=["no report text: the rules decide"])
    ranked = sorted(pred.category.items(), key=lambda kv: -kv[1])
    category = Category(ranked[0][0])
    severity = Severity(max(pred.severity.items(), key=lambda kv: kv[1])[0])
    trace = [f"model: {category.value} p={ranked[0][1]:.2f} (next {ranked[1][0]} {ranked[1][1]:.2f}), "
             f"severity {severity.value} p={pred.severity[severity.value]:.2f}, "
             f"agency {max(pred.agency.items(), key=lambda kv: kv[1])[0]}"]
    machine = [s.severity for s in rules.findings.signals if s.machine and s.category is category]
    if machine:
        floor = max(machine, key=lambda s: s.rank)
        if floor.rank > severity.rank:
            trace.append(f"policy: a device measured {category.value}/{floor.value}: "
                         f"{severity.value} -> {floor.value}")
            severity = floor
    if (category is Category.FIRE and rules.places & tx.VULNERABLE_PLACES
            and severity.rank >= Severity.MEDIUM.rank and severity is not Severity.CRITICAL):
        trace.append(f"policy: fire at {', '.join(sorted(rules.places & tx.VULNERABLE_PLACES))} -> critical")
        severity = Severity.CRITICAL
    allowed = {a.value for a in tx.allowed_agencies(category)} | {Agency.EMERGENCY_MANAGEMENT.value}
    agency = Agency(max((kv for kv in pred.agency.items() if kv[0] in allowed), key=lambda kv: kv[1])[0])
    em = agency is Agency.EMERGENCY_MANAGEMENT
    if em and severity.rank < Severity.HIGH.rank:
        trace.append(f"policy: several agencies coordinate: {severity.value} -> high")
        severity = Severity.HIGH
    trace.append(f"policy: {category.value} -> {agency.value}")
    features = [
        _logit(ranked[0][1]),
        _logit(ranked[0][1] - ranked[1][1] + 1e-4),
        _logit(pred.severity[severity.value]),
        _logit(_within_one(pred.severity, severity)),
        _logit(pred.agency[agency.value] / max(1e-6, sum(pred.agency[a] for a in allowed))),
        1.0 if rules.category is category else 0.0,
        1.0 if rules.findings.signals else 0.0,
        1.0 if quarantined else 0.0,
        math.log1p(pred.known_tokens),
    ]
    return Decision(category, severity, agency, "model", features=features, trace=trace)

