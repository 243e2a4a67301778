"""Which sections of the city's plans a ticket cites, and the actions that point to them.

The query is built from what the incident shows (labels, metrics, places, in the ticket's
language) and the screened text of its reports; plans written for the ticket's categories are
preferred. The citizen's words choose among sections only: the category,
severity and agency are decided before, so a report cannot steer a ticket through its plans.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from triage.injection import screen
from triage.models import Category, Citation, Incident
from triage.rules import Assessment

MAX_CITATIONS = 2
_QUERY_TEXT = 600  # characters of report text per observation (the problem is usually early)

# What a device saw or measured, in the words plans use for it.
TERMS: dict[str, tuple[str, str]] = {
    # vision and robot labels
    "fire": ("火灾 明火 起火", "fire flames"),
    "smoke": ("烟雾 冒烟 浓烟", "smoke"),
    "garbage": ("垃圾 堆放", "garbage waste"),
    "flooding": ("积水 内涝 水浸", "flooding water standing"),
    "pothole": ("坑洼 路面", "pothole road surface"),
    "fallen_tree": ("倒伏 树木 倒树", "fallen tree"),
    "debris": ("散落 障碍物 杂物", "debris obstacle"),
    "damaged_manhole": ("井盖 破损", "manhole cover"),
    "person_down": ("倒地 伤员 人员", "person down casualty"),
    "crowd": ("人群 聚集 拥挤", "crowd gathering density"),
    "vehicle": ("车辆", "vehicle"),
    "illegal_parking": ("违停 车辆", "illegal parking vehicle"),
    "spill": ("泄漏 洒落 油污", "spill leak"),
    "obstacle": ("障碍物", "obstacle"),
    "stuck": ("受困", "stuck"),
    "bin_full": ("垃圾桶 满溢", "bin overflowing"),
    # sensor metrics
    "water_level_cm": ("积水 水位 深度", "water level depth flooding"),
    "rainfall_mm_h": ("降雨 雨量 暴雨", "rainfall rain"),
    "smoke_obscuration_pct": ("烟雾 烟感", "smoke detector"),
    "gas_lel_pct": ("燃气 可燃气体 泄漏 爆炸下限", "gas leak flammable lel"),
    "co": ("一氧化碳 气体", "carbon monoxide gas"),
    "pm25": ("空气 颗粒物", "air particulate"),
    "pm10": ("空气 颗粒物 扬尘", "air particulate dust"),
    "no2": ("二氧化氮 气体", "nitrogen dioxide gas"),
    "o3": ("臭氧", "ozone"),
    "manhole_tilt_deg": ("井盖 倾斜", "manhole cover tilt"),
    "bin_fill_pct": ("垃圾桶 满溢", "bin fill overflowing"),
    "temperature_c": ("温度 高温", "temperature heat"),
    "vibration_mm_s": ("振动", "vibration"),
    "noise_db": ("噪声", "noise"),
    # place tags
    "school": ("学校", "school"),
    "hospital": ("医院", "hospital"),
    "elderly_home": ("养老院 老人", "elderly home"),
    "metro": ("地铁 出入口 车站", "metro station entrance"),
    "market": ("市场", "market"),
    "industrial": ("工厂 企业 工业", "factory industrial plant"),
    "highway": ("高速 道路", "highway road"),
    "river": ("河道 河流", "river"),
    "park": ("公园", "park"),
    "residential": ("小区 住宅 居民", "residential building"),
    "road": ("道路 路面", "road"),
}


# Who saw it, in plan words: a sensor reading points to the plan's monitoring section.
SOURCE_TERMS: dict[str, tuple[str, str]] = {
    "sensor": ("传感器 读数 监测", "sensor reading monitoring"),
    "vision": ("视频 巡查 识别", "camera patrol detection"),
    "robot": ("机器人", "robot"),
}


class Passage(Protocol):
    """One retrieved plan section (``citypack.knowledge.Passage`` has these fields)."""

    @property
    def plan_id(self) -> str: ...
    @property
    def lang(self) -> str: ...
    @property
    def plan_title(self) -> str: ...
    @property
    def section(self) -> int: ...
    @property
    def heading(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def score(self) -> float: ...


class PlanLibrary(Protocol):
    """The city's plans, searchable (``citypack.knowledge.PlanIndex`` through the gateway's holder)."""

    def passages(self, query: str, lang: str, categories: Sequence[str], k: int) -> Sequence[Passage]: ...


def _categories(a: Assessment) -> list[Category]:
    return list(dict.fromkeys([a.category, *a.also]))


def query_for(incident: Incident, a: Assessment, lang: str) -> str:
    """The words the plans are searched with: what devices saw, the places, then the reports.

    The category's own name is left out: the plans for it are preferred anyway, and its words
    are in every section of them (they pulled every ticket to the plan's scope section).
    """
    i = 0 if lang == "zh" else 1
    words: list[str] = []
    for source in sorted({o.source.value for o in incident.observations}):
        if source in SOURCE_TERMS:
            words.append(SOURCE_TERMS[source][i])
    for o in incident.observations:
        for key in (o.label, o.metric):
            if key in TERMS:
                words.append(TERMS[key][i])
    for tag in sorted(a.places):
        if tag in TERMS:
            words.append(TERMS[tag][i])
    for o in incident.observations:
        if o.text:
            words.append(" ".join(screen(o.text[:_QUERY_TEXT]).kept))
    return " ".join(words)


def passages_for(incident: Incident, a: Assessment, lang: str, plans: PlanLibrary | None,
                 k: int = 2) -> list[Passage]:
    """The plan sections an LLM is shown (as quoted data) for this incident."""
    if plans is None:
        return []
    return list(plans.passages(query_for(incident, a, lang), lang, [c.value for c in _categories(a)], k))


def cite(incident: Incident, a: Assessment, lang: str, plans: PlanLibrary | None,
         k: int = MAX_CITATIONS) -> list[Citation]:
    """The sections to cite, best first (the same search the LLM's passages come from)."""
    return [Citation(plan=p.plan_id, section=p.section, lang="zh" if p.lang == "zh" else "en", title=p.plan_title[:200],
                     heading=p.heading[:200], score=p.score,
                     url=f"/api/v1/city/plans/{p.plan_id}?lang={p.lang}#section-{p.section}")
            for p in passages_for(incident, a, lang, plans, k)]


def citation_action(c: Citation, lang: str) -> str:
    """The recommended action a citation stands for: follow that section of that plan."""
    if lang == "zh":
        return f"按《{c.title}》第{c.section}节「{c.heading}」处置"[:200]
    return f"Follow section {c.section} ({c.heading}) of the {c.title}"[:200]
