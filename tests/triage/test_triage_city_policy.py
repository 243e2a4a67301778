"""A group of overrides relabels the corpus reports that read like it, and no others."""

from __future__ import annotations

from typing import Any

from triage.learned.city_policy import adopt_overrides
from triage.learned.train import make_example

CONSTRUCTION = ["凌晨一点工地还在打桩，吵得睡不着", "半夜工地打桩的声音太大了", "工地晚上十二点还在打桩施工",
                "夜里工地一直打桩，整栋楼都在震", "工地凌晨打桩扰民，连续三天了"]
# The rest of the category, as in a real corpus: mostly not construction.
DANCING = ["楼下广场舞音响太大了", "广场舞每天晚上放音乐很吵", "小区广场舞音箱声音太大",
           "广场舞大妈的音响吵死了", "每天晚上广场舞音乐开得很大声", "隔壁KTV唱到凌晨三点",
           "楼下酒吧音乐太吵，低音炮震得墙响", "The bar downstairs plays loud music until 3am",
           "邻居家的狗整晚叫个不停", "对面商店用大喇叭循环播放广告", "楼上半夜蹦迪跺脚",
           "KTV的音响声音太大了每天晚上", "卖菜的喇叭一大早就开始喊", "Neighbours karaoke every night till 2"]


def record(i: int, text: str, agency: str, override: bool = False) -> dict[str, Any]:
    return {"incident_id": f"r{i:03d}", "observations": [{"source": "citizen", "text": text}],
            "expected": {"category": "noise", "severity": "medium", "agency": agency},
            "meta": {"writer": "city", "kind": "override", "fields": ["agency"]} if override else {"writer": "t"}}


def test_overrides_relabel_reports_like_them_and_leave_the_rest() -> None:
    records = [record(i, t, "ecology_environment") for i, t in enumerate(CONSTRUCTION + DANCING)]
    records += [record(100 + i, t, "urban_management", override=True)
                for i, t in enumerate(["工地半夜打桩太吵了", "凌晨工地还在打桩", "工地夜间打桩噪音扰民"])]
    examples = [make_example(r) for r in records]
    changed = adopt_overrides(examples, records)
    # Rocchio's rule is approximate: a report sharing more filler words with the rest of
    # the category can stay (2 of 5 here); on the real corpus it moved 38 reports.
    moved = sum(e.agency == "urban_management" for e in examples[:len(CONSTRUCTION)])
    assert moved >= 3 and changed == {"agency": moved}
    assert {e.agency for e in examples[len(CONSTRUCTION):len(CONSTRUCTION) + len(DANCING)]} == {"ecology_environment"}


def test_two_overrides_are_tickets_not_a_policy() -> None:
    records = [record(i, t, "ecology_environment") for i, t in enumerate(CONSTRUCTION)]
    records += [record(100 + i, t, "urban_management", override=True) for i, t in enumerate(CONSTRUCTION[:2])]
    examples = [make_example(r) for r in records]
    assert adopt_overrides(examples, records) == {}


def test_the_holdout_is_scored_under_the_policy_the_overrides_teach() -> None:
    import json

    from gateway.triage_svc.promotion import under_city_policy

    corpus = [record(i, t, "ecology_environment") for i, t in enumerate(CONSTRUCTION + DANCING)]
    city = [record(100 + i, t, "urban_management", override=True)
            for i, t in enumerate(["工地半夜打桩太吵了", "凌晨工地还在打桩", "工地夜间打桩噪音扰民"])]
    holdout = [json.dumps(record(200, "凌晨工地还在打桩施工，太吵了", "ecology_environment"), ensure_ascii=False),
               json.dumps(record(201, "楼下广场舞音乐太吵了", "ecology_environment"), ensure_ascii=False)]
    scored, changed = under_city_policy(holdout, city, corpus)
    assert changed == {"agency": 1}
    assert [json.loads(line)["expected"]["agency"] for line in scored] == ["urban_management", "ecology_environment"]
    assert json.loads(holdout[0])["expected"]["agency"] == "ecology_environment"  # the frozen lines are not edited
    assert under_city_policy(holdout, city[:2], corpus) == (holdout, {})  # two overrides are not a policy
