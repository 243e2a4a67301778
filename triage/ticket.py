"""Assemble a ``Ticket`` from an assessment: ids, SLA, evidence, wording."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Literal, Protocol

from triage import taxonomy as tx
from triage.citations import PlanLibrary, citation_action, cite
from triage.models import Category, Evidence, Incident, Severity, Ticket, TriageInfo
from triage.rules import Assessment
from triage.wording import actions_for, summary_for

_SAFE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,120}$")


def ticket_id_for(incident_id: str) -> str:
    """One incident, one ticket: the id is derived, so re-triage updates the same ticket."""
    if _SAFE_ID.match(incident_id):
        return f"tkt-{incident_id}"
    return "tkt-" + hashlib.sha256(incident_id.encode()).hexdigest()[:24]


class CityContext(PlanLibrary, Protocol):
    """What a ticket needs of the city (the gateway's city pack): SLA, place names and plans."""

    def sla(self, category: str, severity: str) -> timedelta: ...

    def where(self, lat: float, lon: float, district: str | None, lang: str) -> str | None: ...


def sla_due(incident: Incident, severity: Severity, now: datetime, *, category: Category | None = None,
            city: CityContext | None = None) -> datetime:
    """Due time = when the incident was first known + the city's SLA for its category and severity."""
    times = [o.ts for o in incident.observations if o.ts is not None]
    start = incident.opened_at or (min(times) if times else now)
    if city is not None and category is not None:
        return start + city.sla(category.value, severity.value)
    return start + tx.SLA[severity]


def named_place(incident: Incident, lang: str, city: CityContext | None) -> str | None:
    """The district, nearest named place and street, as people there say it (None: no city or no point)."""
    loc = incident.location
    if city is None or loc is None or loc.lat is None or loc.lon is None:
        return None
    return city.where(loc.lat, loc.lon, incident.district, lang)


def where_text(incident: Incident, lang: str, place: str | None = None) -> str:
    loc = incident.location
    if place:  # the city's names already say the district
        return f"{place} ({loc.address[:80]})" if loc and loc.address else place
    parts = [incident.district or ""]
    if loc and loc.address:
        parts.append(loc.address[:80])
    elif loc and loc.lat is not None and loc.lon is not None:
        parts.append(f"{loc.lat:.5f},{loc.lon:.5f}")
    text = " ".join(p for p in parts if p).strip()
    return text or ("位置不明" if lang == "zh" else "unknown location")


def evidence_for(incident: Incident) -> list[Evidence]:
    return [
        Evidence(source=o.source, device_id=o.device_id, ts=o.ts, label=o.label, metric=o.metric,
                 value=o.value, confidence=o.confidence,
                 text=o.text[:280] if o.text else None)
        for o in incident.observations[:20]
    ]


def _bounded_trace(trace: list[str]) -> list[str]:
    """At most 40 lines: the first observations and the final decisions are what matter."""
    lines = [t[:200] for t in trace]
    if len(lines) <= 40:
        return lines
    return [*lines[:30], f"... {len(lines) - 39} lines omitted", *lines[-9:]]


def build_ticket(incident: Incident, a: Assessment, info: TriageInfo, now: datetime,
                 *, summary: str | None = None, extra_actions: list[str] | None = None,
                 city: CityContext | None = None) -> Ticket:
    lang: Literal["en", "zh"] = "zh" if a.language == "zh" else "en"
    place = named_place(incident, lang, city)
    location = incident.location
    if place and location is not None and not location.address:
        location = location.model_copy(update={"address": place[:200]})
    also = tuple(c for c in a.also if c is not a.category)
    citations = cite(incident, a, lang, city)
    actions = actions_for(a.category, a.severity, a.multi_agency, a.places, lang, also)
    actions = (actions + [citation_action(c, lang) for c in citations])[:10]
    trace = [*a.trace, *(f"plan {c.plan} section {c.section} cited (score {c.score:g})" for c in citations)]
    for step in extra_actions or []:
        if step not in actions and len(actions) < 10:
            actions.append(step[:200])
    default_summary = summary_for(
        a.category, a.severity, where_text(incident, lang, place), a.places, a.findings.signals,
        a.findings.cue_terms, lang, also,
    )
    return Ticket(
        ticket_id=ticket_id_for(incident.incident_id),
        incident_id=incident.incident_id,
        category=a.category, severity=a.severity, agency=a.agency, urgency=a.urgency,
        certainty=a.certainty, summary=(summary or default_summary)[:500], actions=actions,
        sla_due=sla_due(incident, a.severity, now, category=a.category, city=city), confidence=a.confidence,
        needs_review=a.needs_review, review_reasons=[r[:200] for r in a.review_reasons[:10]],
        triage=info, evidence=evidence_for(incident), language=lang,
        rule_trace=_bounded_trace(trace),
        related_categories=a.related[:10], citations=citations, district=incident.district,
        location=location, opened_at=incident.opened_at,
    )
