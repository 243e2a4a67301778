"""Rule guardrails on a model's proposal. The model may refine the rules; it may not overrule
the evidence.

- G0 adversarial report: when the rules quarantined instruction-like text, the model's
  category, severity, agency, urgency and certainty are not used at all (the rules decide;
  the model never saw the quarantined text either). Only G6/G7 text may be taken.
- G1 category: kept if some observation supports it (it is among the rules' evidence
  categories) or the rules found no classifiable evidence at all; else the rules' category.
- G2 severity: never below a rule-critical incident; otherwise within one level of the
  rules' severity for that category (at most high without any evidence); else clamped.
- G3 agency: an agency of that category (``taxonomy.allowed_agencies``); the rules'
  emergency-management decision (several agencies, mass casualties) always stands; else
  the category's lead agency.
- G4 urgency: must fit the final severity (``taxonomy.ALLOWED_URGENCY``); else derived.
- G5 certainty: "Observed" only when a device saw or measured the final category; else
  the rules' certainty.
- G6 summary: in the report's language, no instruction-like text, names the final
  category's hazard and no hazard outside the evidence; else the rules' summary.
- G7 actions: instruction-free and in the report's language; appended after the rules'
  actions, never replacing them; else dropped.

A clip on G1–G5 puts the ticket up for review (``needs_review``), as does model confidence
below 60 % or a proposal made without classifiable evidence. Every clip is recorded in the
rule trace and in ``TriageResult.guardrail_clips``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from triage import taxonomy as tx
from triage.injection import is_instruction
from triage.models import Agency, Category, Certainty, Severity
from triage.prompting import Proposal
from triage.rules import Assessment
from triage.textscan import scan
from triage.wording import CATEGORY_NAME

_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Guarded:
    assessment: Assessment
    summary: str | None  # None: use the rules' summary
    extra_actions: list[str]
    clips: list[str] = field(default_factory=list)


def _language_ok(text: str, lang: str) -> bool:
    cjk = len(_CJK.findall(text))
    return cjk >= 2 if lang == "zh" else cjk == 0


def _summary_ok(text: str, lang: str, category: Category, allowed: set[Category]) -> bool:
    """In the right language, no instructions, names the hazard, names no other hazard."""
    if not text.strip() or not _language_ok(text, lang) or is_instruction(text):
        return False
    named = {h.category for h in scan(text) if h.category is not None}
    names_it = category in named or CATEGORY_NAME[lang][category].lower() in text.lower() \
        or category.value.replace("_", " ") in text.lower()
    return names_it and {c for c in named if c is not category} <= allowed


def apply_guardrails(a: Assessment, p: Proposal) -> Guarded:
    clips: list[str] = []
    proposed = p
    no_evidence = "no classifiable evidence" in a.review_reasons
    if a.findings.quarantined:  # G0: an adversarial report is decided by the rules alone
        p = p.model_copy(update={"category": a.category, "severity": a.severity,
                                 "agency": a.agency, "urgency": a.urgency,
                                 "certainty": a.certainty})
        clips.append("G0 report contained instruction-like text: rules decision kept")
    # G1 category
    category = p.category
    if not no_evidence and category not in a.candidates:
        clips.append(f"G1 category {category.value} has no supporting evidence -> {a.category.value}")
        category = a.category
    # G2 severity
    if no_evidence:
        low, high = Severity.INFORMATIONAL, Severity.HIGH
    else:
        base = a.severity if category is a.category else a.candidates[category]
        low, high = base.shifted(-1), base.shifted(1)
        if base is Severity.CRITICAL:
            low = Severity.CRITICAL
    severity = p.severity
    if severity.rank < low.rank or severity.rank > high.rank:
        severity = low if severity.rank < low.rank else high
        clips.append(f"G2 severity {p.severity.value} outside {low.value}..{high.value} -> {severity.value}")
    # G3 agency
    if a.multi_agency:
        agency = Agency.EMERGENCY_MANAGEMENT
    elif p.agency in tx.allowed_agencies(category):
        agency = p.agency
    else:
        agency = tx.LEAD_AGENCY[category]
    if agency is not p.agency:
        clips.append(f"G3 agency {p.agency.value} not allowed for {category.value} -> {agency.value}")
    # G4 urgency
    urgency = p.urgency if p.urgency in tx.ALLOWED_URGENCY[severity] else tx.URGENCY[severity]
    if urgency is not p.urgency:
        clips.append(f"G4 urgency {p.urgency.value} does not fit {severity.value} -> {urgency.value}")
    # G5 certainty
    machine = any(s.machine and s.category is category for s in a.findings.signals)
    certainty = p.certainty
    if certainty is Certainty.OBSERVED and not machine:
        certainty = a.certainty if a.certainty is not Certainty.OBSERVED else Certainty.LIKELY
        clips.append(f"G5 certainty Observed without a device observation -> {certainty.value}")
    # G6/G7 text
    allowed = set(a.candidates) | {category}
    summary = p.summary if _summary_ok(p.summary, a.language, category, allowed) else None
    if summary is None:
        clips.append("G6 model summary rejected, rules summary used")
    extras = [s for s in p.actions if s.strip() and _language_ok(s, a.language)
              and not is_instruction(s)]
    model_conf = p.confidence_pct / 100
    reasons = list(a.review_reasons)
    hard = [c for c in clips if c[:2] in ("G0", "G1", "G2", "G3", "G4", "G5")]
    if hard:
        reasons.append("llm proposal clipped by guardrails")
        confidence = a.confidence
    else:
        confidence = round((a.confidence + model_conf) / 2, 3)
    if no_evidence:
        confidence = min(model_conf, 0.5)
    if model_conf < 0.6:
        reasons.append(f"llm confidence {model_conf:.2f}")
    trace = [*a.trace, f"llm proposed {proposed.category.value}/{proposed.severity.value}/"
             f"{proposed.agency.value}",
             *clips]
    final = replace(
        a, category=category, severity=severity, agency=agency, urgency=urgency,
        certainty=certainty, confidence=confidence,
        related=[c for c in (a.category, *a.related) if c is not category],
        review_reasons=list(dict.fromkeys(reasons)), trace=trace,
    )
    return Guarded(final, summary, extras, clips)
