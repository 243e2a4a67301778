"""Prompt files, the bounded output schema and the parsing of model output.

The output schema bounds every string and array, and sizes them from ``max_tokens`` so a
complete answer always fits: an unbounded field lets a small model ramble until the token
limit cuts the JSON off. The same schema drives the llama.cpp grammar and the validation.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field

from triage.citations import Passage
from triage.injection import screen
from triage.models import Agency, Category, Certainty, Incident, Severity, Urgency
from triage.rules import Assessment

PROMPT_VERSION = "triage_v2"
MAX_PASSAGE_TEXT = 400  # characters of each plan section shown to the model
MAX_PROMPT_OBSERVATIONS = 12
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


class PromptError(Exception):
    """A prompt file is missing or malformed."""


@dataclass(frozen=True)
class Prompt:
    version: str
    sha256: str
    system: str
    user: str

    def render_user(self, **values: str) -> str:
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.user)


def load_prompt(version: str = PROMPT_VERSION) -> Prompt:
    try:
        raw = (resources.files("triage.prompts") / f"{version}.md").read_bytes()
    except (FileNotFoundError, OSError) as err:
        raise PromptError(f"prompt {version!r} not found") from err
    text = raw.decode("utf-8")
    try:
        _, rest = text.split("=== system ===\n", 1)
        system, user = rest.split("=== user ===\n", 1)
    except ValueError as err:
        raise PromptError(f"prompt {version!r} lacks system/user sections") from err
    return Prompt(version, hashlib.sha256(raw).hexdigest(), system.strip(), user.strip())


def output_schema(max_tokens: int, tokens_per_char: float = 1.0,
                  overhead_tokens: int = 110) -> dict[str, Any]:
    """JSON schema of the model's answer; free-text room scales with ``max_tokens``.

    ``overhead_tokens`` go to keys, enums and punctuation; the rest is shared by the free
    text at ``tokens_per_char`` (measured on the model's own tokenizer by the backend: about
    2 for Chinese on SmolLM2, under 1 on DeepSeek).
    """
    room = max(60, int((max_tokens - overhead_tokens) / max(tokens_per_char, 0.25)))
    summary, rationale, action = int(room * 0.4), int(room * 0.2), int(room * 0.2)

    def text(limit: int) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": limit}

    return {
        "type": "object",
        "properties": {
            "rationale": text(rationale),
            "category": {"type": "string", "enum": [c.value for c in Category]},
            "severity": {"type": "string", "enum": [s.value for s in Severity]},
            "agency": {"type": "string", "enum": [a.value for a in Agency]},
            "urgency": {"type": "string", "enum": [u.value for u in Urgency]},
            "certainty": {"type": "string", "enum": [c.value for c in Certainty]},
            "confidence_pct": {"type": "integer", "enum": list(range(0, 101, 10))},
            "summary": text(summary),
            "actions": {"type": "array", "items": text(action), "minItems": 0, "maxItems": 2},
        },
        "required": ["rationale", "category", "severity", "agency", "urgency", "certainty",
                     "confidence_pct", "summary", "actions"],
        "additionalProperties": False,
    }


class Proposal(BaseModel):
    """A validated model answer (before guardrails)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rationale: str
    category: Category
    severity: Severity
    agency: Agency
    urgency: Urgency
    certainty: Certainty
    confidence_pct: int = Field(ge=0, le=100)
    summary: str
    actions: list[str] = Field(max_length=2)


class InvalidOutput(ValueError):
    """Model output that is not one schema-valid JSON object."""


def strip_reasoning(text: str) -> str:
    """Drop DeepSeek-R1 style ``<think>...</think>`` blocks (and an unclosed one)."""
    text = _THINK.sub("", text)
    if "</think>" in text:  # the template opened <think> for the model: keep what follows
        text = text.rsplit("</think>", 1)[1]
    if "<think>" in text:
        text = text.split("<think>", 1)[0]
    return text.strip()


def parse_output(raw: str, schema: dict[str, Any]) -> Proposal:
    text = strip_reasoning(raw)
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise InvalidOutput("no JSON object in output")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as err:
        raise InvalidOutput(f"bad JSON: {err}") from err
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: e.path)
    if errors:
        where = "/".join(str(p) for p in errors[0].path) or "(root)"
        raise InvalidOutput(f"schema: {where}: {errors[0].message[:200]}")
    return Proposal.model_validate(data)


def _data_json(value: Any) -> str:
    # "<" and ">" are escaped so quoted text cannot close the <incident> block
    text = json.dumps(value, ensure_ascii=False, indent=1)
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def skeleton_answer() -> str:
    """The longest possible answer with empty free text: what the JSON itself costs."""
    return json.dumps({
        "rationale": "", "category": "infrastructure", "severity": "informational",
        "agency": "emergency_management", "urgency": "Immediate", "certainty": "Possible",
        "confidence_pct": 100, "summary": "", "actions": ["", ""],
    }, indent=1)


#: Samples to measure a tokenizer's worst case (tokens per character) for both languages.
TOKEN_SAMPLES = ("小区3栋12楼窗户冒出浓烟，还有明火，请立即派消防救援力量到场处置并疏散居民。",
                 "Smoke and flames from the 12th floor window; send the nearest fire unit now.")


def _quoted(text: str, limit: int) -> str:
    """Report text as sent to the model: instruction-like clauses are removed beforehand."""
    screened = screen(text)
    kept = "; ".join(screened.kept)[:limit]
    return kept + (" [instruction-like text removed]" if screened.quarantined else "")


def build_messages(prompt: Prompt, incident: Incident, a: Assessment,
                   max_observations: int = MAX_PROMPT_OBSERVATIONS,
                   max_text: int = 300, passages: Sequence[Passage] = ()) -> list[dict[str, str]]:
    loc = incident.location
    data = {
        "district": incident.district,
        "address": loc.address if loc else None,
        "place_tags": loc.place_tags if loc else [],
        "observations": [
            {k: v for k, v in {
                "source": o.source.value, "device": o.device_id, "label": o.label,
                "confidence": o.confidence, "count": o.count, "metric": o.metric,
                "value": o.value, "text": _quoted(o.text, max_text) if o.text else None,
            }.items() if v is not None}
            for o in incident.observations[:max_observations]
        ],
    }
    rules = {
        "category": a.category.value, "severity": a.severity.value, "agency": a.agency.value,
        "evidence_categories": sorted(c.value for c in a.candidates),
        "reasons": a.trace[-6:],
    }
    language = "Chinese (简体中文)" if a.language == "zh" else "English"
    plans = [{"plan": p.plan_title, "section": f"{p.section}. {p.heading}", "text": p.text[:MAX_PASSAGE_TEXT]}
             for p in passages]
    user = prompt.render_user(incident_json=_data_json(data), rules_json=_data_json(rules),
                              language=language, plans_json=_data_json(plans))
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}]
