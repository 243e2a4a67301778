"""The live learned backend: follows ``urbanops triage promote`` / ``rollback`` without a restart.

Every ``check_s`` seconds (at most, and only while incidents arrive) it reads which model the
registry names; when that changed it loads the new artefact and swaps it in between two
incidents. A model that fails to load leaves the previous one running.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from gateway.triage_svc.model_registry import ModelRegistry
from triage.backend import BackendConfigError, TriageConfig, TriageResult
from triage.learned.backend import LearnedBackend
from triage.models import Incident
from triage.rules import Clock, utc_now

log = logging.getLogger(__name__)


class LiveModelBackend:
    name = "learned"

    def __init__(self, config: TriageConfig, registry: ModelRegistry, *, clock: Clock = utc_now,
                 check_s: float = 5.0) -> None:
        self._config = config
        self._registry = registry
        self._clock = clock
        self._check_s = check_s
        self._path = registry.active_path()
        self._inner = self._load(self._path)
        self._next_check = time.monotonic() + check_s

    def _load(self, path: Path) -> LearnedBackend:
        return LearnedBackend(dataclasses.replace(self._config, learned_model=path), clock=self._clock)

    def refresh(self) -> bool:
        """Load the registry's active model if it is not the one running; True when swapped."""
        path = self._registry.active_path()
        if path == self._path:
            return False
        try:
            inner = self._load(path)
        except BackendConfigError as err:
            log.error("triage model %s not loaded, keeping %s: %s", path, self._path, err)
            return False
        log.info("triage model now %s (%s)", inner.model.version, path)
        self._inner, self._path = inner, path
        return True

    def assess(self, incident: Incident) -> TriageResult:
        if time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + self._check_s
            self.refresh()
        return self._inner.assess(incident)

    def close(self) -> None:
        self._inner.close()
