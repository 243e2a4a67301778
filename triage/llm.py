"""The LLM backend: llama-cpp-python on a local GGUF model, bounded by the rules.

Per incident: the rules run first (always); the model gets the incident as quoted data plus
the rules' pre-assessment and must answer one JSON object constrained by a grammar built
from ``prompting.output_schema``; ``<think>`` blocks are stripped; the answer is validated
and passed through ``guardrails``. Generation runs on one worker thread and is stopped at
``timeout_s``. On timeout, invalid output or any model error the rules' ticket is returned
(``fallback=True``), so a ticket is always produced. ``llama_cpp`` is imported only here,
inside functions, so other processes never load it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from datetime import datetime
from pathlib import Path
from typing import Any

from triage.backend import RULES_VERSION, BackendConfigError, TriageConfig, TriageResult
from triage.citations import passages_for
from triage.guardrails import apply_guardrails
from triage.models import Incident, TriageInfo
from triage.prompting import (
    TOKEN_SAMPLES,
    InvalidOutput,
    build_messages,
    load_prompt,
    output_schema,
    parse_output,
    skeleton_answer,
)
from triage.rules import Assessment, Clock, assess_rules, utc_now
from triage.ticket import build_ticket


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_llama(config: TriageConfig, path: Path) -> Any:
    try:
        from llama_cpp import Llama
    except ImportError as err:
        raise BackendConfigError("llm backend needs llama-cpp-python (pip install "
                                 "'urbanops[llm]')") from err
    try:
        return Llama(model_path=str(path), n_ctx=config.n_ctx, n_threads=config.threads,
                     n_gpu_layers=config.gpu_layers, seed=config.seed, verbose=False)
    except (ValueError, RuntimeError) as err:
        raise BackendConfigError(f"cannot load model {path.name}: {err}") from err


def _check_grammar(schema: dict[str, Any]) -> None:
    """Fail at start-up, not silently: llama-cpp-python falls back to free JSON otherwise."""
    from llama_cpp import LlamaGrammar

    try:
        LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    except Exception as err:  # the converter raises assorted errors
        raise BackendConfigError(f"output schema does not compile to a grammar: {err}") from err


def _prior(config: TriageConfig) -> Callable[[Incident], Assessment]:
    """What the model is shown as the pre-assessment, and what the guardrails hold it to: the
    learned model's decision under the rules' policy when its artefact loads, else the rules."""
    from triage.learned.backend import learned_assessment
    from triage.learned.model import DEFAULT_MODEL, ModelFileError, TextModel

    try:
        model = TextModel(Path(config.learned_model or DEFAULT_MODEL))
    except ModelFileError:
        return assess_rules
    return lambda incident: learned_assessment(model, incident, config.timezone)[0]


class LlmBackend:
    name = "llm"

    def __init__(self, config: TriageConfig, clock: Clock = utc_now) -> None:
        if config.llm_model is None:
            raise BackendConfigError("llm backend needs llm_model (URBANOPS_LLM_MODEL)")
        path = Path(config.llm_model)
        if not path.is_file():
            raise BackendConfigError(f"model file not found: {path}")
        self._config = config
        self._clock = clock
        self.model_file = path.name
        self.model_sha256 = file_sha256(path)
        self.prompt = load_prompt()
        self._llama = _load_llama(config, path)
        self.schema = output_schema(config.max_tokens, *self._token_costs())
        _check_grammar(self.schema)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="triage-llm")
        self._prior = _prior(config)

    def _count(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _token_costs(self) -> tuple[float, int]:
        """Tokens per character (worst of zh/en) and tokens of the JSON skeleton + margin."""
        per_char = max(self._count(s) / len(s) for s in TOKEN_SAMPLES)
        return per_char, self._count(skeleton_answer()) + 24

    # -- generation -----------------------------------------------------------------------

    def _generate(self, messages: list[dict[str, str]], cancel: threading.Event) -> tuple[str, str]:
        stream = self._llama.create_chat_completion(
            messages=messages,
            response_format={"type": "json_object", "schema": self.schema},
            max_tokens=self._config.max_tokens, temperature=0.0, seed=self._config.seed,
            stream=True,
        )
        parts: list[str] = []
        finish = "unknown"
        for chunk in stream:
            if cancel.is_set():  # checked per token: a timed-out call stops generating
                return "".join(parts), "cancelled"
            choice = chunk["choices"][0]
            parts.append(choice.get("delta", {}).get("content") or "")
            finish = choice.get("finish_reason") or finish
        return "".join(parts), finish

    def _fits(self, messages: list[dict[str, str]]) -> bool:
        text = "\n".join(m["content"] for m in messages)
        tokens = len(self._llama.tokenize(text.encode("utf-8"), add_bos=True, special=False))
        return tokens + self._config.max_tokens + 64 <= self._config.n_ctx

    def _messages(self, incident: Incident, a: Assessment) -> list[dict[str, str]] | None:
        lang = "zh" if a.language == "zh" else "en"
        found = passages_for(incident, a, lang, self._config.city)
        for max_obs, max_text, plans in ((12, 300, found), (12, 300, found[:1]), (4, 120, [])):
            messages = build_messages(self.prompt, incident, a, max_obs, max_text, plans)
            if self._fits(messages):
                return messages
        return None

    # -- the backend ----------------------------------------------------------------------

    def assess(self, incident: Incident) -> TriageResult:
        start = time.perf_counter()
        now = self._clock()
        a = self._prior(incident)
        raw: str | None = None
        messages = self._messages(incident, a)
        if messages is None:
            return self._fallback(incident, a, now, start, "error: prompt exceeds n_ctx", raw)
        cancel = threading.Event()
        future = self._pool.submit(self._generate, messages, cancel)
        try:
            raw, finish = future.result(timeout=self._config.timeout_s)
        except FuturesTimeout:
            cancel.set()
            return self._fallback(incident, a, now, start, "timeout", raw)
        except Exception as err:  # any model failure ends in the rules ticket
            return self._fallback(incident, a, now, start, f"error: {type(err).__name__}: {err}", raw)
        try:
            proposal = parse_output(raw, self.schema)
        except InvalidOutput as err:
            reason = f"invalid ({finish}): {err}"
            return self._fallback(incident, a, now, start, reason, raw)
        guarded = apply_guardrails(a, proposal)
        latency = (time.perf_counter() - start) * 1000
        info = TriageInfo(backend="llm", model=self.model_file, latency_ms=round(latency, 3),
                          prompt_version=self.prompt.version)
        ticket = build_ticket(incident, guarded.assessment, info, now,
                              summary=guarded.summary, extra_actions=guarded.extra_actions,
                              city=self._config.city)
        return TriageResult(
            ticket=ticket, backend="llm", model_file=self.model_file,
            model_sha256=self.model_sha256, prompt_version=self.prompt.version,
            prompt_sha256=self.prompt.sha256, raw_output=raw,
            validation="clipped: " + "; ".join(guarded.clips) if guarded.clips else "ok",
            latency_ms=latency, guardrail_clips=guarded.clips, incident=incident,
        )

    def _fallback(self, incident: Incident, a: Assessment, now: datetime, start: float, reason: str,
                  raw: str | None) -> TriageResult:
        a.trace.append(f"llm unusable ({reason[:120]}): rules decision kept")
        latency = (time.perf_counter() - start) * 1000
        info = TriageInfo(backend="rules", model=RULES_VERSION, latency_ms=round(latency, 3),
                          prompt_version=self.prompt.version, fallback=True)
        return TriageResult(
            ticket=build_ticket(incident, a, info, now, city=self._config.city), backend="llm",
            model_file=self.model_file, model_sha256=self.model_sha256,
            prompt_version=self.prompt.version, prompt_sha256=self.prompt.sha256,
            raw_output=raw, validation=reason, latency_ms=latency, fallback=True,
            incident=incident,
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
