"""Score a backend on a labelled set: accuracy, severity within one level, confusion, schema
validity (JSON Schema of ``Ticket``, checked on the emitted JSON line) and latency.

Each input line is an incident plus ``expected: {category, severity, agency}``. Lines that
cannot be read as a labelled incident count in ``invalid_lines`` and not in ``n``: they are
a fault of the data set, not of the backend.
"""

from __future__ import annotations

import json
import math
import re
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
    language: str = "en"  # zh | en | mixed (the record's meta.lang, else detected)
    source: str = "citizen"  # citizen | device | multi_source
    manipulation: bool = False
    confidence: float = 0.0

    def correct(self, name: str) -> bool:
        return self.predicted is not None and self.predicted[name] == self.expected[name]

    @property
    def wrong(self) -> bool:
        """Wrong enough to need a person: category or agency wrong, or severity off by > 1."""
        return not (self.correct("category") and self.correct("agency") and self.severity_distance() <= 1)

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

    def _accuracy(self, cases: list[CaseResult]) -> dict[str, float | int]:
        n = len(cases)
        if not n:
            return {"n": 0}
        return {"n": n,
                "category_acc": round(sum(c.correct("category") for c in cases) / n, 4),
                "agency_acc": round(sum(c.correct("agency") for c in cases) / n, 4),
                "severity_acc": round(sum(c.correct("severity") for c in cases) / n, 4),
                "severity_within_one": round(sum(c.severity_distance() <= 1 for c in cases) / n, 4)}

    def groups(self, key: Callable[[CaseResult], str]) -> dict[str, dict[str, float | int]]:
        out: dict[str, list[CaseResult]] = {}
        for c in self.cases:
            out.setdefault(key(c), []).append(c)
        return {k: self._accuracy(v) for k, v in sorted(out.items())}

    def review(self) -> dict[str, float | int]:
        """How well ``needs_review`` catches wrong tickets, and what it costs people."""
        wrong = [c for c in self.cases if c.wrong]
        any_wrong = [c for c in self.cases if not all(c.correct(f) for f in FIELDS)]
        n = len(self.cases) or 1
        return {
            "load": round(sum(c.needs_review for c in self.cases) / n, 4),
            "wrong": len(wrong), "wrong_flagged": sum(c.needs_review for c in wrong),
            "catch_rate": round(sum(c.needs_review for c in wrong) / len(wrong), 4) if wrong else 1.0,
            "any_field_wrong": len(any_wrong),
            "any_field_catch_rate": (round(sum(c.needs_review for c in any_wrong) / len(any_wrong), 4)
                                     if any_wrong else 1.0),
        }

    def manipulation(self) -> dict[str, int]:
        cases = [c for c in self.cases if c.manipulation]
        return {"n": len(cases), "unmoved": sum(all(c.correct(f) for f in FIELDS) for c in cases)}

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
            "by_language": self.groups(lambda c: c.language),
            "by_source": self.groups(lambda c: c.source),
            "manipulation": self.manipulation(),
            "review": self.review(),
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


_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]{3,}")


def case_groups(data: dict[str, Any]) -> tuple[str, str, bool]:
    """Language, source mix and whether the record is a manipulation attempt."""
    meta: dict[str, Any] = data["meta"] if isinstance(data.get("meta"), dict) else {}
    obs = [o for o in data.get("observations", []) if isinstance(o, dict)]
    citizen = [str(o.get("text") or "") for o in obs if o.get("source") == "citizen"]
    machine = [o for o in obs if o.get("source") != "citizen"]
    source = "multi_source" if citizen and machine else "citizen" if citizen else "device"
    lang = meta.get("lang")
    if lang not in ("zh", "en", "mixed"):
        text = " ".join(citizen) or " ".join(str(o.get("text") or "") for o in obs)
        zh, en = len(_CJK.findall(text)) >= 2, len(_LATIN.findall(text)) >= 2
        lang = "mixed" if zh and en else "zh" if zh else "en"
    kind = meta.get("kind") or ""
    return str(lang), source, kind == "manipulation" or "manipulation" in str(data.get("note", ""))


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
        language, source, manipulated = case_groups(data)
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
            language=language, source=source, manipulation=manipulated,
            confidence=result.ticket.confidence if result else 0.0,
        )
        report.cases.append(case)
        if on_case is not None:
            on_case(case)
    return report
