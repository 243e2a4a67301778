"""Hand-written reports for the learning-loop test: construction noise at night, which this city
routes to urban management (城管执法) rather than the default ecology-environment bureau, and
other noise the change must not touch."""

CORRECTED = [
    "凌晨一点了隔壁工地还在打桩，咚咚咚整栋楼都在震，明天还要上班啊",
    "半夜施工扰民！！！福华路那个工地十二点以后还在用电锯切钢筋",
    "工地晚上11点多了还有泥头车进出，倒土的声音吵得孩子睡不着",
    "Construction site next to my building is jackhammering at 2am. Again. Is there any rule about night work?",
    "请问夜间施工有没有许可？楼下修地铁的工地每天凌晨三点都在挖",
    "那个工地系咪冇人管㗎？成晚打桩，啲噪音好鬼烦",
    "Night construction noise on Keyuan Road, concrete pump running since midnight, whole street awake",
    "晚上十二点半，小区对面的工地又开始浇筑混凝土了，搅拌车一辆接一辆",
    "深夜施工噪音太大，投诉过三次了，凌晨还在用挖掘机破碎路面",
    "The building site behind Coastal City keeps cutting steel after 11pm, sparks and screeching, we have a newborn",
    "工地夜里焊接加敲打，声音跟放鞭炮一样，老人心脏不好受不了",
    "求求你们管管这个工地吧，连续一周夜里两点打地基",
    "半夜一点还在施工，塔吊的警报声和喇叭喊话声一直响",
    "Hey, the road works crew on Shennan Blvd is drilling all night, 1am now, windows closed and still loud",
    "夜间偷偷施工，白天不干晚上干，电钻声音从十点到凌晨四点",
    "楼下市政管道施工通宵作业，切割机声音刺耳，整栋楼没法睡",
    "凌晨两点工地还在卸钢管，哐当哐当的，这合法吗？？",
    "Midnight pile driving at the new tower site near Houhai metro. Every night this week.",
    "晚上11点后工地照样开工，噪音超标，家里有高考生",
    "施工队半夜拆旧楼，破碎锤一直敲，震得玻璃都在响",
    "工地夜间施工，水泥罐车排队鸣笛，凌晨还在进场",
    "There's night work on the metro extension, they started a generator and a breaker at 11:30pm",
    "我哋呢边工地夜晚十二点仲开工，打到凌晨，瞓唔着",
    "隔离工地凌晨三点还在吊装，指挥的哨子声和对讲机声很吵",
    "半夜里工地的振动棒声音嗡嗡的，已经连续十天了",
    "夜间施工无证作业，刚才一点钟还在切割路面，麻烦来查一下",
    "Guys the construction next door is hammering at 12:40am, I have work at 8, please do something",
    "晚上十点以后工地还用风镐，整个城中村都被吵醒了",
    "工地通宵赶工期，灯火通明噪音不断，小孩哭了一晚上",
    "凌晨的渣土车和挖机作业声太吵了，就在学校宿舍旁边的工地",
]

NEW = [
    "昨晚到今天凌晨工地一直在打桩，整晚没睡好，能不能让他们停一停",
    "Construction crew drilling concrete at 1:15am behind our apartment block, this is the third night",
    "半夜两点还在施工，挖掘机和破碎锤轮流上，楼都在抖",
    "工地夜里偷偷浇灌混凝土，泵车噪音很大，十二点到现在没停",
    "凌晨一点多工地还在切钢板，吱吱的声音太刺耳了",
    "Late-night pile driving at the site on Xinzhou Road again, it's past midnight",
    "夜间施工扰民，工地电锯声从十一点一直响到三点",
    "个工地半夜仲喺度打钻，成条街都听到",
    "深夜工地吊车作业加卸货，哐哐响，投诉无门",
    "Road construction with jackhammers at 2am outside our hotel, guests are complaining",
]

UNCHANGED = [
    "楼下广场舞音响开得太大了，晚上八点到十点天天如此",
    "隔壁KTV每天唱到凌晨，低音炮震得墙都在响",
    "The bar downstairs plays loud music until 3am every weekend",
    "对面楼有人用大喇叭循环播放卖东西的广告，吵了一整天",
    "楼上邻居半夜蹦迪，跺脚声音特别大",
]
