"""Chinese and English keyword lexicons for citizen text (matching: ``triage.textscan``).

Each hazard term names a category and the severity a single credible report of it implies.
Cues do not name a category; they describe people or scale (trapped, injured, spreading,
many casualties, typhoon) and raise what the hazard terms found. Matching is
longest-term-first without overlaps, so "fire hydrant" is not a fire and "burning garbage"
is open burning, not a building fire. A term or cue preceded closely by a negation
("没有人受伤", "nobody was injured") does not count.

Severities are deliberately concrete: generic urgency words ("urgent", "紧急", "critical")
are not terms, because every report says them and they describe no hazard.
"""

from __future__ import annotations

import re
from enum import StrEnum

from triage.models import Category as C
from triage.models import Severity as S


class Cue(StrEnum):
    CRITICAL = "critical"  # someone trapped, dead, not breathing, explosion
    INJURED = "injured"  # people hurt: at least high
    SPREADING = "spreading"  # fire/flood growing: at least high
    MASS = "mass"  # mass casualties: critical, emergency management leads
    DISASTER = "disaster"  # typhoon, earthquake...: several agencies are likely
    PLACE = "place"  # text names a vulnerable place nearby
    IMMINENT = "imminent"  # a structure about to fall: infrastructure/road hazard at least high


_I, _L, _M, _H, _X = S.INFORMATIONAL, S.LOW, S.MEDIUM, S.HIGH, S.CRITICAL

