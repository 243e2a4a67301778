"""Triage backends: the protocol, their configuration, the result and the rules backend.

The gateway builds one ``TriageConfig`` from its settings and calls
``triage.registry.make_backend(config.backend, config)``; everything it needs for the audit
table comes back in ``TriageResult``. ``triage/`` never reads the environment. The registry is
a module of its own because it imports the backends built on this one (``llm``, ``learned``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from triage.models import DEFAULT_TZ, Incident, Ticket, TriageInfo
from triage.rules import Clock, assess_rules, utc_now
from triage.ticket import CityContext, build_ticket

RULES_VERSION = "rules-v1"


class TriageError(Exception):
    """Base class of triage failures a caller can handle."""


class BackendConfigError(TriageError):
    """A backend cannot be built from the given configuration (unknown name, no model...)."""


@dataclass(frozen=True)
class TriageConfig:
    """Everything a backend needs; built by the caller (the gateway from its Settings)."""

    backend: str = "learned"  # learned | rules | llm
    llm_model: Path | None = None
    learned_model: Path | None = None  # None: the shipped triage/learned/weights model
    timezone: tzinfo = DEFAULT_TZ  # the city's clock (night noise is night in the city)
    timeout_s: float = 20.0
    max_tokens: int = 384
    threads: int | None = None
    n_ctx: int = 2048
    gpu_layers: int = 0  # layers offloaded to a GPU (-1: all) on a GPU triage worker
    seed: int = 0
    city: CityContext | None = None  # the city's SLA and place names (None: the built-in SLA table)
    # share of model-decided tickets flagged for review, least confident first (None: the
    # artefact's fixed threshold); see triage/learned/budget.py
    review_budget: float | None = 0.20


@dataclass
class TriageResult:
    """A ticket plus the audit record of how it was made (one audit row per decision)."""

    ticket: Ticket
    backend: str
    model_file: str | None = None
    model_sha256: str | None = None
    prompt_version: str | None = None
    prompt_sha256: str | None = None
    raw_output: str | None = None
    validation: str = "ok"  # ok | invalid: ... | timeout | error: ... | clipped: ...
    latency_ms: float = 0.0
    fallback: bool = False
    guardrail_clips: list[str] = field(default_factory=list)
    incident: Incident | None = None  # what the backend saw (for the audit row)
    model_version: str | None = None
    decided_by: str = "rules"  # rules | model | llm: which part set category/severity/agency

    def audit_record(self) -> dict[str, Any]:
        """The row the gateway writes to the audit hypertable (JSON-ready)."""
        return {
            "ticket_id": self.ticket.ticket_id, "incident_id": self.ticket.incident_id,
            "backend": self.backend, "model_file": self.model_file,
            "model_sha256": self.model_sha256, "prompt_version": self.prompt_version,
            "prompt_sha256": self.prompt_sha256, "raw_output": self.raw_output,
            "validation": self.validation, "latency_ms": round(self.latency_ms, 3),
            "fallback": self.fallback, "guardrail_clips": list(self.guardrail_clips),
            "model_version": self.model_version, "decided_by": self.decided_by,
            "ticket": self.ticket.model_dump(mode="json", exclude_none=True),
            "observations": [o.model_dump(mode="json", exclude_none=True)
                             for o in (self.incident.observations if self.incident else [])],
        }


@runtime_checkable
class TriageBackend(Protocol):
    name: str

    def assess(self, incident: Incident) -> TriageResult: ...

    def close(self) -> None: ...


class RulesBackend:
    """Deterministic rules (``triage.rules``); microseconds to milliseconds per incident."""

    name = "rules"

    def __init__(self, clock: Clock = utc_now, city: CityContext | None = None) -> None:
        self._clock = clock
        self._city = city

    def assess(self, incident: Incident) -> TriageResult:
        start = time.perf_counter()
        now: datetime = self._clock()
        assessment = assess_rules(incident)
        info = TriageInfo(backend="rules", model=RULES_VERSION, latency_ms=0.0)
        ticket = build_ticket(incident, assessment, info, now, city=self._city)
        latency = (time.perf_counter() - start) * 1000
        ticket.triage.latency_ms = round(latency, 3)
        return TriageResult(ticket=ticket, backend="rules", model_file=RULES_VERSION,
                            latency_ms=latency, incident=incident)

    def close(self) -> None:
        """Nothing to release; present so callers can close any backend."""
