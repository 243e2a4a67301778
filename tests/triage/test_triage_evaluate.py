"""Evaluation metrics, and the rules backend's targets on the labelled dev set."""

from __future__ import annotations

import json

import pytest

from tests.triage.conftest import DEV_SET, dev_lines, fixed_clock
from triage.backend import RulesBackend, TriageResult
from triage.evaluate import evaluate, percentile
from triage.models import Agency, Category, Incident, Severity


class Scripted:
    """A backend answering from a table: makes the metric arithmetic checkable."""

    name = "scripted"

    def __init__(self, answers: dict[str, tuple[str, str, str]]) -> None:
        self.answers = answers
        self.rules = RulesBackend(clock=fixed_clock)

    def assess(self, incident: Incident) -> TriageResult:
        result = self.rules.assess(incident)
        cat, sev, ag = self.answers[incident.incident_id]
        result.ticket = result.ticket.model_copy(update={
            "category": Category(cat), "severity": Severity(sev), "agency": Agency(ag)})
        return result

    def close(self) -> None:
        self.rules.close()


def labelled(iid: str, cat: str, sev: str, ag: str) -> str:
    return json.dumps({"incident_id": iid, "observations": [],
                       "expected": {"category": cat, "severity": sev, "agency": ag}})


def test_metrics_arithmetic() -> None:
    lines = [labelled("a", "fire", "high", "fire_rescue"), labelled("b", "flood", "low", "water_affairs"),
             labelled("c", "noise", "medium", "ecology_environment"),
             labelled("d", "traffic", "critical", "transport"), "not json",
             json.dumps({"incident_id": "e", "observations": []})]
    backend = Scripted({
        "a": ("fire", "high", "fire_rescue"),  # all right
        "b": ("flood", "medium", "water_affairs"),  # severity one off
        "c": ("noise", "medium", "urban_management"),  # agency wrong
        "d": ("fire", "low", "fire_rescue"),  # all wrong, severity far off
    })
    s = evaluate(lines, backend).summary()
    assert s["n"] == 4 and s["invalid_lines"] == 2
    assert s["category_acc"] == 0.75 and s["agency_acc"] == 0.5
    assert s["severity_acc"] == 0.5 and s["severity_within_one"] == 0.75
    assert s["schema_valid"] == 1.0 and s["backend"] == "scripted"
    assert s["confusion"]["category"]["traffic"] == {"fire": 1}
    assert {m["incident_id"] for m in s["mistakes"]} == {"b", "c", "d"}


def test_percentile_nearest_rank() -> None:
    assert percentile([], 95) == 0.0
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile(list(range(1, 101)), 95) == 95


def test_dev_set_is_labelled_and_covers_the_taxonomy() -> None:
    cases = [json.loads(line) for line in dev_lines()]
    assert len(cases) >= 200
    assert {c["expected"]["category"] for c in cases} == {c.value for c in Category}
    assert sum(len({o["source"] for o in c["observations"]}) > 1 for c in cases) >= 10
    zh = sum(any("\u4e00" <= ch <= "\u9fff" for o in c["observations"] for ch in o.get("text", ""))
             for c in cases)
    en = sum(any(o.get("text", "").isascii() and o.get("source") == "citizen" and o.get("text")
                 for o in c["observations"]) for c in cases)
    assert zh >= 50 and en >= 50


@pytest.mark.timeout(120)
def test_rules_backend_meets_targets_on_dev_set() -> None:
    s = evaluate(DEV_SET.read_text(encoding="utf-8").splitlines(), RulesBackend()).summary()
    assert s["n"] >= 200 and s["invalid_lines"] == 0
    assert s["category_acc"] >= 0.95, s["mistakes"]
    assert s["agency_acc"] >= 0.95, s["mistakes"]
    assert s["severity_acc"] >= 0.85, s["mistakes"]
    assert s["severity_within_one"] >= 0.98, s["mistakes"]
    assert s["schema_valid"] == 1.0
    assert s["p95_ms"] <= 20.0