# (term, severity) per category; zh terms match as substrings, en terms as whole words.
TERMS: dict[C, list[tuple[str, S]]] = {
    C.FIRE: [
        ("着火", _H), ("起火", _H), ("失火", _H), ("火灾", _H), ("烧起来", _H), ("明火", _H),
        ("火苗", _H), ("火光", _H), ("大火", _H), ("火警", _H), ("燃烧", _H), ("冒烟", _M),
        ("烟雾", _M), ("有烟", _M), ("浓烟", _H), ("黑烟", _M), ("烧焦味", _M), ("焦糊味", _M),
        ("爆炸", _X), ("爆燃", _X), ("燃气泄漏", _H), ("煤气泄漏", _H), ("天然气泄漏", _H),
        ("煤气味", _H), ("燃气味", _H), ("液化气", _H), ("危化品泄漏", _H), ("化学品泄漏", _H),
        ("fire", _H), ("on fire", _H), ("flames", _H), ("burning", _H), ("blaze", _H),
        ("ablaze", _H), ("smoke", _M), ("smoky", _M), ("burning smell", _M),
        ("smell of burning", _M), ("thick smoke", _H), ("explosion", _X), ("exploded", _X),
        ("blast", _X), ("gas leak", _H), ("smell gas", _H), ("smell of gas", _H),
        ("gas smell", _H), ("smells of gas", _H), ("chemical leak", _H), ("fire alarm", _M),
    ],
    C.FLOOD: [
        ("积水", _M), ("水浸", _M), ("内涝", _M), ("被淹", _H), ("淹了", _M), ("淹没", _H),
        ("水淹", _M), ("洪水", _H), ("漫过", _M), ("倒灌", _H), ("涨水", _M), ("河水上涨", _M),
        ("排水不畅", _L), ("下水道堵", _L), ("水管爆裂", _M), ("爆管", _M), ("水管破裂", _M),
        ("齐腰", _H), ("没过膝盖", _H), ("车被淹", _H), ("消防栓漏水", _L), ("消防栓", _L),
        ("flood", _M), ("flooded", _M), ("flooding", _M), ("standing water", _M),
        ("waterlogged", _M), ("water on the road", _M), ("submerged", _H), ("knee-deep", _H),
        ("waist-deep", _H), ("water rising", _M),
        ("burst water main", _M), ("water main burst", _M), ("burst pipe", _M),
        ("pipe burst", _M), ("drain blocked", _L), ("blocked drain", _L), ("clogged drain", _L),
        ("fire hydrant", _L),
    ],
    C.ROAD_HAZARD: [
        ("坑洼", _L), ("大坑", _M), ("深坑", _M), ("路面破损", _L), ("路面塌陷", _H),
        ("塌陷", _H), ("倒树", _M), ("树倒", _M), ("大树倒", _M), ("树倒了", _M), ("断枝", _L),
        ("树枝断", _L), ("落石", _M), ("石块", _L), ("障碍物", _L), ("杂物", _L), ("遗撒", _L),
        ("散落", _L), ("路面油污", _M), ("油污", _M), ("路面结冰", _M),
        ("pothole", _L), ("potholes", _L), ("huge pothole", _M), ("deep pothole", _M),
        ("sinkhole", _H), ("road collapse", _H),
        ("road collapsed", _H),
        ("fallen tree", _M), ("tree down", _M), ("tree fell", _M), ("tree fallen", _M),
        ("fallen branch", _L), ("debris", _L), ("rocks on the road", _M), ("obstacle", _L),
        ("oil slick", _M), ("oil on the road", _M), ("ice on the road", _M),
        ("fell off a truck", _L),
    ],
    C.TRAFFIC: [
        ("堵车", _L), ("拥堵", _L), ("塞车", _L), ("违停", _L), ("违章停车", _L), ("乱停车", _L),
        ("乱停", _L), ("占道停车", _L), ("堵住消防通道", _M), ("占用消防通道", _M), ("车祸", _M),
        ("交通事故", _M), ("追尾", _M), ("撞车", _M), ("相撞", _M), ("翻车", _H),
        ("红绿灯坏", _M), ("信号灯坏", _M), ("信号灯不亮", _M), ("红绿灯不亮", _M),
        ("traffic jam", _L), ("congestion", _L), ("gridlock", _L), ("illegally parked", _L),
        ("illegal parking", _L), ("double parked", _L), ("parked on the sidewalk", _L),
        ("blocking the driveway", _L), ("blocking the fire lane", _M), ("car crash", _M),
        ("collision", _M), ("accident", _M), ("crash", _M), ("rear-ended", _M),
        ("overturned", _H), ("rollover", _H), ("traffic light out", _M),
        ("traffic lights out", _M), ("traffic lights not working", _M), ("signal out", _M),
    ],
    C.SANITATION: [
        ("垃圾", _L), ("垃圾堆", _L), ("垃圾桶满", _L), ("满溢", _L), ("乱扔", _L), ("乱倒", _L),
        ("倾倒", _L), ("偷倒", _L), ("建筑垃圾", _L), ("恶臭", _L), ("臭味", _L), ("发臭", _L),
        ("死老鼠", _L), ("动物尸体", _L), ("粪便", _L), ("污水横流", _M), ("污水外溢", _M),
        ("化粪池", _M),
        ("garbage", _L), ("trash", _L), ("rubbish", _L), ("litter", _L), ("overflowing bin", _L),
        ("bins overflowing", _L), ("bin overflowing", _L), ("dumped", _L),
        ("dumping", _L), ("fly-tipping", _L), ("stink", _L), ("stench", _L), ("bad smell", _L),
        ("dead animal", _L), ("dead rat", _L), ("dead dog", _L), ("feces", _L), ("sewage", _M),
        ("rats", _L), ("老鼠", _L), ("overflowing", _L),
    ],
    C.AIR_QUALITY: [
        ("雾霾", _L), ("空气很差", _L), ("空气质量差", _L), ("扬尘", _L), ("灰尘很大", _L),
        ("粉尘", _L), ("废气", _L), ("刺鼻", _L), ("异味", _L), ("露天焚烧", _L), ("烧垃圾", _L),
        ("焚烧垃圾", _L), ("烟囱冒黑烟", _M), ("排放黑烟", _M), ("工厂排放", _M), ("喘不过气", _M),
        ("smog", _L), ("haze", _L), ("dust", _L), ("dusty", _L), ("fumes", _L), ("exhaust", _L),
        ("acrid", _L), ("eyes hurt", _L), ("chemical smell", _L), ("open burning", _L), ("burning trash", _L),
        ("burning garbage", _L), ("burning leaves", _L), ("black smoke from the chimney", _M),
        ("smoke from the factory", _M), ("factory smoke", _M), ("hard to breathe", _M),
    ],
    C.NOISE: [
        ("噪音", _L), ("噪声", _L), ("太吵", _L), ("很吵", _L), ("吵闹", _L), ("扰民", _L),
        ("施工噪音", _L), ("夜间施工", _M), ("半夜施工", _M), ("凌晨施工", _M), ("广场舞", _L),
        ("高音喇叭", _L), ("鸣笛", _L), ("装修声", _L), ("狗叫", _L), ("音响", _L), ("烟花", _L),
        ("鞭炮", _L),
        ("noise", _L), ("noisy", _L), ("loud music", _L), ("too loud", _L),
        ("construction noise", _L), ("jackhammer", _L), ("honking", _L), ("barking", _L),
        ("blaring", _L), ("ears hurt", _L), ("construction at night", _M), ("night construction", _M),
        ("fireworks", _L), ("firecrackers", _L),
    ],
    C.INFRASTRUCTURE: [
        ("井盖", _M), ("井盖丢失", _M), ("没有井盖", _M), ("井盖被偷", _M), ("井盖松动", _M),
        ("路灯不亮", _L), ("路灯坏", _L), ("路灯", _L), ("桥梁裂缝", _H), ("桥面裂缝", _H),
        ("桥墩", _M), ("墙体裂缝", _M), ("墙体开裂", _M), ("裂缝", _M), ("外墙脱落", _H),
        ("瓷砖掉落", _H), ("楼房倾斜", _H), ("房屋倾斜", _H), ("倒塌", _H), ("围墙倒塌", _H),
        ("广告牌", _M), ("电线掉落", _H), ("电线杆倒", _H), ("电线断", _H), ("脚手架", _M),
        ("护栏", _L),
        ("manhole", _M), ("manhole cover", _M), ("missing manhole cover", _M),
        ("open manhole", _M), ("streetlight", _L), ("streetlights", _L), ("street light", _L),
        ("street lights", _L), ("lamp post", _L), ("bridge crack", _H),
        ("cracks in the bridge", _H), ("crack in the bridge", _H), ("cracks in the wall", _M),
        ("crack", _M), ("cracks", _M), ("facade", _H), ("falling tiles", _H),
        ("leaning building", _H), ("building collapse", _H), ("collapsed building", _H),
        ("wall collapsed", _H), ("roof collapsed", _H), ("ceiling collapsed", _H),
        ("building collapsed", _H), ("billboard", _M), ("power line down", _H),
        ("downed power line", _H), ("live wire", _H), ("scaffolding", _M), ("guardrail", _L),
    ],
    C.PUBLIC_SAFETY: [
        ("打架", _M), ("斗殴", _M), ("打人", _M), ("持刀", _H), ("抢劫", _H), ("晕倒", _H),
        ("倒地", _H), ("昏倒", _H), ("昏迷", _H), ("人群拥挤", _M), ("拥挤", _M), ("踩踏", _X),
        ("跳楼", _X), ("轻生", _X), ("落水", _X), ("溺水", _X), ("走失", _H), ("可疑包裹", _M),
        ("可疑人员", _M), ("醉汉", _L), ("吵架", _L), ("聚集", _M), ("电梯困人", _M),
        ("困在电梯", _M), ("trapped in the elevator", _M), ("trapped in an elevator", _M),
        ("stuck in the elevator", _M), ("gunshots", _X), ("shots fired", _X),
        ("fight", _M), ("fighting", _M), ("brawl", _M), ("knife", _H), ("stabbing", _X),
        ("gun", _X), ("robbery", _H), ("mugging", _H), ("collapsed", _H), ("fainted", _H),
        ("unconscious", _H), ("person down", _H), ("lying on the ground", _H),
        ("overcrowded", _M), ("crowd", _L), ("crush", _X), ("stampede", _X),
        ("suicide", _X), ("threatening to jump", _X), ("drowning", _X),
        ("fell into the river", _X), ("missing child", _H), ("lost child", _H),
        ("suspicious package", _M), ("suspicious person", _M), ("drunk", _L), ("argument", _L),
    ],
    C.DEVICE_FAULT: [
        ("摄像头坏", _L), ("摄像头不亮", _L), ("传感器坏", _L), ("设备故障", _L), ("机器人卡住", _L),
        ("机器人坏", _L), ("无人机坠落", _M), ("监测设备", _L),
        ("camera broken", _L),
        ("sensor broken", _L), ("sensor damaged", _L), ("robot stuck", _L), ("robot broken", _L), ("drone crashed", _M),
    ],
}

