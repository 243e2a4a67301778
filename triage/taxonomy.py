"""The decision tables the rules and the guardrails share: who acts, how fast, what escalates.

Each table is the written policy (see ``triage/README.md``); the rules read it, they do not
restate it. ``LEAD_AGENCY`` is shared vocabulary (``devices.vocabulary``); it is read here
with the tables built on it.
"""

from __future__ import annotations

from datetime import timedelta
from types import MappingProxyType
from typing import Final

from devices.vocabulary import LEAD_AGENCY
from triage.models import Agency, Category, Certainty, Severity, Urgency

C, S, A = Category, Severity, Agency

#: Agencies a (guarded) model may assign besides the lead one. ``emergency_management`` is
#: separately allowed only when the evidence spans several agencies (see guardrails).
ALTERNATE_AGENCIES: Final = MappingProxyType(
    {
        C.FIRE: frozenset(),
        C.FLOOD: frozenset(),
        C.ROAD_HAZARD: frozenset({A.URBAN_MANAGEMENT, A.HOUSING_CONSTRUCTION}),
        C.TRAFFIC: frozenset({A.PUBLIC_SECURITY}),
        C.SANITATION: frozenset(),
        C.AIR_QUALITY: frozenset(),
        C.NOISE: frozenset({A.PUBLIC_SECURITY, A.URBAN_MANAGEMENT}),
        C.INFRASTRUCTURE: frozenset({A.TRANSPORT}),
        C.PUBLIC_SAFETY: frozenset({A.FIRE_RESCUE}),
        C.DEVICE_FAULT: frozenset(),
    }
)

#: When two categories tie on severity, the one that threatens life first leads.
HAZARD_PRIORITY: Final[tuple[Category, ...]] = (
    C.FIRE, C.FLOOD, C.PUBLIC_SAFETY, C.INFRASTRUCTURE, C.ROAD_HAZARD, C.TRAFFIC,
    C.AIR_QUALITY, C.SANITATION, C.NOISE, C.DEVICE_FAULT,
)

#: Categories that are usually a consequence of the lead one (smoke raises PM2.5, a flood
#: jams traffic): they are handled by the lead agency and do not make an incident
#: multi-agency on their own.
CONSEQUENCES: Final = MappingProxyType(
    {
        C.FIRE: frozenset({C.AIR_QUALITY, C.TRAFFIC, C.PUBLIC_SAFETY, C.NOISE}),
        C.FLOOD: frozenset({C.TRAFFIC, C.ROAD_HAZARD, C.SANITATION}),
        C.PUBLIC_SAFETY: frozenset({C.TRAFFIC, C.NOISE}),
        C.INFRASTRUCTURE: frozenset({C.TRAFFIC, C.ROAD_HAZARD}),
        C.ROAD_HAZARD: frozenset({C.TRAFFIC}),
        C.TRAFFIC: frozenset({C.ROAD_HAZARD, C.NOISE}),
        C.AIR_QUALITY: frozenset({C.SANITATION}),
        C.SANITATION: frozenset({C.AIR_QUALITY}),
        C.NOISE: frozenset(),
        C.DEVICE_FAULT: frozenset(),
    }
)

#: Categories that, next to the key, are readings of the key's own effect (a fire's smoke
#: raises PM2.5): they neither lead nor raise severity.
ABSORBED: Final = MappingProxyType({C.FIRE: frozenset({C.AIR_QUALITY})})

#: Time to first response per severity (documented SLA table).
SLA: Final = MappingProxyType(
    {
        S.CRITICAL: timedelta(minutes=15),
        S.HIGH: timedelta(hours=1),
        S.MEDIUM: timedelta(hours=4),
        S.LOW: timedelta(hours=24),
        S.INFORMATIONAL: timedelta(hours=72),
    }
)

#: CAP urgency implied by severity (the rules' choice; a model may differ within ALLOWED_URGENCY).
URGENCY: Final = MappingProxyType(
    {
        S.CRITICAL: Urgency.IMMEDIATE,
        S.HIGH: Urgency.IMMEDIATE,
        S.MEDIUM: Urgency.EXPECTED,
        S.LOW: Urgency.FUTURE,
        S.INFORMATIONAL: Urgency.FUTURE,
    }
)

ALLOWED_URGENCY: Final = MappingProxyType(
    {
        S.CRITICAL: frozenset({Urgency.IMMEDIATE}),
        S.HIGH: frozenset({Urgency.IMMEDIATE, Urgency.EXPECTED}),
        S.MEDIUM: frozenset({Urgency.IMMEDIATE, Urgency.EXPECTED, Urgency.FUTURE}),
        S.LOW: frozenset({Urgency.EXPECTED, Urgency.FUTURE, Urgency.PAST, Urgency.UNKNOWN}),
        S.INFORMATIONAL: frozenset({Urgency.FUTURE, Urgency.PAST, Urgency.UNKNOWN}),
    }
)

#: CAP 1.2 ``severity`` words for our five levels (SPEC §3).
CAP_SEVERITY: Final = MappingProxyType(
    {
        S.CRITICAL: "Extreme",
        S.HIGH: "Severe",
        S.MEDIUM: "Moderate",
        S.LOW: "Minor",
        S.INFORMATIONAL: "Minor",
    }
)

#: CAP 1.2 ``category`` per incident category.
CAP_CATEGORY: Final = MappingProxyType(
    {
        C.FIRE: "Fire",
        C.FLOOD: "Met",
        C.ROAD_HAZARD: "Transport",
        C.TRAFFIC: "Transport",
        C.SANITATION: "Health",
        C.AIR_QUALITY: "Env",
        C.NOISE: "Env",
        C.INFRASTRUCTURE: "Infra",
        C.PUBLIC_SAFETY: "Safety",
        C.DEVICE_FAULT: "Other",
    }
)

VULNERABLE_PLACES: Final = frozenset({"school", "elderly_home", "hospital"})

#: Place tags that raise a category's severity by one level (at most one level in total, and
#: not beyond high: critical is kept for threats to life). Fire is the exception: at a
#: vulnerable place it is critical, at a market/metro/industrial site it may reach critical.
PLACE_RAISES: Final = MappingProxyType(
    {
        C.FIRE: frozenset({"market", "metro", "industrial"}),
        C.FLOOD: frozenset({"metro", "hospital", "elderly_home", "school"}),
        C.ROAD_HAZARD: frozenset({"highway"}),
        C.TRAFFIC: frozenset({"highway", "hospital"}),
        C.SANITATION: frozenset(),
        C.AIR_QUALITY: frozenset({"school", "hospital", "elderly_home"}),
        C.NOISE: frozenset({"hospital", "school", "elderly_home"}),
        C.INFRASTRUCTURE: frozenset({"school", "hospital", "elderly_home", "metro"}),
        C.PUBLIC_SAFETY: frozenset(),  # crowds are raised at metro/market in signals
        C.DEVICE_FAULT: frozenset(),
    }
)


def allowed_agencies(category: Category) -> frozenset[Agency]:
    return frozenset({LEAD_AGENCY[category]}) | ALTERNATE_AGENCIES[category]


def certainty_for(confidence: float, *, machine_observed: bool, independent_sources: int) -> Certainty:
    """CAP certainty from confidence and whether a device saw the hazard itself."""
    if confidence <= 0:
        return Certainty.UNKNOWN
    if (machine_observed and confidence >= 0.7) or independent_sources >= 3:
        return Certainty.OBSERVED
    if confidence >= 0.6:
        return Certainty.LIKELY
    if confidence >= 0.3:
        return Certainty.POSSIBLE
    return Certainty.UNLIKELY
