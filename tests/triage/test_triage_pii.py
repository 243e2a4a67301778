"""Personal data in report text is masked before it reaches a ticket, the audit or a prompt."""

from __future__ import annotations

import json

import pytest

from tests.triage.conftest import fixed_clock, incident
from triage.backend import RulesBackend, TriageConfig
from triage.learned.backend import LearnedBackend
from triage.pii import found, mask

PERSONAL = {
    "phone": ["13812345678", "+86 139-2345-6789", "0755-83456789", "+852 9123 4567"],
    "id": ["440301199001011234", "44030119851231567X"],
    "plate": ["粤B12345", "粤B·D12345", "湘A 8K2M9"],
    "email": ["li.ming@example.com"],
}
NAMES = [("我叫王小明，家住3栋", "王小明"), ("联系人：陈大文", "陈大文"),
         ("my name is John Smith, flat 12B", "John Smith"), ("Mrs Okafor next door", "Okafor"), ("免贵姓黄", "黄")]


@pytest.mark.parametrize(("kind", "value"), [(k, v) for k, vs in PERSONAL.items() for v in vs])
def test_each_kind_is_masked(kind: str, value: str) -> None:
    text = f"路口那辆车一直堵着，有事打我 {value} 谢谢"
    masked = mask(text)
    assert value not in masked
    assert f"[{kind}#" in masked
    assert not found(masked)
    assert mask(masked) == masked  # idempotent: a placeholder is never masked again


@pytest.mark.parametrize(("text", "name"), NAMES)
def test_names_given_with_a_cue_are_masked(text: str, name: str) -> None:
    assert name not in mask(text)


def test_the_same_number_gives_the_same_placeholder_and_the_salt_matters() -> None:
    a, b = mask("电话13812345678"), mask("call 138 1234 5678")
    assert a.removeprefix("电话") == b.removeprefix("call ")
    assert mask("13812345678", b"city-a") != mask("13812345678", b"city-b")


def test_ordinary_numbers_are_left_alone() -> None:
    text = "3栋1203室门口，井盖坏了20多天，水深30cm，2026年11月28日"
    assert mask(text) == text


@pytest.mark.parametrize("backend", ["rules", "learned"])
def test_no_personal_value_reaches_the_ticket_or_the_audit(backend: str) -> None:
    values = [v for vs in PERSONAL.values() for v in vs]
    text = "小区门口一直有车乱停堵住消防通道，" + "，".join(values + [t for t, _ in NAMES[:3]])
    values += [n for _, n in NAMES[:3]]
    engine = RulesBackend(clock=fixed_clock) if backend == "rules" else LearnedBackend(TriageConfig(),
                                                                                        clock=fixed_clock)
    result = engine.assess(incident({"source": "citizen", "text": text, "ts": "2026-11-28T08:15:00+08:00"}))
    dumped = json.dumps(result.audit_record(), ensure_ascii=False)
    for value in values:
        assert value not in dumped, value