#: Terms that name an object often used as a landmark ("smoke from a manhole", "car hit a
#: streetlight"): they count only when the report names no other hazard.
WEAK_TERMS = frozenset({"井盖", "路灯", "manhole", "streetlight", "streetlights", "street light",
                        "street lights", "lamp post"})

#: Words that contain a hazard term but describe none ("fire department"): matched, ignored.
STOP_TERMS = (
    "fire department", "fire station", "fire brigade", "fire truck", "fire engine", "fire exit",
    "fire escape", "firefighters", "fire fighters", "fire service", "消防队", "消防站", "消防车",
    "消防员", "smoke detector", "smoke alarm test", "烟感", "垃圾分类",
)

#: Patterns for phrasings a word list cannot hold (a hazard spread over a few words).
COMPOUNDS: list[tuple[str, C, S]] = [
    (r"(桥|立交|高架|天桥).{0,10}(裂缝|开裂|掉混凝土|掉落|坍塌)", C.INFRASTRUCTURE, _H),
    (r"\b(bridge|overpass|flyover)\b.{0,30}\b(cracks?|cracked|spalling|crumbling)\b",
     C.INFRASTRUCTURE, _H),
    (r"(楼|房子?|大楼|建筑).{0,6}(塌了|坍塌|倒塌)", C.INFRASTRUCTURE, _H),
    (r"(掉进|掉到|掉入|跌入|落入|跳进)了?.{0,3}(河|水|湖|江|海|池)", C.PUBLIC_SAFETY, _X),
    (r"\b(fell|fallen|jumped|slipped)\s+(into|in)\s+(the\s+)?(river|water|lake|sea|canal|pond)\b",
     C.PUBLIC_SAFETY, _X),
    (r"(撞到|撞上|撞倒|被车撞|撞了)", C.TRAFFIC, _M),
    (r"\b(hit by a (car|truck|bus)|(car|truck|bus|van) hit|crashed into)\b", C.TRAFFIC, _M),
]
#: Cue patterns: trapped under debris is as critical as trapped inside.
CUE_COMPOUNDS: list[tuple[str, Cue]] = [
    (r"被压在|压在(下面|底下)|被埋|埋在(下面|里面)", Cue.CRITICAL),
    (r"\b(pinned|buried|crushed) (under|beneath|in)\b", Cue.CRITICAL),
    (r"随时(会|可能)?(掉|倒|塌)|摇摇欲坠|快要?(掉|倒|塌)下来", Cue.IMMINENT),
    (r"\b(about to|could|might|going to) (fall|collapse|come down)\b", Cue.IMMINENT),
]

