"""Schemas: the ticket contract is bounded and every dev-set ticket validates against it."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

from tests.triage.conftest import dev_lines
from triage.assess import assess_lines
from triage.backend import RulesBackend
from triage.models import Ticket, ticket_json_schema
from triage.prompting import output_schema


def _walk(schema: Any, defs: dict[str, Any], path: str, seen: set[str]) -> list[str]:
    """Paths of strings without maxLength and arrays without maxItems."""
    problems: list[str] = []
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                problems += _walk(defs[name], defs, f"{path}->{name}", seen | {name})
        kind = schema.get("type")
        if kind == "string" and "maxLength" not in schema and "enum" not in schema \
                and schema.get("format") != "date-time":
            problems.append(path)
        if kind == "array" and "maxItems" not in schema:
            problems.append(path)
        for key in ("properties",):
            for name, sub in schema.get(key, {}).items():
                problems += _walk(sub, defs, f"{path}.{name}", seen)
        for key in ("items", "anyOf", "oneOf", "allOf"):
            if key in schema:
                subs = schema[key] if isinstance(schema[key], list) else [schema[key]]
                for sub in subs:
                    problems += _walk(sub, defs, f"{path}[{key}]", seen)
    return problems


def test_ticket_schema_is_bounded() -> None:
    schema = ticket_json_schema()
    assert _walk(schema, schema.get("$defs", {}), "ticket", set()) == []
    for field in ("ticket_id", "incident_id", "category", "severity", "agency", "urgency",
                  "certainty", "summary", "actions", "sla_due", "confidence", "needs_review", "triage"):
        assert field in schema["required"], field


def test_llm_output_schema_is_bounded_and_fits_max_tokens() -> None:
    for max_tokens in (256, 384, 1024):
        for per_char in (0.7, 1.0, 2.0):
            schema = output_schema(max_tokens, per_char, overhead_tokens=110)
            assert _walk(schema, {}, "out", set()) == []
            props = schema["properties"]
            text_room = props["summary"]["maxLength"] + props["rationale"]["maxLength"] + \
                props["actions"]["maxItems"] * props["actions"]["items"]["maxLength"]
            assert text_room * per_char + 110 <= max_tokens
            assert schema["additionalProperties"] is False


def test_every_dev_ticket_is_schema_valid() -> None:
    validator = Draft202012Validator(ticket_json_schema())
    lines = dev_lines()
    out = list(assess_lines(lines, RulesBackend()))
    assert len(out) == len(lines)
    for line in out:
        data = json.loads(line)
        errors = list(validator.iter_errors(data))
        assert errors == [], (data["incident_id"], errors[0].message)
        Ticket.model_validate(data)


def test_schema_rejects_out_of_contract_values() -> None:
    validator = Draft202012Validator(ticket_json_schema())
    good = json.loads(next(assess_lines(dev_lines()[:1], RulesBackend())))
    for field, bad in (("severity", "extreme"), ("category", "weather"), ("urgency", "now"),
                       ("confidence", 1.5), ("summary", "x" * 501)):
        assert not validator.is_valid({**good, field: bad}), field
