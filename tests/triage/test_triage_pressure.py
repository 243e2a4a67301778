"""Shouted training copies: same labels, a seeded share, never of manipulation records."""

from __future__ import annotations

from typing import Any

from triage.learned.pressure import PRESSURE_EN, PRESSURE_ZH, pressure_copies


def record(i: int, kind: str = "report", lang: str = "zh") -> dict[str, Any]:
    return {"incident_id": f"r{i:04d}", "observations": [{"source": "citizen", "text": f"楼下垃圾桶满了 {i}"}],
            "expected": {"category": "sanitation", "severity": "low", "agency": "urban_management"},
            "meta": {"writer": f"w{i % 3}", "kind": kind, "lang": lang}}


def test_copies_keep_labels_and_writer_and_add_one_phrase() -> None:
    records = [record(i) for i in range(400)]
    copies = pressure_copies(records, seed=7, share=0.3)
    assert 80 <= len(copies) <= 160
    for i, c in copies:
        o = records[i]
        assert c["expected"] == o["expected"] and c["meta"]["writer"] == o["meta"]["writer"]
        added = c["observations"][0]["text"].replace(o["observations"][0]["text"], "").strip()
        assert added in PRESSURE_ZH
    assert records[0]["observations"][0]["text"] == "楼下垃圾桶满了 0", "the records themselves are untouched"
    assert pressure_copies(records, seed=7, share=0.3) == copies


def test_no_copies_of_manipulation_or_textless_records() -> None:
    records = [record(i, kind="manipulation") for i in range(50)]
    textless = {**record(99), "observations": [{"source": "sensor", "metric": "pm25", "value": 80.0}]}
    assert pressure_copies([*records, textless], seed=7, share=1.0) == []


def test_english_reports_get_english_shouting() -> None:
    copies = pressure_copies([record(i, lang="en") for i in range(50)], seed=3, share=1.0)
    assert all(any(p in c["observations"][0]["text"] for p in PRESSURE_EN) for _, c in copies)
