"""The one code path from an incident record to a ticket line (CLI, eval and live pipeline).

Contract (SPEC §4): one output line per non-blank input line, in input order, carrying the
input's ``incident_id``. Blank lines are skipped. A line that is not valid JSON, not an
incident, or that the backend fails on yields an *error record* on its line instead of a
ticket, so the stream stays aligned and one bad record never stops the rest::

    {"incident_id": "inc-7" | null, "line": 7,
     "error": {"kind": "invalid_json" | "invalid_incident" | "backend_error", "message": "..."}}

A ticket line never has an ``error`` key; an error record never has a ``ticket_id``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from triage.backend import TriageBackend, TriageResult
from triage.models import Incident

MAX_LINE_BYTES = 1_000_000


@dataclass(frozen=True)
class Outcome:
    line: str  # the JSON line to emit: a ticket or an error record
    result: TriageResult | None = None  # set when a ticket was made (audit data inside)
    incident: Incident | None = None
    error_kind: str | None = None


def _error(kind: str, message: str, incident_id: Any, line_no: int | None) -> Outcome:
    record = {
        "incident_id": incident_id if isinstance(incident_id, str) else None,
        "line": line_no,
        "error": {"kind": kind, "message": message[:500]},
    }
    return Outcome(json.dumps(record, ensure_ascii=False, separators=(",", ":")), error_kind=kind)


def _short(err: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()[:5]]
    return "; ".join(parts)


def assess_record(record: str | bytes | Mapping[str, Any], backend: TriageBackend,
                  line_no: int | None = None) -> Outcome:
    """Parse one incident (JSON text or a decoded mapping) and triage it; never raises."""
    if isinstance(record, str | bytes):
        if len(record) > MAX_LINE_BYTES:
            return _error("invalid_json", f"line longer than {MAX_LINE_BYTES} bytes", None, line_no)
        try:
            data = json.loads(record)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            return _error("invalid_json", str(err), None, line_no)
    else:
        data = dict(record)
    incident_id = data.get("incident_id") if isinstance(data, dict) else None
    if not isinstance(data, dict):
        return _error("invalid_incident", "a JSON object is required", None, line_no)
    try:
        incident = Incident.model_validate(data)
    except ValidationError as err:
        return _error("invalid_incident", _short(err), incident_id, line_no)
    try:
        result = backend.assess(incident)
    except Exception as err:  # a backend bug must not stop the stream; it is reported in-line
        return _error("backend_error", f"{type(err).__name__}: {err}", incident_id, line_no)
    return Outcome(result.ticket.to_json(), result=result, incident=incident)


def assess_lines(lines: Iterable[str], backend: TriageBackend) -> Iterator[str]:
    """One ticket (or error record) JSON line per non-blank input line, in order."""
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        yield assess_record(line, backend, line_no).line
