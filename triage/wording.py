"""Summaries and recommended actions in Chinese and English.

Summaries are built only from fixed vocabulary (category, severity, labels, metrics, lexicon
terms), the incident's address and device ids: never from the free text of a report, so a
report cannot put words into the ticket.
"""

from __future__ import annotations

from triage.models import Agency, Category, Severity
from triage.signals import Signal

C, S, A = Category, Severity, Agency

CATEGORY_NAME = {
    "en": {C.FIRE: "fire", C.FLOOD: "flooding", C.ROAD_HAZARD: "road hazard",
           C.TRAFFIC: "traffic problem", C.SANITATION: "sanitation problem",
           C.AIR_QUALITY: "air pollution", C.NOISE: "noise", C.INFRASTRUCTURE:
           "infrastructure damage", C.PUBLIC_SAFETY: "public safety incident",
           C.DEVICE_FAULT: "device fault"},
    "zh": {C.FIRE: "火情", C.FLOOD: "积水内涝", C.ROAD_HAZARD: "道路隐患", C.TRAFFIC: "交通问题",
           C.SANITATION: "环境卫生问题", C.AIR_QUALITY: "空气污染", C.NOISE: "噪声扰民",
           C.INFRASTRUCTURE: "设施损坏", C.PUBLIC_SAFETY: "治安/人身安全事件",
           C.DEVICE_FAULT: "设备故障"},
}
SEVERITY_NAME = {
    "en": {S.INFORMATIONAL: "Informational", S.LOW: "Low", S.MEDIUM: "Medium", S.HIGH: "High",
           S.CRITICAL: "Critical"},
    "zh": {S.INFORMATIONAL: "提示", S.LOW: "低", S.MEDIUM: "中", S.HIGH: "高", S.CRITICAL: "特急"},
}
AGENCY_NAME = {
    A.FIRE_RESCUE: "消防救援", A.EMERGENCY_MANAGEMENT: "应急管理", A.URBAN_MANAGEMENT: "城市管理",
    A.TRANSPORT: "交通运输", A.WATER_AFFAIRS: "水务", A.ECOLOGY_ENVIRONMENT: "生态环境",
    A.PUBLIC_SECURITY: "公安", A.HOUSING_CONSTRUCTION: "住房建设", A.DEVICE_OPS: "设备运维",
}
SOURCE_NAME = {
    "en": {"vision": "camera", "sensor": "sensor", "robot": "robot", "citizen": "citizen report",
           "device": "platform"},
    "zh": {"vision": "视觉识别", "sensor": "传感器", "robot": "机器人", "citizen": "市民报告",
           "device": "平台"},
}
PLACE_NAME = {"school": "学校", "elderly_home": "养老院", "hospital": "医院", "metro": "地铁",
              "market": "市场", "industrial": "工业区", "highway": "高速公路", "river": "河道"}

_E, _Z = "en", "zh"
ACTIONS: dict[Category, dict[str, list[str]]] = {
    C.FIRE: {
        _E: ["Dispatch the nearest fire and rescue unit", "Cordon off the area and keep people away",
             "Check for people inside and evacuate the building",
             "Cut gas and power to the affected building"],
        _Z: ["派最近的消防救援力量出警", "设置警戒区，疏散围观人员", "核查楼内人员并组织疏散",
             "关闭受影响建筑的燃气和电源"],
    },
    C.FLOOD: {
        _E: ["Send a water-affairs drainage crew with pumps", "Close flooded road sections and divert traffic",
             "Clear blocked drains and inlets", "Warn residents of low-lying and underground spaces"],
        _Z: ["派水务排涝队携带水泵到场", "封闭积水路段并疏导交通", "清理堵塞的雨水口和排水管",
             "提醒低洼处和地下空间的居民"],
    },
    C.ROAD_HAZARD: {
        _E: ["Send a road maintenance crew", "Place warning signs and cones around the hazard",
             "Remove the obstruction or repair the surface", "Close the lane if it cannot be cleared quickly"],
        _Z: ["派道路养护人员到场", "在隐患周围设置警示标志和锥桶", "清除障碍物或修补路面",
             "无法迅速清除时封闭车道"],
    },
    C.TRAFFIC: {
        _E: ["Notify traffic management to attend", "Clear the obstruction or tow the vehicle",
             "Divert traffic and update road status"],
        _Z: ["通知交通管理部门到场处置", "清理障碍或拖移车辆", "疏导交通并发布路况"],
    },
    C.SANITATION: {
        _E: ["Dispatch a sanitation crew to clean up", "Empty or replace overflowing bins",
             "Record the spot for illegal-dumping follow-up"],
        _Z: ["派环卫人员清理", "清运或更换满溢的垃圾桶", "登记点位以便追查乱倒垃圾"],
    },
    C.AIR_QUALITY: {
        _E: ["Ask ecology and environment to verify readings on site", "Identify and stop the emission source",
             "Advise sensitive groups nearby to limit outdoor activity"],
        _Z: ["请生态环境部门到场核实数据", "查找并制止污染源", "提醒周边敏感人群减少户外活动"],
    },
    C.NOISE: {
        _E: ["Ask ecology and environment to measure noise on site",
             "Identify the source and order it to stop or comply",
             "Check construction permits for night work"],
        _Z: ["请生态环境部门到场监测噪声", "查明噪声源并责令停止或整改", "核查夜间施工许可"],
    },
    C.INFRASTRUCTURE: {
        _E: ["Send housing and construction inspectors", "Cordon off the damaged structure",
             "Secure or replace the damaged part (cover, lamp, panel)"],
        _Z: ["派住建部门人员到场检查", "对受损设施设置围挡警戒", "加固或更换受损部件（井盖、路灯、构件）"],
    },
    C.PUBLIC_SAFETY: {
        _E: ["Dispatch police to the scene", "Call an ambulance if anyone is hurt or unresponsive",
             "Keep onlookers back and secure the area"],
        _Z: ["派警力到场处置", "如有人员受伤或失去意识，立即呼叫120", "疏散围观人员并控制现场"],
    },
    C.DEVICE_FAULT: {
        _E: ["Assign device operations to check the device", "Verify its last data and mark readings suspect",
             "Repair, recharge or replace the device"],
        _Z: ["安排设备运维人员检查设备", "核对最后上报的数据并标记可疑读数", "维修、充电或更换设备"],
    },
}
EXTRA = {
    "critical": {_E: "Notify the emergency management duty officer now",
                 _Z: "立即报告应急管理值班领导"},
    "multi": {_E: "Open multi-agency coordination led by emergency management",
              _Z: "启动由应急管理牵头的多部门联动"},
    "vulnerable": {_E: "Contact the {place} on site and prepare to evacuate it",
                   _Z: "联系现场{place}负责人并做好疏散准备"},
}


