"""Settings → ``TriageConfig`` and the backends: the one place that maps the triage settings."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from gateway.city import CityHolder, timezone_name
from gateway.settings import Settings
from gateway.triage_svc.model_registry import ModelRegistry
from triage.backend import TriageBackend, TriageConfig
from triage.registry import make_backend


def triage_config(settings: Settings, backend: str | None = None, model: Path | None = None,
                  city: CityHolder | None = None) -> TriageConfig:
    """``city``: the gateway's pack holder; None reads ``settings.city_dir`` (the CLI's one-off commands)."""
    city = city or CityHolder(settings.city_dir)
    name = backend or settings.triage_backend
    learned = model if name == "learned" and model is not None else settings.triage_model
    return TriageConfig(
        backend=name, llm_model=(model if name == "llm" else None) or settings.llm_model,
        timeout_s=settings.llm_timeout_s, max_tokens=settings.llm_max_tokens,
        threads=settings.llm_threads, n_ctx=settings.llm_ctx,
        learned_model=learned or ModelRegistry(settings.data_dir).active_path(),
        timezone=ZoneInfo(timezone_name(settings.city_timezone, city.pack)),
        city=city, review_budget=settings.triage_review_budget,
    )


def build_backend(settings: Settings, backend: str | None = None, model: Path | None = None,
                  city: CityHolder | None = None) -> TriageBackend:
    """The service's backend: a learned one follows promotions unless a model file is pinned."""
    config = triage_config(settings, backend, model, city)
    if config.backend == "learned" and settings.triage_model is None and model is None:
        from gateway.triage_svc.live_model import LiveModelBackend

        return LiveModelBackend(config, ModelRegistry(settings.data_dir))
    return make_backend(config.backend, config)


def build_shadow(settings: Settings, city: CityHolder | None = None) -> TriageBackend | None:
    """A candidate model run beside the live one: its decisions are audited, never acted on."""
    if settings.triage_shadow_model is None:
        return None
    return make_backend("learned", triage_config(settings, "learned", settings.triage_shadow_model, city))