#: Qualifiers that make the term right after them one level milder ("有点积水").
DIMINUTIVE = r"有点|有一点|一点点?|少量|稍微|轻微|\ba little\b|\ba bit of\b|\bslight(ly)?\b"

CUES: dict[Cue, list[str]] = {
    Cue.CRITICAL: [
        "被困", "困在", "有人在里面", "里面有人", "出不来", "死亡", "身亡", "遇难", "没有呼吸",
        "trapped", "people inside", "someone inside", "can't get out", "cannot get out",
        "dead", "died", "killed", "not breathing", "fatal",
    ],
    Cue.INJURED: [
        "受伤", "流血", "伤者", "伤员", "injured", "bleeding", "hurt", "wounded",
    ],
    Cue.SPREADING: [
        "蔓延", "越来越大", "越烧越旺", "失控", "涨得很快", "迅速上涨", "spreading",
        "getting bigger", "growing fast", "out of control", "rising fast",
    ],
    Cue.MASS: [
        "多人受伤", "多名伤者", "大量伤员", "伤亡惨重", "多人被困", "数十人", "几十人",
        "很多人受伤", "mass casualties", "many injured", "many people injured",
        "dozens of people", "multiple casualties", "several people trapped",
    ],
    Cue.DISASTER: [
        "台风", "地震", "泥石流", "山体滑坡", "龙卷风", "typhoon", "earthquake", "landslide",
        "mudslide", "tornado", "hurricane",
    ],
    Cue.PLACE: ["学校", "幼儿园", "小学", "养老院", "敬老院", "医院", "school", "kindergarten",
                "nursing home", "hospital"],
}

#: Vulnerable-place words in text mapped to the place tag they imply.
PLACE_WORDS: dict[str, str] = {
    "学校": "school", "幼儿园": "school", "小学": "school", "school": "school",
    "kindergarten": "school", "养老院": "elderly_home", "敬老院": "elderly_home",
    "nursing home": "elderly_home", "医院": "hospital", "hospital": "hospital",
}

#: Context that turns smoke terms into air pollution (a chimney, not a burning building).
AIR_CONTEXT = re.compile(r"烟囱|工厂|厂房排|排放|chimney|factory|smokestack|exhaust", re.I)
SMOKE_TERMS = frozenset({"冒烟", "烟雾", "有烟", "黑烟", "smoke", "smoky"})
