"""The platform's shared words (SPEC §3/§4): incident categories, severities, agencies, CAP
urgency and certainty, observation sources, ticket statuses, and each category's lead agency.

Triage decides with them, the simulators write ground truth in them, the gateway stores and
serves them. Nothing here depends on any other package of the project.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Category(StrEnum):
    FIRE = "fire"
    FLOOD = "flood"
    ROAD_HAZARD = "road_hazard"
    TRAFFIC = "traffic"
    SANITATION = "sanitation"
    AIR_QUALITY = "air_quality"
    NOISE = "noise"
    INFRASTRUCTURE = "infrastructure"
    PUBLIC_SAFETY = "public_safety"
    DEVICE_FAULT = "device_fault"


class Severity(StrEnum):
    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return SEVERITY_ORDER.index(self)

    def shifted(self, steps: int) -> Severity:
        """This severity moved ``steps`` levels, clamped to the scale."""
        return SEVERITY_ORDER[max(0, min(len(SEVERITY_ORDER) - 1, self.rank + steps))]


SEVERITY_ORDER: tuple[Severity, ...] = tuple(Severity)


class Agency(StrEnum):
    FIRE_RESCUE = "fire_rescue"
    EMERGENCY_MANAGEMENT = "emergency_management"
    URBAN_MANAGEMENT = "urban_management"
    TRANSPORT = "transport"
    WATER_AFFAIRS = "water_affairs"
    ECOLOGY_ENVIRONMENT = "ecology_environment"
    PUBLIC_SECURITY = "public_security"
    HOUSING_CONSTRUCTION = "housing_construction"
    DEVICE_OPS = "device_ops"


class Urgency(StrEnum):
    """CAP 1.2 ``urgency``."""

    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class Certainty(StrEnum):
    """CAP 1.2 ``certainty``."""

    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


class Source(StrEnum):
    VISION = "vision"
    SENSOR = "sensor"
    ROBOT = "robot"
    CITIZEN = "citizen"
    DEVICE = "device"


class TicketStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


#: The agency that owns an incident of one category (triage's policy tables build on it; the
#: simulators' ground truth expects it).
LEAD_AGENCY: Final = MappingProxyType(
    {
        Category.FIRE: Agency.FIRE_RESCUE,  # also explosions, flammable-gas and hazardous-material leaks
        Category.FLOOD: Agency.WATER_AFFAIRS,  # also drainage and burst water mains
        Category.ROAD_HAZARD: Agency.TRANSPORT,
        Category.TRAFFIC: Agency.TRANSPORT,
        Category.SANITATION: Agency.URBAN_MANAGEMENT,
        Category.AIR_QUALITY: Agency.ECOLOGY_ENVIRONMENT,
        Category.NOISE: Agency.ECOLOGY_ENVIRONMENT,
        Category.INFRASTRUCTURE: Agency.HOUSING_CONSTRUCTION,
        Category.PUBLIC_SAFETY: Agency.PUBLIC_SECURITY,
        Category.DEVICE_FAULT: Agency.DEVICE_OPS,
    }
)
