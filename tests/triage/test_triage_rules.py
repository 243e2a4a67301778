"""The rules backend: documented decisions, one behaviour per test."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.triage.conftest import incident
from triage import taxonomy as tx
from triage.backend import RulesBackend
from triage.models import Agency, Category, Certainty, Severity, Urgency
from triage.wording import ACTIONS


def vision(label: str, conf: float = 0.85, **kw: object) -> dict[str, object]:
    return {"source": "vision", "device_id": "drone-03", "label": label, "confidence": conf, **kw}


def citizen(text: str) -> dict[str, object]:
    return {"source": "citizen", "text": text}


def sensor(metric: str, value: float, dev: str = "sen-1") -> dict[str, object]:
    return {"source": "sensor", "device_id": dev, "metric": metric, "value": value}


def test_fire_near_school_or_elderly_home_is_critical(rules: RulesBackend) -> None:
    for tag in ("school", "elderly_home", "hospital"):
        t = rules.assess(incident(vision("smoke"), tags=(tag,))).ticket
        assert (t.category, t.severity, t.agency) == (Category.FIRE, Severity.CRITICAL, Agency.FIRE_RESCUE)
        assert any("critical" in line for line in t.rule_trace)
    plain = rules.assess(incident(vision("smoke"), tags=("park",))).ticket
    assert plain.severity is Severity.MEDIUM


def test_place_raise_stops_at_high_except_for_fire(rules: RulesBackend) -> None:
    t = rules.assess(incident(citizen("高速上一辆货车翻车了"), tags=("highway",))).ticket
    assert (t.category, t.severity) == (Category.TRAFFIC, Severity.HIGH)
    f = rules.assess(incident(vision("fire"), tags=("market",))).ticket
    assert f.severity is Severity.CRITICAL


def test_issue_example_is_one_fire_ticket(rules: RulesBackend) -> None:
    inc = incident(vision("smoke", 0.87), sensor("gas_lel_pct", 12.0, "gas-12"),
                   citizen("3栋楼里一直在冒烟"), citizen("闻到很浓的煤气味"), tags=("residential",))
    t = rules.assess(inc).ticket
    assert (t.category, t.severity, t.agency) == (Category.FIRE, Severity.HIGH, Agency.FIRE_RESCUE)
    assert t.certainty is Certainty.OBSERVED
    assert t.confidence > 0.9 and not t.needs_review
    assert len(t.evidence) == 4


def test_emergency_management_leads_multi_agency_incidents(rules: RulesBackend) -> None:
    typhoon = rules.assess(incident(citizen("台风过后，路口积水很深，大树倒了压住了车"))).ticket
    assert typhoon.agency is Agency.EMERGENCY_MANAGEMENT
    assert typhoon.severity.rank >= Severity.HIGH.rank
    mass = rules.assess(incident(citizen("Building collapse, many people injured"))).ticket
    assert (mass.agency, mass.severity) == (Agency.EMERGENCY_MANAGEMENT, Severity.CRITICAL)
    # a consequence (smoke raising PM2.5) does not make a fire multi-agency, nor lead it
    fire = rules.assess(incident(vision("fire", 0.9), sensor("pm25", 260.0))).ticket
    assert (fire.category, fire.agency, fire.severity) == (Category.FIRE, Agency.FIRE_RESCUE, Severity.HIGH)


@pytest.mark.parametrize(("text", "category"), [
    ("路口积水很深，车开不过去", Category.FLOOD),
    ("There's a huge pothole in the middle lane", Category.ROAD_HAZARD),
    ("小区门口天天有人违停", Category.TRAFFIC),
    ("The bins are overflowing, rats everywhere", Category.SANITATION),
    ("工地扬尘太大了", Category.AIR_QUALITY),
    ("Construction at night again, jackhammer at 1am", Category.NOISE),
    ("人行道上的井盖不见了", Category.INFRASTRUCTURE),
    ("A man with a knife is threatening people", Category.PUBLIC_SAFETY),
    ("The cleaning robot is stuck in the fountain", Category.DEVICE_FAULT),
    ("fire hydrant leaking on the sidewalk", Category.FLOOD),
    ("Someone is burning garbage in the empty lot", Category.AIR_QUALITY),
])
def test_lexicon_categories_zh_en(rules: RulesBackend, text: str, category: Category) -> None:
    t = rules.assess(incident(citizen(text))).ticket
    assert t.category is category
    assert t.agency is tx.LEAD_AGENCY[category]


def test_negation_and_people_cues(rules: RulesBackend) -> None:
    hurt = rules.assess(incident(citizen("Car crash at the junction, one driver is injured"))).ticket
    fine = rules.assess(incident(citizen("Minor collision, nobody injured, lane blocked"))).ticket
    assert hurt.severity is Severity.HIGH and fine.severity is Severity.MEDIUM
    trapped = rules.assess(incident(citizen("着火了！五楼有人被困在阳台上"))).ticket
    assert trapped.severity is Severity.CRITICAL
    no_one = rules.assess(incident(citizen("楼下垃圾桶着火了，没有人被困"))).ticket
    assert no_one.severity is Severity.HIGH


def test_summary_in_language_of_reports(rules: RulesBackend) -> None:
    zh = rules.assess(incident(vision("smoke"), citizen("楼道里有浓烟"))).ticket
    en = rules.assess(incident(vision("smoke"), citizen("thick smoke in the stairwell"))).ticket
    none = rules.assess(incident(vision("smoke"))).ticket
    assert zh.language == "zh" and any("\u4e00" <= ch <= "\u9fff" for ch in zh.summary)
    assert en.language == "en" and en.summary.isascii()
    assert none.language == "en"
    assert zh.actions == ACTIONS[Category.FIRE]["zh"]


def test_actions_are_concrete_per_category_and_escalate(rules: RulesBackend) -> None:
    for category in Category:
        assert len(ACTIONS[category]["en"]) >= 3 and len(ACTIONS[category]["zh"]) >= 3
    crit = rules.assess(incident(vision("fire"), tags=("school",))).ticket
    assert crit.actions[0].startswith("Notify the emergency management duty officer")
    assert any("school" in a for a in crit.actions)


@pytest.mark.parametrize("severity", list(Severity))
def test_sla_table(severity: Severity) -> None:
    assert tx.SLA[severity] == {
        Severity.CRITICAL: timedelta(minutes=15), Severity.HIGH: timedelta(hours=1),
        Severity.MEDIUM: timedelta(hours=4), Severity.LOW: timedelta(hours=24),
        Severity.INFORMATIONAL: timedelta(hours=72),
    }[severity]


def test_sla_due_counts_from_opened_at(rules: RulesBackend) -> None:
    t = rules.assess(incident(vision("fire"), tags=("school",))).ticket
    assert t.opened_at is not None
    assert t.sla_due - t.opened_at == timedelta(minutes=15)
    assert t.urgency is Urgency.IMMEDIATE


def test_needs_review_for_weak_or_unclassifiable_evidence(rules: RulesBackend) -> None:
    weak = rules.assess(incident(vision("garbage", 0.33))).ticket
    assert weak.needs_review and weak.severity is Severity.INFORMATIONAL
    empty = rules.assess(incident(citizen("hello, is anyone there?"))).ticket
    assert empty.needs_review and "no classifiable evidence" in empty.review_reasons
    tie = rules.assess(incident(citizen("路口积水了，还有一棵树倒了"))).ticket
    assert tie.category is Category.FLOOD  # the flood explains the road hazard


def test_sensor_thresholds_feed_rules(rules: RulesBackend) -> None:
    assert rules.assess(incident(sensor("pm25", 310.0))).ticket.severity is Severity.CRITICAL
    assert rules.assess(incident(sensor("pm25", 40.0))).ticket.category is Category.PUBLIC_SAFETY
    bad = rules.assess(incident(sensor("pm25", 4200.0))).ticket
    assert (bad.category, bad.agency) == (Category.DEVICE_FAULT, Agency.DEVICE_OPS)


def test_rules_are_deterministic(rules: RulesBackend) -> None:
    inc = incident(vision("smoke"), citizen("冒烟了"), sensor("gas_lel_pct", 11.0))
    a, b = rules.assess(inc).ticket, rules.assess(inc).ticket
    a.triage.latency_ms = b.triage.latency_ms = 0
    assert a == b


def test_rules_audit_record_is_complete(rules: RulesBackend) -> None:
    import json

    inc = incident(vision("smoke"), citizen("冒烟了"))
    result = rules.assess(inc)
    record = json.loads(json.dumps(result.audit_record()))
    assert record["backend"] == "rules" and record["model_file"] == "rules-v1"
    assert record["validation"] == "ok" and record["fallback"] is False
    assert record["ticket"]["incident_id"] == "inc-test" and len(record["observations"]) == 2
    assert record["latency_ms"] >= 0
