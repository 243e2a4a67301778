"""Settings → ``TriageConfig``: the one place that maps the gateway's triage settings."""

from __future__ import annotations

from pathlib import Path

from gateway.settings import Settings
from triage.backend import TriageConfig


def triage_config(settings: Settings, backend: str | None = None, model: Path | None = None) -> TriageConfig:
    return TriageConfig(
        backend=backend or settings.triage_backend, llm_model=model or settings.llm_model,
        timeout_s=settings.llm_timeout_s, max_tokens=settings.llm_max_tokens,
        threads=settings.llm_threads, n_ctx=settings.llm_ctx,
    )