def actions_for(category: Category, severity: Severity, multi: bool, places: frozenset[str],
                lang: str, also: tuple[Category, ...] = ()) -> list[str]:
    steps = list(ACTIONS[category][lang])
    for other in also:  # each other agency's first step, after the lead's
        steps.insert(len(ACTIONS[category][lang]) - 1, ACTIONS[other][lang][0])
    if multi:
        steps.insert(0, EXTRA["multi"][lang])
    if severity is S.CRITICAL:
        steps.insert(0, EXTRA["critical"][lang])
    for place in sorted(places & {"school", "elderly_home", "hospital"}):
        name = PLACE_NAME[place] if lang == _Z else place.replace("_", " ")
        steps.append(EXTRA["vulnerable"][lang].format(place=name))
    return steps[:8]


def _evidence_phrase(s: Signal, lang: str) -> str:
    src = SOURCE_NAME[lang][s.source.value]
    dev = f" {s.device_id}" if s.device_id else ""
    if s.value is not None:
        return f"{src}{dev} {s.what}={s.value:g}"
    if s.source.value == "citizen":
        return f"{src}「{s.what}」" if lang == _Z else f'{src} "{s.what}"'
    conf = f" ({s.confidence:.0%})" if s.source.value == "vision" else ""
    return f"{src}{dev} {s.what}{conf}"


def summary_for(category: Category, severity: Severity, where: str, places: frozenset[str],
                signals: list[Signal], cue_terms: list[str], lang: str,
                also: tuple[Category, ...] = ()) -> str:
    lead = [s for s in signals if s.category is category] or signals
    shown = [_evidence_phrase(s, lang) for s in lead[:4]]
    more = len(lead) - len(shown)
    near = [p for p in sorted(places) if p in PLACE_NAME]
    if lang == _Z:
        head = f"{where}{CATEGORY_NAME[_Z][category]}（{SEVERITY_NAME[_Z][severity]}）"
        if near:
            head += "，附近有" + "、".join(PLACE_NAME[p] for p in near)
        body = "；".join(shown) + (f"等{len(lead)}条" if more > 0 else "")
        cues = f"；提及：{'、'.join(dict.fromkeys(cue_terms))}" if cue_terms else ""
        other = f"；另涉及{'、'.join(CATEGORY_NAME[_Z][c] for c in also)}" if also else ""
        text = f"{head}。依据：{body or '无'}{cues}{other}。"
    else:
        head = f"{SEVERITY_NAME[_E][severity]} {CATEGORY_NAME[_E][category]} at {where}"
        if near:
            head += " near " + ", ".join(p.replace("_", " ") for p in near)
        body = "; ".join(shown) + (f" and {more} more" if more > 0 else "")
        cues = f"; mentions: {', '.join(dict.fromkeys(cue_terms))}" if cue_terms else ""
        other = f"; also {', '.join(CATEGORY_NAME[_E][c] for c in also)}" if also else ""
        text = f"{head}. Evidence: {body or 'none'}{cues}{other}."
    return text[:500]
