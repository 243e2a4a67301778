"""The registry of triage backends: ``make_backend(name, config)`` builds one by name.

It sits above the backends (``backend`` → ``llm``, ``learned`` → ``registry``), so none of
them imports it and there is no cycle. Heavy backends are imported when first built.
"""

from __future__ import annotations

from collections.abc import Callable

from triage.backend import BackendConfigError, RulesBackend, TriageBackend, TriageConfig
from triage.rules import Clock, utc_now

BackendFactory = Callable[[TriageConfig, Clock], TriageBackend]
_REGISTRY: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    _REGISTRY[name] = factory


def backend_names() -> list[str]:
    return sorted(_REGISTRY)


def make_backend(name: str | None = None, config: TriageConfig | None = None, *,
                 clock: Clock = utc_now) -> TriageBackend:
    """Build backend ``name`` (default: ``config.backend``); ``BackendConfigError`` if it cannot."""
    config = config or TriageConfig()
    name = name or config.backend
    factory = _REGISTRY.get(name)
    if factory is None:
        raise BackendConfigError(f"unknown triage backend {name!r}; known: {', '.join(backend_names())}")
    return factory(config, clock)


def _make_llm(config: TriageConfig, clock: Clock) -> TriageBackend:
    from triage.llm import LlmBackend  # keeps llama_cpp out of processes that never use it

    return LlmBackend(config, clock=clock)


def _make_learned(config: TriageConfig, clock: Clock) -> TriageBackend:
    from triage.learned.backend import LearnedBackend  # numpy model, loaded once

    return LearnedBackend(config, clock=clock)


register_backend("rules", lambda config, clock: RulesBackend(clock, config.city))
register_backend("learned", _make_learned)
register_backend("llm", _make_llm)
