"""Score a backend on a labelled set: accuracy, severity within one level, confusion, schema
validity (JSON Schema of ``Ticket``, checked on the emitted JSON line) and latency.

Each input line is an incident plus ``expected: {category, severity, agency}``. Lines that
cannot be read as a labelled incident count in ``invalid_lines`` and not in ``n``: they are
a fault of the data set, not of the backend.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from triage.assess import assess_record
from triage.backend import TriageBackend
from triage.models import Agency, Category, Severity, ticket_json_schema

FIELDS = ("category", "severity", "agency")


@dataclass(frozen=True)
class CaseResult:
    incident_id: str
    expected: dict[str, str]
    predicted: dict[str, str] | None
    schema_valid: bool
    latency_ms: float
    needs_review: bool = False
    fallback: bool = False
    error: str | None = None

    def correct(self, name: str) -> bool:
        return self.predicted is not None and self.predicted[name] == self.expected[name]

    def severity_distance(self) -> int:
        if self.predicted is None:
            return 99
        return abs(Severity(self.predicted["severity"]).rank - Severity(self.expected["severity"]).rank)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for an empty list."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class EvalReport:
    backend: str
    cases: list[CaseResult] = field(default_factory=list)
    invalid_lines: int = 0

    def _rate(self, hits: int) -> float:
        return round(hits / len(self.cases), 4) if self.cases else 0.0

    def confusion(self, name: str) -> dict[str, dict[str, int]]:
        table: dict[str, Counter[str]] = {}
        for c in self.cases:
            got = c.predicted[name] if c.predicted else "<none>"
            table.setdefault(c.expected[name], Counter())[got] += 1
        return {k: dict(sorted(v.items())) for k, v in sorted(table.items())}

    def summary(self) -> dict[str, Any]:
        """SPEC §6 keys first, then the detail."""
        lat = [c.latency_ms for c in self.cases]
        return {
            "n": len(self.cases),
            "category_acc": self._rate(sum(c.correct("category") for c in self.cases)),
            "agency_acc": self._rate(sum(c.correct("agency") for c in self.cases)),
            "severity_acc": self._rate(sum(c.correct("severity") for c in self.cases)),
            "severity_within_one": self._rate(sum(c.severity_distance() <= 1 for c in self.cases)),
            "schema_valid": self._rate(sum(c.schema_valid for c in self.cases)),
            "p50_ms": round(percentile(lat, 50), 3),
            "p95_ms": round(percentile(lat, 95), 3),
            "backend": self.backend,
            "needs_review_rate": self._rate(sum(c.needs_review for c in self.cases)),
            "fallback_rate": self._rate(sum(c.fallback for c in self.cases)),
            "invalid_lines": self.invalid_lines,
            "confusion": {name: self.confusion(name) for name in FIELDS},
            "mistakes": [
                {"incident_id": c.incident_id, "expected": c.expected, "predicted": c.predicted}
                for c in self.cases if not all(c.correct(f) for f in FIELDS)
            ],
        }


def _expected(data: Any) -> dict[str, str] | None:
    exp = data.get("expected") if isinstance(data, dict) else None
    if not isinstance(exp, dict):
        return None
    try:
        return {"category": Category(exp["category"]).value,
                "severity": Severity(exp["severity"]).value,
                "agency": Agency(exp["agency"]).value}
    except (KeyError, ValueError):
        return None


def evaluate(lines: Iterable[str], backend: TriageBackend,
             on_case: Callable[[CaseResult], None] | None = None) -> EvalReport:
    validator = Draft202012Validator(ticket_json_schema())
    report = EvalReport(backend=backend.name)
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            report.invalid_lines += 1
            continue
        expected = _expected(data)
        if expected is None:
            report.invalid_lines += 1
            continue
        start = time.perf_counter()
        outcome = assess_record(data, backend, line_no)
        latency = (time.perf_counter() - start) * 1000
        emitted = json.loads(outcome.line)
        valid = outcome.result is not None and validator.is_valid(emitted)
        result = outcome.result
        case = CaseResult(
            incident_id=str(data.get("incident_id")), expected=expected,
            predicted={f: emitted[f] for f in FIELDS} if result else None,
            schema_valid=valid, latency_ms=latency,
            needs_review=bool(result and result.ticket.needs_review),
            fallback=bool(result and result.fallback), error=outcome.error_kind,
        )
        report.cases.append(case)
        if on_case is not None:
            on_case(case)
    return report
