"""How often tickets cite the plan sections a duty officer would open (the knowledge base's score).

A labelled set is JSON lines ``{"id", "incident", "relevant": [{"plan", "section"}], "note"}``
(``cities/<city>/evaluation/citations.*.jsonl``); ``relevant: []`` means no plan of the city
covers the incident, and the right answer is to cite nothing. Each incident goes through the
full triage backend, so a wrong category shows up here as a wrong citation, as it would live.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from triage.backend import TriageBackend
from triage.citations import Passage
from triage.models import Incident
from triage.ticket import CityContext

Key = tuple[str, int]


@dataclass(frozen=True)
class Case:
    id: str
    incident: Incident
    relevant: frozenset[Key]


def read_cases(paths: Iterable[Path]) -> list[Case]:
    cases = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                cases.append(Case(str(rec["id"]), Incident.model_validate(rec["incident"]),
                                  frozenset((str(r["plan"]), int(r["section"])) for r in rec["relevant"])))
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError(f"{path}:{n}: {err}") from err
    return cases


class TimedCity:
    """The city as triage sees it, timing the plan search (the retrieval's own cost, apart from triage)."""

    def __init__(self, inner: CityContext) -> None:
        self._inner = inner
        self.ms: list[float] = []

    def sla(self, category: str, severity: str) -> timedelta:
        return self._inner.sla(category, severity)

    def where(self, lat: float, lon: float, district: str | None, lang: str) -> str | None:
        return self._inner.where(lat, lon, district, lang)

    def passages(self, query: str, lang: str, categories: Sequence[str], k: int) -> Sequence[Passage]:
        start = time.perf_counter()
        try:
            return list(self._inner.passages(query, lang, categories, k))
        finally:
            self.ms.append((time.perf_counter() - start) * 1000)


@dataclass(frozen=True)
class Row:
    id: str
    category: str
    cited: list[Key]
    relevant: frozenset[Key]

    @property
    def hit(self) -> bool:
        return bool(set(self.cited) & self.relevant)

    @property
    def wrong(self) -> bool:
        """A miss: a plan applied and nothing relevant was cited, or none applied and something was."""
        return not self.hit if self.relevant else bool(self.cited)

    def out(self) -> dict[str, Any]:
        return {"id": self.id, "category": self.category, "cited": self.cited, "relevant": sorted(self.relevant)}


def _share(k: int, n: int) -> float | None:
    return round(k / n, 4) if n else None


def evaluate(cases: Sequence[Case], backend: TriageBackend, timer: TimedCity | None = None) -> dict[str, Any]:
    rows = []
    for case in cases:
        ticket = backend.assess(case.incident).ticket
        rows.append(Row(case.id, ticket.category.value, [(c.plan, c.section) for c in ticket.citations],
                        case.relevant))
    with_plan = [r for r in rows if r.relevant]
    without = [r for r in rows if not r.relevant]
    cited_total = sum(len(r.cited) for r in rows)
    cited_right = sum(len(set(r.cited) & r.relevant) for r in rows)
    out: dict[str, Any] = {
        "n": len(rows), "with_plan": len(with_plan), "without_plan": len(without),
        # the headline: a ticket that should cite a plan cites at least one relevant section
        "hit_rate": _share(sum(r.hit for r in with_plan), len(with_plan)),
        "top1_relevant": _share(sum(bool(r.cited) and r.cited[0] in r.relevant for r in with_plan), len(with_plan)),
        "precision": _share(cited_right, cited_total),
        "recall": _share(cited_right, sum(len(r.relevant) for r in rows)),
        "quiet_without_plan": _share(sum(not r.cited for r in without), len(without)),
        "citations_per_ticket": round(cited_total / len(rows), 3) if rows else None,
    }
    if timer is not None and timer.ms:
        ms = sorted(timer.ms)
        out["retrieval_p50_ms"] = round(statistics.median(ms), 3)
        out["retrieval_p95_ms"] = round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 3)
    out["misses"] = [r.out() for r in rows if r.wrong]
    return out
