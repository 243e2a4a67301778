"""Pydantic v2 models of the triage contract (SPEC §3 taxonomy, §4 incident in, ticket out).

The closed vocabularies (category, severity, agency, ...) are ``devices.vocabulary``, shared
with the simulators' ground truth; they are imported here as the fields' types.

Input models are lenient where the world is messy (unknown fields ignored, long text cut,
naive timestamps read as UTC) and strict where a wrong value would mislead (closed enums,
ranges). Every string and list in the ticket is bounded so the JSON schema derived from it
is a finite contract.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from devices.vocabulary import (
    Agency,
    Category,
    Certainty,
    Severity,
    Source,
    TicketStatus,
    Urgency,
)
from triage import pii

#: The city's clock when the caller gives none (night noise is night in the city, not on the server).
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
MAX_TEXT = 2000  # citizen text beyond this is cut, not refused: a long report is still a report


def _as_utc(value: Any) -> Any:
    """Naive timestamps are read as UTC; aware ones are converted to UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value  # let pydantic report the bad value
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


UtcDatetime = Annotated[datetime, BeforeValidator(_as_utc)]


def _cut(limit: int) -> BeforeValidator:
    def cut(value: Any) -> Any:
        return value[:limit] if isinstance(value, str) else value

    return BeforeValidator(cut)


ShortText = Annotated[str, _cut(64), Field(max_length=64)]
LongText = Annotated[str, _cut(MAX_TEXT), Field(max_length=MAX_TEXT)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Position(_Input):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    alt_m: float | None = Field(default=None, allow_inf_nan=False)


class Observation(_Input):
    source: Source
    device_id: ShortText | None = None
    device_kind: ShortText | None = None
    ts: UtcDatetime | None = None
    label: ShortText | None = None
    confidence: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    count: int | None = Field(default=None, ge=0)
    metric: ShortText | None = None
    value: float | None = Field(default=None, allow_inf_nan=False)
    text: LongText | None = None
    position: Position | None = None

    @field_validator("label", "metric")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.strip().lower() if value else value

    @field_validator("text")
    @classmethod
    def _mask_personal_data(cls, value: str | None) -> str | None:
        """Phones, ID numbers, plates, e-mails and names never reach a ticket, prompt or audit
        (text masked at the edge with the deployment's salt passes unchanged)."""
        return pii.mask(value) if value else value


class Location(_Input):
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    address: Annotated[str, _cut(200), Field(max_length=200)] | None = None
    place_tags: list[ShortText] = Field(default_factory=list, max_length=32)

    @field_validator("place_tags")
    @classmethod
    def _norm_tags(cls, tags: list[str]) -> list[str]:
        return sorted({t.strip().lower() for t in tags if t.strip()})


class Incident(_Input):
    incident_id: str = Field(min_length=1, max_length=128)
    opened_at: UtcDatetime | None = None
    district: ShortText | None = None
    location: Location | None = None
    observations: list[Observation] = Field(max_length=1000)


# --- output -------------------------------------------------------------------------------

Line = Annotated[str, Field(min_length=1, max_length=200)]


class Evidence(BaseModel):
    """One observation the ticket rests on, reduced to what a person needs to check it."""

    model_config = ConfigDict(extra="forbid")

    source: Source
    device_id: str | None = Field(default=None, max_length=64)
    ts: UtcDatetime | None = None
    label: str | None = Field(default=None, max_length=64)
    metric: str | None = Field(default=None, max_length=64)
    value: float | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    text: str | None = Field(default=None, max_length=280)


class Citation(BaseModel):
    """A section of one of the city's plans that the ticket's actions follow (the knowledge base)."""

    model_config = ConfigDict(extra="forbid")

    plan: str = Field(max_length=64, description="plan id in the city pack")
    section: int = Field(ge=1, le=999, description="section number (the same in every language version)")
    lang: Literal["en", "zh"]
    title: str = Field(max_length=200, description="the plan's title")
    heading: str = Field(max_length=200, description="the section's heading")
    score: float = Field(ge=0, le=1, description="BM25 score of the section as a share of the query's best possible")
    url: str = Field(max_length=200, description="the plan in the API, anchored at the section")


class TriageInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["rules", "learned", "llm"]
    model: str = Field(max_length=200)
    latency_ms: float = Field(ge=0)
    prompt_version: str | None = Field(default=None, max_length=64)
    fallback: bool = False  # True when the llm backend answered with the rules result


class Ticket(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: str = Field(min_length=1, max_length=140)
    incident_id: str = Field(min_length=1, max_length=128)
    category: Category
    severity: Severity
    agency: Agency
    urgency: Urgency
    certainty: Certainty
    summary: str = Field(min_length=1, max_length=500)
    actions: list[Line] = Field(min_length=1, max_length=10)
    sla_due: UtcDatetime
    confidence: float = Field(ge=0, le=1)
    needs_review: bool
    review_reasons: list[Line] = Field(default_factory=list, max_length=10)
    triage: TriageInfo
    evidence: list[Evidence] = Field(default_factory=list, max_length=20)
    language: Literal["en", "zh"] = "en"
    rule_trace: list[Line] = Field(default_factory=list, max_length=40)
    related_categories: list[Category] = Field(default_factory=list, max_length=10)
    citations: list[Citation] = Field(default_factory=list, max_length=3)
    status: TicketStatus = TicketStatus.OPEN
    district: str | None = Field(default=None, max_length=64)
    location: Location | None = None
    opened_at: UtcDatetime | None = None

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)


def ticket_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of a serialized ticket: the format contract checked by eval."""
    return Ticket.model_json_schema(mode="serialization")
