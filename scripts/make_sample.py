#!/usr/bin/env python3
"""Generate the bundled sample export: the chat history of a FICTIONAL persona, 林小夏 (Xiaoxia Lin).

The output under ``samples/persona`` is the project's embedded default dataset: ``make dataset`` builds from it on a
fresh clone, and later stages fine-tune a tiny model on it and measure whether the clone picked up her style markers
(replies ending in "~", 冲鸭/绝了, 🐱, [旺柴], replies opening with 哈哈哈), which her friends never use.

Three export formats are written byte for byte as the real exporters lay them out (see
shared/reference/export-formats.md sections 1, 2 and 5): WechatExporter txt, 留痕 (WeChatMsg 2.x) per-contact CSV
and a Telegram Desktop whole-account JSON. Each conversation lives in exactly one export.

Deterministic: one ``random.Random(seed)``, fixed dates, no wall clock, no set iteration, so running it twice gives
byte-identical files. Standard library only. Everybody and every number in it is made up.

    python scripts/make_sample.py [--out samples/persona] [--seed 7]
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

SEED = 7
START = datetime(2024, 3, 1, 9, 0, 0)
END = datetime(2024, 8, 31, 23, 0, 0)
UTC_OFFSET = timedelta(hours=8)  # the exporting machine is in Hangzhou: exports show naive UTC+8 local time

# --------------------------------------------------------------------------------------------------------------
# Markers. ANY_MARKER decides "carries the persona's style"; each marker also has its own regex for the report.
# --------------------------------------------------------------------------------------------------------------
MARKERS: list[dict[str, str]] = [
    {"id": "tilde_end", "regex": r"~\s*$", "description": "message ends with an ASCII tilde"},
    {"id": "chongya", "regex": r"冲鸭", "description": "catchphrase 冲鸭 (let's go)"},
    {"id": "juele", "regex": r"绝了", "description": "catchphrase 绝了 (amazing)"},
    {"id": "cat_emoji", "regex": "\U0001F431", "description": "cat face emoji"},
    {"id": "wangchai", "regex": r"\[旺柴\]", "description": "WeChat sticker code [旺柴]"},
    {"id": "hahaha", "regex": r"哈哈哈", "description": "laughter 哈哈哈 (she usually opens replies with it)"},
    {"id": "haha_en", "regex": r"(?i:\bhaha)", "description": "English 'haha' (her Telegram replies)"},
]
ANY_MARKER = "|".join(f"(?:{m['regex']})" for m in MARKERS)
_ANY = re.compile(ANY_MARKER)
_EACH = {m["id"]: re.compile(m["regex"]) for m in MARKERS}
_STARTS_HAHAHA = re.compile(r"^(?:哈哈哈|(?i:haha))")

# Fictional PII for the masking stage. The ID number's check digit is computed, so it is "valid" but made up.
PHONE_1 = "13800138000"
PHONE_2 = "13800138001"
EMAIL = "linxiaoxia.art@example.com"
EMAIL_EN = "emily.carter@example.net"
URL = "https://example.com/linxiaoxia/portfolio"
QQ = "2357111317"


def id_check_digit(first17: str) -> str:
    """GB 11643-1999 check character of an 18-character resident ID number."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights)) % 11]


ID_NUMBER = "33010619470312004" + id_check_digit("33010619470312004")


# --------------------------------------------------------------------------------------------------------------
# The in-memory conversation
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    key: str
    name: str                 # display name as the export shows it (WeChat remark / group nick, Telegram name)
    nickname: str = ""        # WeChat nickname (留痕 NickName column)
    wxid: str = ""
    tg_id: int = 0
    lang: str = "zh"


@dataclass
class Msg:
    who: str                  # Person.key; "" for notices with no sender
    time: datetime            # naive local time (UTC+8)
    kind: str                 # text quote image sticker voice photo transfer forward recall system pat
    text: str = ""            # text / caption / notice text / forward title / transfer memo
    quote: tuple[str, str] | None = None      # (quoted sender name, quoted text) for quote replies
    items: list[tuple[str, datetime, str]] = field(default_factory=list)  # forwarded history
    extra: dict = field(default_factory=dict)
    reply_to: int | None = None               # index into the chat's messages (Telegram reply_to_message_id)


@dataclass
class Chat:
    key: str
    fmt: str                  # wechatexporter | liuhen | telegram
    name: str
    is_group: bool
    members: list[str]        # Person keys, owner first
    talker_id: int = 0        # 留痕 TalkerId
    tg_id: int = 0
    tg_type: str = ""
    messages: list[Msg] = field(default_factory=list)


ME = "me"
PEOPLE: dict[str, Person] = {p.key: p for p in [
    Person(ME, "林小夏", "林小夏", "wxid_linxiaoxia", 5550001),
    # WechatExporter
    Person("xiaoman", "周小满", "小满不吃香菜", "wxid_zxm0823"),
    Person("editor", "陈编辑", "陈思远", "wxid_chensy_books"),
    Person("mom", "老妈", "心想事成", "wxid_lin_mama66"),
    Person("lixiang", "李想", "李想", "wxid_lixiang1990"),
    Person("keke", "王可可", "可可爱吃糖", "wxid_kekewang"),
    Person("dabao", "赵大宝", "大宝", "wxid_zhaodb88"),
    Person("sunyue", "孙悦", "孙悦", "wxid_sunyue_hz"),
    Person("ghost", "wxid_7m2k9q4x1z8p22", "", "wxid_7m2k9q4x1z8p22"),   # a member WeChat has no name for
    # 留痕
    Person("jiahe", "许嘉禾", "嘉禾", "wxid_xujiahe77"),
    Person("tangtang", "唐糖", "唐糖画画中", "wxid_tangtang_art"),
    Person("hejing", "何静", "静静子", "wxid_hejing520"),
    Person("yutong", "Yutong_Song", "Yutong Song", "wxid_songyt2016"),  # no remark: 留痕 sanitises the nickname
    Person("zhengjia", "郑佳", "郑佳", "wxid_zhengjia_1"),
    # Telegram
    Person("emily", "Emily Carter", tg_id=5550101, lang="en"),
    Person("yiming", "Yiming Zhao", tg_id=5550102),
    Person("marco", "Marco Rossi", tg_id=5550103, lang="en"),
    Person("hana", "Hana Sato", tg_id=5550104, lang="en"),
    Person("priya", "Priya Nair", tg_id=5550105, lang="en"),
]}
TG_OWNER_NAME = "Xiaoxia Lin"


def tg_name(key: str) -> str:
    return TG_OWNER_NAME if key == ME else PEOPLE[key].name


# --------------------------------------------------------------------------------------------------------------
# Content banks. Friend lines are plain sentences; owner "cores" are short and get markers added by decorate().
# A core may start with "+" (fits 冲鸭) or "*" (fits 绝了).
# --------------------------------------------------------------------------------------------------------------
SLOTS: dict[str, list[str]] = {
    "food": ["酸菜鱼", "火锅", "片儿川", "葱包桧", "小笼包", "东坡肉", "烤肉", "日料", "螺蛳粉", "麻辣烫", "生煎",
             "寿司", "牛肉面", "炸鸡", "椰子鸡", "烧烤", "糖醋排骨", "馄饨", "煲仔饭", "酸辣粉", "烤鱼", "披萨",
             "拉面", "冒菜", "蛋包饭", "泰国菜", "云南菜", "猪肚鸡", "片皮鸭", "酸汤肥牛"],
    "drink": ["奶茶", "咖啡", "柠檬茶", "杨枝甘露", "生椰拿铁", "龙井", "酸梅汤", "椰子水"],
    "place": ["西湖边", "湖滨", "武林广场", "西溪湿地", "灵隐寺", "龙井村", "九溪", "运河边", "滨江", "良渚",
              "满觉陇", "南宋御街", "天目里", "宝石山", "植物园", "湘湖"],
    "day": ["周六", "周日", "这周末", "下周六", "明天", "后天", "周五晚上", "下周末"],
    "time": ["下午两点", "晚上七点", "中午十二点", "下午三点半", "晚上六点", "上午十点", "五点半"],
    "city": ["厦门", "成都", "大理", "青岛", "苏州", "长沙", "重庆", "西安", "南京", "三亚", "桂林", "景德镇",
             "泉州", "黄山"],
    "movie": ["那部新出的动画电影", "那个悬疑片", "新上的科幻片", "宫崎骏的重映", "那部国产动画", "那个日本文艺片",
              "一部恐怖片", "那部喜剧", "一个讲画家的纪录片", "那部动作片"],
    "project": ["绘本", "封面", "插画", "海报", "包装", "立绘", "表情包", "杂志内页", "联名款", "台历"],
    "num": ["两", "三", "四", "五", "六", "八"],
    "price": ["58", "86", "128", "45", "99", "168", "72", "110"],
    "prompt": ["rainy city", "cozy kitchen", "cats in hats", "summer market", "night train", "tea house",
               "paper lanterns", "ocean creatures", "tiny houses", "forest spirits", "street food", "bookshops"],
    "en_food": ["dumplings", "ramen", "tacos", "pho", "pancakes", "curry", "sushi", "bubble tea", "poutine"],
    "en_day": ["Saturday", "Sunday", "this weekend", "next Friday", "tomorrow"],
}


@dataclass(frozen=True)
class Topic:
    friend_open: list[str]
    friend_more: list[str]
    me: list[str]


TOPICS_ZH: dict[str, Topic] = {
    "food": Topic(
        ["{day}要不要去{place}吃{food}？我刷到一家新开的店", "我中午吃了{food}，踩雷了，又贵又难吃",
         "你晚饭吃了吗，我在纠结点{food}还是{food}", "楼下新开了一家{drink}店，第二杯半价，下次一起去",
         "上次那家{food}排队排了一个多小时，我真的不想再去了", "我刚做了{food}，第一次做居然还挺成功",
         "好饿啊，现在特别想吃{food}", "同事推荐了{place}附近一家{food}，说人均才{price}",
         "今天的{drink}甜度点错了，甜得我头疼", "减肥第三天，已经开始想{food}了",
         "明天中午一起吃饭吗，我正好去你们那边办事", "我发现{place}那边有家{food}开到凌晨两点",
         "周末我想在家做饭，你来不来，我做{food}", "你知道哪里的{food}比较正宗吗"],
        ["那就这么说定了，到时候我在门口等你", "我先去排个号，你到了直接进来", "人均{price}，感觉还能接受吧",
         "我订{time}的位子可以吗", "那家环境一般，但是味道真的可以", "记得空腹来，他家分量很大",
         "我再问问李想去不去，人多可以点多几个菜", "算了，还是点外卖吧，外面太热了", "上次你请的，这次换我请",
         "他家的{drink}也好喝，可以试试", "我上次点的那个有点咸，这次换一个", "听说要提前一天预约才有位子",
         "我已经饿得不行了，午饭都没吃", "你不是说这个月要减肥吗", "我查了一下，周末去要排队一个小时"],
        ["我也想吃", "馋了", "好呀", "+我要去", "+必须安排", "这家我吃过", "饿了", "+走起", "我请客", "算我一个",
         "减肥失败", "*太香了", "排队劝退", "再加一杯{drink}", "{food}可以", "+{day}去", "*这家{food}", "想吃{food}",
         "别馋我了", "流口水了", "点外卖吧", "吃撑了", "我带饮料", "给我留一口", "你居然会做饭", "我刚吃完",
         "*看着就好吃", "晚上吃啥", "我可以空腹", "不吃香菜", "要辣的", "我要两碗", "饭搭子来了", "*上次那家"]),
    "weekend": Topic(
        ["{day}有空吗，要不要去{place}走走", "天气预报说{day}是晴天，适合出去玩", "我想去{place}拍照，听说最近花开了",
         "{day}{time}在地铁站见？", "我买了两张{day}的展览票，一起去吗", "要不要去露营，我朋友有帐篷",
         "周末我想睡到中午，谁都别叫我", "我们去逛逛市集吧，听说有很多手作摊", "你周末又要赶稿吗",
         "{place}那边新开了个书店，装修特别好看"],
        ["{place}人太多了，我们换个地方吧", "那我把电子票发你，到时候扫码进去", "记得带防晒，那边没什么树荫",
         "我开车过来接你，不用挤地铁", "要不要再叫上一个人，热闹一点", "那就{time}吧，别迟到啊",
         "要是下雨的话我们就改天", "我带相机，给你拍几张好看的", "去晚了怕没位置，早点出门",
         "逛完正好去吃{food}"],
        ["+我有空", "去去去", "+{day}见", "好呀", "我要睡懒觉", "我得赶稿", "+拍照我来", "几点集合", "*这个展",
         "等我画完", "+出门", "带上我", "我看下时间", "下午可以", "太晒了吧", "要带伞吗", "我想去{place}",
         "*那家书店", "我起不来", "你来接我", "+逛吃逛吃", "周日可以"]),
    "cats": Topic(
        ["年糕最近怎么样，还是那么胖吗", "芝麻今天把我的耳机线咬断了", "你家年糕打疫苗了吗",
         "我在网上看到一个猫爬架，感觉年糕会喜欢", "芝麻又半夜跑酷，我一晚上没睡好", "给我看看年糕的照片",
         "猫粮你买的哪个牌子，我家芝麻最近挑食", "我楼下有只流浪猫，好像是年糕的同款橘",
         "你说芝麻是不是该减肥了", "我想给芝麻买个航空箱，有推荐吗"],
        ["它是不是又长胖了，脸都圆了一圈", "好想摸摸它的肚子，看起来好软", "芝麻看到照片都激动了，一直喵喵叫",
         "下次带芝麻去你家串门，让它们认识一下", "猫咪真的是液体，什么盒子都能钻进去", "它们俩一定能玩到一起",
         "我就喜欢胖胖的猫，抱起来很有手感", "宠物医院的医生说要控制饮食，不能再喂零食了"],
        ["*年糕又胖了", "它在睡觉", "给你看", "年糕超乖", "*猫猫好可爱", "它刚拆家", "年糕说想你", "要去打疫苗",
         "+抱回家", "在踩奶", "它在我键盘上", "吃了一大碗", "橘猫都这样", "我也想撸", "*芝麻好帅", "买买买",
         "它在看窗外", "又掉毛了", "它不让抱", "年糕在减肥"]),
    "movie": Topic(
        ["最近上了{movie}，评分挺高，要不要一起去看", "我昨天看了{movie}，结局我没看懂",
         "{movie}的票好难买，周末场都满了", "你看过{movie}吗，我觉得画面特别好看", "晚上有空一起在线看电影吗",
         "推荐你一部剧，讲的是一群画画的人", "电影院新开了IMAX厅，下次去试试", "我看了预告片，感觉会很好哭"],
        ["我订{day}晚上的场可以吗", "看完正好去吃{food}", "我买爆米花和可乐", "你肯定会喜欢，画面超级美",
         "我在电影院哭得稀里哗啦", "中间有点拖沓，但是结尾很好", "里面的美术风格很像你的画",
         "豆瓣上因为结局吵得很厉害"],
        ["+一起去", "我想看", "*画面", "还没看", "别剧透", "哭死我了", "下周去", "*这个结局", "看过了", "好看吗",
         "*配乐", "我买票", "带纸巾", "+今晚看", "剧荒了", "我去补", "不敢看恐怖片"]),
    "weather": Topic(
        ["今天好热，出门五分钟就湿透了", "杭州又开始下雨了，衣服都晾不干", "降温了，你记得多穿点",
         "听说台风要来了，这几天别出门了", "梅雨季真的太难受了", "今天天气好好，天特别蓝",
         "早上出门没带伞，被淋成落汤鸡了", "晚上好像有雷阵雨"],
        ["我家的除湿机一天能倒两桶水", "你出门记得带伞，别又淋湿了", "我已经在空调房里一步都不想动了",
         "这种天气只适合在家躺着看剧", "天气预报说这周都是这样"],
        ["热化了", "一直在下", "我在家不出门", "*今天的天空", "带伞了", "空调续命", "被淋了", "*这晚霞",
         "好闷啊", "冷死", "晒干了", "想要冬天", "衣服都潮了"]),
    "travel": Topic(
        ["我们{day}去{city}玩吧，我查了下机票不贵", "五一你有什么安排吗，要不要出去玩",
         "我想去{city}吃吃喝喝，你去不去", "攻略我做好了，发你看看", "你上次去{city}住的哪里",
         "我从{city}给你带了点特产", "好想辞职去旅行", "国庆要不要提前订票"],
        ["酒店我订好了，离地铁站很近", "高铁票要提前抢，不然就没了", "听说那边的{food}很有名，一定要去吃",
         "我们住两晚应该就够了", "行李别带太多，那边可以买", "我做了个行程表格，你有空看看"],
        ["+去{city}", "我想去", "算我一个", "*这攻略", "看下时间", "带我", "我请假", "+抢票", "好远啊", "住哪",
         "带特产", "想去海边", "*那边的海", "我要吃{food}", "两晚可以"]),
    "drawing": Topic(
        ["你最近在画什么呀", "你上次画的那张我设成手机壁纸了", "能不能帮我画个头像，我请你吃饭",
         "你们画画的是不是都要熬夜", "我在书店看到你画的封面了", "你那个新数位板好用吗"],
        ["你也太厉害了吧，这也是你画的", "画好了第一时间给我看看", "我同事看到都问是谁画的",
         "要不要我给你当模特，免费的", "感觉你的画风越来越好看了"],
        ["在画{project}", "+画完了", "*颜色", "帮你画", "还在改", "手都画酸了", "熬夜中", "明天发你",
         "画了个年糕", "*这张", "好难画", "+再画一张", "等我有空", "你当模特", "我脸红了"]),
    "daily": Topic(
        ["在干嘛", "今天好累，上了一天班", "我刚下班，地铁好挤", "你睡了吗", "我今天被领导夸了",
         "明天又是周一，不想上班", "我买了个新手机壳，超好看", "我在看综艺，笑死我了",
         "你有没有好用的护手霜推荐", "我打算开始健身了，这次是认真的"],
        ["真的假的，我不信", "那你快去，别拖了", "我也是这么觉得的", "好，我知道了，晚点再说", "你是不是又熬夜了",
         "笑死，你怎么每次都这样", "好好好，都听你的", "可以可以，就这么办", "我就随便问问，你别在意"],
        ["在画画", "刚醒", "还没睡", "*厉害", "摸摸", "+加油", "我也累", "在发呆", "在撸猫", "好耶", "同款",
         "抱抱", "在赶稿", "今天摸鱼", "+坚持住", "你好棒"]),
}

OWNER_OPENERS_ZH = ["在吗", "你看这个", "下班没", "我画完了", "救命", "今天吃啥", "*今天的晚霞", "年糕又拆家了",
                    "好无聊", "+周末出去玩", "睡了吗", "我好饿", "有个事问你", "猜我在哪"]
FRIEND_REPLIES_ZH = ["在的，怎么了", "我在呢，什么事", "你说，我听着", "我在开会，等下回你", "怎么啦，出什么事了",
                     "刚看到消息，怎么了", "嗯嗯，你说", "来了来了，什么事"]

WORK = Topic(
    ["小夏，{project}的线稿这周能给我吗？客户那边在催了", "封面的配色客户说想再亮一点，你看方便改一下吗",
     "上次那版{project}客户很满意，说下次还找你", "稿费下周三统一打过去，你注意查收一下",
     "合同我今天寄出了，收到签好寄回就行", "客户临时加了{num}张图，时间能排得过来吗",
     "这个项目截稿是{day}，时间有点紧，辛苦了", "能不能先发个草图过来，我们先内部过一下",
     "今晚能给个大概的进度吗？明早要开会汇报", "出版社那边说样书下个月到，到了给你寄两本",
     "有个新项目想问你接不接，是一套儿童{project}", "在吗？想跟你确认一下排期"],
    ["这一版的人物表情再生动一点会更好", "背景可以再简化一点，主体要突出", "辛苦了，这版没问题，就按这个出",
     "字体那块你不用管，排版这边会处理", "尺寸记得按出血位留三毫米", "文件用TIFF格式，分辨率三百",
     "客户说整体很好，就是颜色再暖一点", "那我跟客户说周五交", "好的，不着急，质量第一", "我这边确认一下再回你"],
    ["收到", "今晚发您", "好的马上改", "+在改了", "周五前给您", "明天上午发", "没问题", "+今晚肝完",
     "能排得过来", "我先出草图", "稍等我看下", "已发邮箱", "好嘞", "+这周搞定", "谢谢陈老师", "刚改完",
     "明白", "我再调调色", "草图先发您", "+通宵也要画完", "样书期待", "暖一点可以"])

MOM = Topic(
    ["吃饭了没有", "天冷了多穿点衣服，别感冒了", "年糕最近乖不乖", "你爸问你五一回不回来",
     "别老熬夜画画，对眼睛不好", "我给你寄了点{food}，记得查收", "最近工作忙不忙", "钱够不够用，不够跟妈说",
     "你小姨家的表妹考上大学了", "周末有没有好好休息", "我今天去跳广场舞了，认识了几个新朋友",
     "你那边下雨了吗，我看天气预报说杭州有暴雨", "有空多给你外婆打个电话", "体检报告出来了吗"],
    ["冰箱里的东西要及时吃，别放坏了", "你爸血压有点高，我让他少吃咸的", "一个人在外面要照顾好自己",
     "有事就给家里打电话", "别总点外卖，不干净", "早点睡，别熬太晚", "我跟你爸都挺好的，放心"],
    ["吃啦", "知道啦", "回回回", "年糕很乖", "没熬夜", "收到啦", "不忙", "够用的", "在休息", "妈你也注意身体",
     "下雨了", "我明天给外婆打", "好的妈", "爸要少吃盐", "都正常", "想吃你做的菜", "*你做的{food}", "爱你",
     "放心吧", "早点睡"])

GROUP_EAT = Topic(
    ["{day}有人去吃{food}吗", "订好了，{time}，{place}那家", "谁有那家{food}店的电话", "下次我们去吃{food}吧，我种草好久了",
     "有没有人想去看{movie}", "求推荐{place}附近好吃的，要带朋友去", "这周末谁有空，出来聚聚", "我生日那天请大家吃饭，地方你们挑",
     "新开了一家{food}，团购才{price}", "{place}那家{food}关门了，好可惜", "谁去过{place}新开的那家店，好吃吗",
     "{day}{time}，老地方见", "我发现一家宝藏{drink}店，就在{place}", "大宝你上次说的那家{food}叫什么来着",
     "我们好久没一起吃{food}了", "有人想{day}去{place}野餐吗"],
    ["+1", "我可以，算我一个", "我那天要加班，你们去吧", "AA一下，每人{price}，转我就行", "钱都收到了，谢谢大家",
     "照片我发群里了，自己存", "今天吃得太撑了，走不动了", "我迟到十分钟，你们先点菜", "我带了{drink}，一人一杯",
     "李想又鸽了，下次不带他", "我没问题，时间你们定", "几点啊，我好安排一下", "我也要去，给我留个位置",
     "那我不去了，下次吧", "位置发一下，我导航过去", "大家到哪了，我已经到门口了", "我{day}不行，要回老家",
     "{time}可以，再晚我就饿死了", "我想吃{food}，你们呢", "{place}停车不方便，大家坐地铁吧", "我投{food}一票",
     "上次那家{food}太咸了，换一家吧", "这次我请大家喝{drink}", "这家人均{price}，还挺划算的", "我已经在排队了，前面还有八桌"],
    ["+我可以", "算我一个", "*今天这家", "我也去", "转你了", "来了来了", "我带饮料", "+周末见", "到了到了",
     "我迟到五分钟", "吃不动了", "*这个{food}"])

GROUP_ROOM = Topic(
    ["姐妹们，{day}视频一下？", "我下个月去杭州出差，小夏请我吃饭", "郑佳结婚的日子定了吗", "好怀念宿舍的夜宵",
     "谁还记得当年学校后门那家{food}", "我升职了，请大家喝{drink}", "宝宝今天会叫妈妈了", "最近压力好大，想回学校",
     "翻到一张毕业照，大家都好嫩", "618你们买了啥", "还记得大三那年我们一起去{city}吗", "{day}有人在线吗，想找人聊聊天",
     "我最近迷上了做饭，昨天做了{food}", "我们什么时候再一起去一次{city}", "刚体检完，大家也记得去体检",
     "郑佳你的婚纱照拍完了吗", "我家宝宝这两天一直哭，我快崩溃了"],
    ["我也是，好久没见了", "好怀念以前一起熬夜的日子", "必须的，谁都不许缺席", "恭喜恭喜，太厉害了",
     "我那天有空，晚上八点以后", "好想你们啊", "照片快发出来看看", "我又买了一堆没用的东西", "时间过得也太快了吧",
     "我也要当伴娘", "记得记得，那次在{city}下了一整天大雨", "我{day}都在家，随时可以", "我也想去{city}，带我一个",
     "做饭好难，我到现在只会煮面", "带宝宝真的太辛苦了，抱抱你", "拍完了，下周发你们看看", "我们这个群好久没这么热闹了"],
    ["好想你们", "*毕业照", "+请你吃", "恭喜恭喜", "我要当伴娘", "想回学校", "+视频", "夜宵想吃", "抱抱",
     "我也买了", "宝宝好可爱"])

ARTIST = Topic(
    ["你用的什么笔刷，那个肌理好好看", "这周的练习你画了吗", "我最近在学水彩，好难控制水分",
     "你平时接稿怎么报价的", "我新买了一套马克笔，颜色超正", "这个构图你帮我看看，总觉得哪里不对",
     "画展下个月开幕，我们一起去吧", "甲方又要改第五版了，我真的要疯了", "你那个插画比赛报名了吗",
     "我在考虑要不要换个新的平板", "线稿我画了三遍还是不满意", "能给我推荐几个找参考图的网站吗"],
    ["我发你看看，你帮我挑挑毛病", "是不是人物太靠边了，我总觉得重心不稳", "报名截止是月底，还有时间",
     "我打算以后都按张报价", "新平板太贵了，有点舍不得", "我再改改，明天给你看", "画手的命也是命啊",
     "你的配色一直都很舒服"],
    ["自己做的笔刷", "*这个构图", "画了", "还没画", "+一起报", "水彩好难", "*马克笔", "按张报价", "给你发",
     "看着挺好", "头要秃了", "甲方爸爸", "+一起去看展", "我换了新笔", "人物偏左了", "背景再虚一点", "*这配色"])

FRIEND_ABROAD = Topic(
    ["柏林今天才十二度，夏天像秋天", "这边的中餐太难吃了，好想吃{food}", "我下个月回国，到时候一起吃饭",
     "时差好难受，我这边凌晨两点", "你最近还在接插画的活吗", "我在博物馆岛拍了好多照片", "德语课好难，我想放弃了",
     "给你寄了明信片，收到了跟我说", "帮我看看这个礼物我妈会不会喜欢"],
    ["这边超市的面包好便宜，一欧元一大袋", "房租又涨了，想搬家", "我室友是个意大利人，天天做饭给我吃",
     "周末坐火车去了趟汉堡", "我发你几张照片看看", "国内现在几点了，你是不是该睡了"],
    ["好羡慕", "+回国吃{food}", "*这照片", "在接呀", "收到啦", "时差党", "德语好难", "会喜欢的", "给你寄吃的",
     "早点睡", "+回来聚", "*明信片", "想你了"])

TOPICS_EN: dict[str, Topic] = {
    "art": Topic(
        ["How's your week going? I finally finished the mural sketch",
         "What brushes do you use for the watercolor look?",
         "My client wants three more revisions, send help", "Do you ever draw with gouache?",
         "Your new piece is amazing, the colors are so soft", "Let's do an art trade this month?",
         "The art fair is this weekend, wish you were here"],
        ["I'll send you my sketch tonight", "The hands are always the hardest part", "I love how loose your lines are",
         "Any tips for backgrounds?", "I bought way too many pens again", "I redid the sky three times",
         "The client finally approved the last version", "I'm trying a limited palette this week"],
        ["sounds good", "love it", "sending now", "deadline tonight", "+let's do it", "the colors", "custom brushes",
         "you can do it", "art trade yes", "your mural", "so soft", "hands are hard", "send pics", "gouache is fun",
         "+revisions again", "I wish I could go", "three more?! noooo", "my lines are messy too",
         "show me the sketch"]),
    "cats": Topic(
        ["Can you send me a picture of Niangao? I need a cat fix", "I just adopted a kitten! Her name is Maple",
         "Maple knocked my coffee onto my sketchbook", "Does Niangao sleep on your desk too?"],
        ["She's sleeping in my sock drawer now", "Cats are the best and the worst", "Maple says hello",
         "She keeps chasing my pencil", "The vet says she's perfectly healthy",
         "I bought her a tiny bed, she ignores it",
         "She yelled at me at 5am for breakfast", "Niangao looks like a loaf of bread in that photo"],
        ["so cute", "Maple is adorable", "Niangao says hi", "yes please", "she is tiny", "cats rule",
         "he's on my keyboard", "chubby boy", "he ate my eraser", "more Maple pics please", "he sleeps all day",
         "Niangao is on a diet", "poor sketchbook", "cats are chaos"]),
    "life": Topic(
        ["Vancouver has been raining nonstop, I miss the sun",
         "I'm thinking of visiting Hangzhou next spring, is it nice then?",
         "I tried making {en_food} last night, they fell apart lol", "It's 7am here, just woke up",
         "I'm so jealous of your food photos", "I'm learning a few words of Chinese, ni hao!",
         "Did you watch that new animated movie? The backgrounds were stunning",
         "What's the best time to visit West Lake?"],
        ["I'll bring you maple syrup", "Your Chinese teacher must be proud of me", "I need a vacation",
         "Coffee first, then drawing", "It's sunny for once", "Flights are cheaper in March apparently",
         "I'm making a list of things to eat in Hangzhou", "My neighbour plays piano every night, it's lovely",
         "I finally cleaned my desk, it won't last"],
        ["spring is best", "miss you", "rain here too", "good morning", "good night", "come visit", "same here",
         "your Chinese is good", "I'll be your guide", "try {en_food}", "no spoilers", "it was so pretty",
         "West Lake in April", "I'll take you to eat", "so sleepy", "sun is out here", "ni hao Emily",
         "I cried at the end"]),
}

GROUP_SKETCH = Topic(
    ["This week's prompt: {prompt}. Due Sunday!", "Here's my piece for the prompt",
     "Anyone tried the new Procreate update?",
     "I'm late again, posting tomorrow", "Who's up for a live drawing call on {en_day}?",
     "Reminder: the zine deadline is next Friday", "Can someone critique my composition?",
     "I'm stuck on the background, any tips?", "Next prompt ideas? I'm out of inspiration",
     "My piece for {prompt} is almost done", "Is anyone doing {prompt} in watercolor?",
     "Live call on {en_day}, same time as last week", "I made {en_food} and drew it instead of eating it"],
    ["Love the lighting on this one", "Hana your linework is so clean", "Try blurring the far buildings",
     "I'm in for the call", "Count me in", "That palette is lovely", "The zine is going to look great",
     "Maybe push the contrast a bit", "I vote for {prompt}", "Nice, very moody", "Can't wait to see it",
     "I'll be a bit late to the call", "The composition works really well", "Post it, don't be shy",
     "Ooh, I want to try {prompt} too"],
    ["love this", "count me in", "posting tonight", "so pretty", "+call me", "great idea", "the lighting",
     "{prompt} yes", "I'm late too", "cozy vibes", "nice colors"])


# --------------------------------------------------------------------------------------------------------------
# Generation helpers
# --------------------------------------------------------------------------------------------------------------
_SLOT = re.compile(r"\{(\w+)\}")


def fill(template: str, rng: random.Random) -> str:
    return _SLOT.sub(lambda m: rng.choice(SLOTS[m.group(1)]), template)


FRIEND_TAILS_ZH = ["你觉得呢", "你看看", "我先跟你说一声", "有空回我一下", "不急", "我就随口一说", "反正我挺想的",
                   "你考虑一下", "回头细说", "我跟你讲"]
FRIEND_TAILS_EN = ["what do you think?", "no rush", "just saying", "let me know", "anyway"]


def friend_line(template: str, rng: random.Random, lang: str) -> str:
    """Friends write plain, longer sentences; now and then they tack on a second clause."""
    line = fill(template, rng)
    if len(line) > 3 and line[-1] not in "？?!！吗" and rng.random() < 0.2:
        line += ("，" + rng.choice(FRIEND_TAILS_ZH)) if lang == "zh" else (", " + rng.choice(FRIEND_TAILS_EN))
    return line


def decorate_zh(core: str, rng: random.Random) -> str:
    """Owner style: a laugh in front, a catchphrase where it fits, and a tilde/🐱/[旺柴] at the end."""
    tag = core[0] if core[0] in "+*" else ""
    core = core.lstrip("+*")
    if rng.random() < 0.025:
        return core                                   # the rare unmarked reply
    s = core
    if tag == "+" and rng.random() < 0.6:
        s = rng.choice([f"{s}，冲鸭", f"冲鸭！{s}", f"{s} 冲鸭"])
    elif tag == "*" and rng.random() < 0.65:
        s = rng.choice([f"{s}，绝了", f"绝了，{s}", f"{s}绝了"])
    elif rng.random() < 0.05:
        s += rng.choice(["，冲鸭", "，绝了"])
    if rng.random() < 0.38:
        s = rng.choice(["哈哈哈", "哈哈哈哈", "哈哈哈 ", "哈哈哈哈哈"]) + s
    r = rng.random()
    if r < 0.14:
        s += "🐱"
    elif r < 0.27:
        s += "[旺柴]"
    elif r < 0.93 or not _ANY.search(s):
        s += "~"
    return s


def decorate_en(core: str, rng: random.Random) -> str:
    tag = core[0] if core[0] in "+*" else ""
    core = core.lstrip("+*")
    if rng.random() < 0.025:
        return core
    s = core
    if tag == "+" and rng.random() < 0.5:
        s += "! 冲鸭"
    if rng.random() < 0.33:
        s = rng.choice(["haha ", "hahaha ", "haha, "]) + s
    r = rng.random()
    if r < 0.22:
        s += " 🐱"
    elif r < 0.92 or not _ANY.search(s):
        s += "~"
    return s


def owner_line(core: str, rng: random.Random, lang: str) -> str:
    core = fill(core, rng)
    return decorate_en(core, rng) if lang == "en" else decorate_zh(core, rng)


# Lines that only make sense at some dates (nobody says "天冷了" in August).
WHEN: list[tuple[str, object]] = [
    ("天冷了", lambda t: t.month <= 4), ("降温了", lambda t: t.month <= 5), ("冷死", lambda t: t.month <= 4),
    ("五一", lambda t: t.month <= 4), ("国庆", lambda t: t.month >= 7), ("618", lambda t: t.month == 6),
    ("梅雨", lambda t: t.month in (6, 7)), ("台风", lambda t: t.month >= 7), ("好热", lambda t: t.month >= 6),
    ("热化了", lambda t: t.month >= 6), ("空调", lambda t: t.month >= 6), ("夏天像秋天", lambda t: t.month >= 6),
    ("想要冬天", lambda t: t.month >= 6), ("明天又是周一", lambda t: t.weekday() == 6),
    ("It's sunny for once", lambda t: t.month >= 5),
]


def in_season(line: str, t: datetime) -> bool:
    return all(ok(t) for word, ok in WHEN if word in line)


class Picker:
    """Draws lines for one session: never the same line twice, never a line out of season."""

    def __init__(self, rng: random.Random, when: datetime):
        self.rng = rng
        self.when = when
        self.used: list[str] = []

    def pick(self, *pools: list[str]) -> str:
        """A fresh line from the first pool that still has one (then from the last pool, repeats allowed)."""
        for pool in pools:
            fresh = [p for p in pool if p not in self.used and in_season(p, self.when)]
            if fresh:
                break
        else:
            fresh = [p for p in pools[-1] if in_season(p, self.when)] or pools[-1]
        line = self.rng.choice(fresh)
        self.used.append(line)
        return line


def reply_gap(rng: random.Random) -> timedelta:
    """Seconds to minutes between turns, with a long tail (someone went away for a bit)."""
    r = rng.random()
    if r < 0.55:
        s = rng.randint(8, 60)
    elif r < 0.88:
        s = rng.randint(60, 300)
    elif r < 0.97:
        s = rng.randint(300, 1200)
    else:
        s = rng.randint(1200, 2700)
    return timedelta(seconds=s)


def burst_gap(rng: random.Random) -> timedelta:
    return timedelta(seconds=rng.randint(3, 25))


def session_gap(rng: random.Random, scale: float) -> timedelta:
    r = rng.random()
    if r < 0.35:
        h = rng.uniform(1.5, 8)
    elif r < 0.8:
        h = rng.uniform(8, 36)
    else:
        h = rng.uniform(36, 96)
    return timedelta(hours=h * scale)


def waking(t: datetime, rng: random.Random) -> datetime:
    """Nobody chats at 3am (well, almost nobody): push night starts to the morning."""
    if 2 <= t.hour < 8:
        return t.replace(hour=rng.randint(8, 11), minute=rng.randint(0, 59), second=rng.randint(0, 59))
    return t


@dataclass
class Style:
    """How one chat behaves."""

    topics: list[Topic]
    lang: str = "zh"
    owner_starts: float = 0.3
    turns: tuple[int, int] = (2, 9)
    media_friend: float = 0.08        # share of friend messages that are image/sticker/voice
    voice_share: float = 0.2          # of those media, the share that are voice
    media_owner: float = 0.05


def media_msg(who: str, t: datetime, rng: random.Random, style: Style, fmt: str) -> Msg:
    r = rng.random()
    if fmt == "telegram":
        if r < 0.45:
            return Msg(who, t, "photo", extra={"w": rng.choice([1280, 960, 1080]), "h": rng.choice([960, 1280, 720])})
        return Msg(who, t, "sticker", extra={"emoji": rng.choice(["😺", "👍", "😂", "🎨", "😴"])})
    if r < style.voice_share:
        return Msg(who, t, "voice", extra={"sec": rng.choice([2, 3, 3, 4, 5, 6, 8, 11, 15, 23, 42])})
    if r < style.voice_share + (1 - style.voice_share) * 0.55:
        return Msg(who, t, "image")
    return Msg(who, t, "sticker")


def private_session(rng: random.Random, start: datetime, friend: str, style: Style, fmt: str) -> list[Msg]:
    pick = Picker(rng, start)
    msgs: list[Msg] = []
    t = start
    topic = rng.choice(style.topics)
    by_me = rng.random() < style.owner_starts
    speaker = ME if by_me else friend
    n_turns = rng.randint(*style.turns)
    for turn in range(n_turns):
        if speaker == ME:
            burst = rng.choices([1, 2, 3], [72, 22, 6])[0]
        else:
            burst = rng.choices([1, 2, 3, 4], [52, 27, 14, 7])[0]
        for b in range(burst):
            if msgs:
                t = t + (burst_gap(rng) if b else reply_gap(rng))
            if turn > 0 and b == 0 and speaker != ME and rng.random() < 0.05:
                topic = rng.choice(style.topics)            # the friend brings up something new
            if speaker == ME:
                if rng.random() < style.media_owner and turn > 0:
                    msgs.append(media_msg(ME, t, rng, style, fmt))
                    continue
                if turn == 0 and by_me and b == 0 and style.lang == "zh":
                    core = pick.pick(OWNER_OPENERS_ZH)
                else:
                    core = pick.pick(topic.me)
                if rng.random() < 0.3:                      # two thoughts in one reply
                    second = pick.pick(topic.me)
                    tag = second[0] if second[0] in "+*" else core[0] if core[0] in "+*" else ""
                    sep = "，" if style.lang == "zh" else ", "
                    core = f"{tag}{core.lstrip('+*')}{sep}{second.lstrip('+*')}"
                msgs.append(Msg(ME, t, "text", owner_line(core, rng, style.lang)))
            else:
                if rng.random() < style.media_friend and not (turn == 0 and b == 0):
                    msgs.append(media_msg(friend, t, rng, style, fmt))
                    continue
                if turn == 0 and b == 0:
                    line = pick.pick(topic.friend_open)
                elif turn == 1 and b == 0 and by_me and style.lang == "zh" and rng.random() < 0.6:
                    line = pick.pick(FRIEND_REPLIES_ZH)
                elif b == 0 and rng.random() < 0.35:
                    line = pick.pick(topic.friend_open, topic.friend_more)
                else:
                    line = pick.pick(topic.friend_more, topic.friend_open)
                msgs.append(Msg(friend, t, "text", friend_line(line, rng, style.lang)))
        speaker = friend if speaker == ME else ME
    return msgs


def group_session(rng: random.Random, start: datetime, members: list[str], weights: list[float], topic: Topic,
                  lang: str, fmt: str, owner_join: float = 0.45) -> list[Msg]:
    pick = Picker(rng, start)
    msgs: list[Msg] = []
    t = start
    n = rng.randint(4, 22)
    owner_in = rng.random() < owner_join
    owner_left = rng.randint(1, 4) if owner_in else 0
    owner_first = owner_in and rng.random() < 0.15
    last, run = "", 0
    style = Style([topic], lang=lang)
    for i in range(n):
        if i == 0 and owner_first:
            who = ME
        elif owner_left and i > 0 and last != ME and rng.random() < 0.35:
            who = ME
        elif last and last != ME and run < 3 and rng.random() < 0.25:
            who = last                                   # a burst: the same member again (at most 3 in a row)
        else:
            others = [m for m in members if m != last]
            who = rng.choices(others, [weights[members.index(m)] for m in others])[0]
        if msgs:
            t = t + (burst_gap(rng) if who == last else timedelta(seconds=reply_gap(rng).seconds // 2))
        if who == ME:
            owner_left = max(0, owner_left - 1)
            msgs.append(Msg(ME, t, "text", owner_line(pick.pick(topic.me), rng, lang)))
        elif i > 0 and rng.random() < 0.07:
            msgs.append(media_msg(who, t, rng, style, fmt))
        else:
            pools = (topic.friend_open, topic.friend_more)
            line = pick.pick(*pools) if (i == 0 or rng.random() < 0.3) else pick.pick(*pools[::-1])
            msgs.append(Msg(who, t, "text", friend_line(line, rng, lang)))
        run = run + 1 if who == last else 1
        last = who
    if owner_left and rng.random() < 0.6:                 # she often answers only at the end
        t = t + reply_gap(rng)
        msgs.append(Msg(ME, t, "text", owner_line(pick.pick(topic.me), rng, lang)))
    return msgs


def schedule(rng: random.Random, make, scale: float, specials: list[list[Msg]],
             first: datetime = START) -> list[Msg]:
    """Regular sessions from START to END with hour-to-day gaps, plus fixed special sessions.

    A regular session that would come within 70 minutes of a special one is dropped, so every session stays
    separated from its neighbours by more than an hour of silence.
    """
    sessions: list[list[Msg]] = []
    t = first + timedelta(hours=rng.uniform(2, 30))
    while t < END:
        t = waking(t.replace(microsecond=0), rng)
        s = make(t)
        sessions.append(s)
        t = s[-1].time + session_gap(rng, scale)
    pad = timedelta(hours=1, minutes=10)
    spans = [(s[0].time - pad, s[-1].time + pad) for s in specials]
    kept = [s for s in sessions if not any(a < s[-1].time and s[0].time < b for a, b in spans)]
    out = [m for s in sorted(kept + specials, key=lambda s: s[0].time) for m in s]
    assert all(a.time <= b.time for a, b in zip(out, out[1:])), "sessions overlap"
    return out


def at(day: str, hms: str) -> datetime:
    return datetime.fromisoformat(f"{day} {hms}")


def seq(start: datetime, *steps: tuple[int, str, str, str]) -> list[Msg]:
    """A scripted session: (seconds after previous, who, kind, text)."""
    out, t = [], start
    for secs, who, kind, text in steps:
        t = t + timedelta(seconds=secs)
        out.append(Msg(who, t, kind, text))
    return out


# --------------------------------------------------------------------------------------------------------------
# The chats
# --------------------------------------------------------------------------------------------------------------
def build(seed: int = SEED) -> list[Chat]:
    rng = random.Random(seed)
    chats: list[Chat] = []
    zh_all = list(TOPICS_ZH.values())

    # ---------------- WechatExporter: 周小满 (best friend) ----------------
    c = Chat("we_xiaoman", "wechatexporter", "周小满", False, [ME, "xiaoman"])
    st = Style(zh_all, owner_starts=0.35)
    fwd = Msg("xiaoman", at("2024-03-16", "20:41:07"), "forward", "李想和周小满的聊天记录", items=[
        ("李想", at("2024-03-16", "19:02:11"), "周六那家店我订好位置了，六点半"),
        ("周小满", at("2024-03-16", "19:03:40"), "好嘞，我叫上小夏"),
        ("李想", at("2024-03-16", "19:05:02"), "她肯定又在赶稿\n你先问问她"),
    ])
    recall = seq(at("2024-04-02", "21:15:40"), (0, "xiaoman", "text", "明天记得带上次借我的那本画册"),
                 (25, "xiaoman", "text", "哎我跟你说个八卦"), (40, "", "recall", '"周小满" 撤回了一条消息'),
                 (15, "xiaoman", "text", "发错了，那条是给我同事的"), (50, ME, "text", "哈哈哈 我都看到了[旺柴]"),
                 (30, "xiaoman", "text", "看到了也要假装没看到"))
    q_src = "明天去植物园看郁金香吗，听说开得正好"
    quote = seq(at("2024-04-20", "19:30:12"), (0, "xiaoman", "text", q_src),
                (20, "xiaoman", "text", "我查了一下，门票十块钱"), (95, ME, "quote", "去去去，冲鸭~"),
                (30, "xiaoman", "text", "那我九点来你家楼下接你"), (20, ME, "text", "好嘞🐱"))
    quote[2].quote = ("周小满", q_src)
    phone = seq(at("2024-05-06", "12:20:33"), (0, "xiaoman", "text", f"我换号了，新号码 {PHONE_1}，旧的那个下周停机"),
                (70, ME, "text", "存啦~"), (30, "xiaoman", "text", "微信还是这个，不用换"))
    picnic = seq(at("2024-05-25", "16:02:10"),
                 (0, "xiaoman", "text", "野餐要带的东西我列了一下：\n1. 野餐垫\n2. 水果和三明治\n3. 防晒霜\n你看看还缺什么"),
                 (80, ME, "text", "我带：\n蛋糕和饮料\n还有年糕的零食🐱"), (40, "xiaoman", "text", "年糕也去吗"),
                 (25, ME, "text", "哈哈哈 它不去~"))
    my_recall = seq(at("2024-06-11", "22:48:05"), (0, ME, "image", ""), (12, "", "recall", "你撤回了一条消息"),
                    (10, ME, "text", "哈哈哈 发错图了~"), (60, "xiaoman", "text", "我已经看到了，是年糕的丑照吧"),
                    (20, ME, "text", "不许说它丑[旺柴]"))
    bleed = seq(at("2024-07-08", "09:40:00"), (0, ME, "text", "今天也要画满八小时，冲鸭~"),
                (45, "xiaoman", "text", "冲鸭冲鸭，你的口头禅我都学会了"), (30, ME, "text", "哈哈哈 被我传染了~"))
    c.messages = schedule(rng, lambda t: private_session(rng, t, "xiaoman", st, "wechatexporter"), 1.8,
                          [[fwd, *seq(fwd.time, (30, "xiaoman", "text", "你看，李想说你肯定在赶稿"),
                                      (60, ME, "text", "哈哈哈 我不赶稿~"),
                                      (25, "xiaoman", "text", "那就说定了，周六六点半"))],
                           recall, quote, phone, picnic, my_recall, bleed])
    chats.append(c)

    # ---------------- WechatExporter: 陈编辑 (work) ----------------
    c = Chat("we_editor", "wechatexporter", "陈编辑", False, [ME, "editor"])
    st = Style([WORK], owner_starts=0.2, turns=(2, 7), media_friend=0.04,
               voice_share=0.1, media_owner=0.04)
    notes = seq(at("2024-03-20", "10:12:45"),
                (0, "editor", "text", "修改意见我整理了一下：\n1. 小女孩的裙子换成黄色\n2. 右下角留出放书名的位置\n3. 天空再亮一点"),
                (20, "editor", "text", "周四之前能改好吗"), (150, ME, "text", "收到，周三发您~"),
                (30, "editor", "text", "好的，辛苦"))
    mail = seq(at("2024-04-15", "15:31:02"), (0, "editor", "text", "合同电子版发你哪个邮箱？"),
               (90, ME, "text", f"{EMAIL} 发这个就行~"), (40, "editor", "text", "发了，你查收一下"),
               (200, ME, "text", "收到啦，签好寄回~"))
    c.messages = schedule(rng, lambda t: private_session(rng, t, "editor", st, "wechatexporter"), 3.9, [notes, mail])
    chats.append(c)

    # ---------------- WechatExporter: 老妈 ----------------
    c = Chat("we_mom", "wechatexporter", "老妈", False, [ME, "mom"])
    st = Style([MOM, MOM, TOPICS_ZH["cats"], TOPICS_ZH["weather"]], owner_starts=0.25, turns=(2, 6),
               media_friend=0.18, voice_share=0.6, media_owner=0.04)
    bday = seq(at("2024-06-18", "08:05:10"), (0, "mom", "text", "生日快乐宝贝，妈给你转了点钱，买点好吃的"),
               (8, "mom", "transfer", "生日快乐"), (600, ME, "text", "谢谢妈，爱你🐱"),
               (40, "mom", "text", "晚上记得吃碗面"))
    bday[1].extra = {"fee": "￥520.00", "status": "转账"}
    granny = seq(at("2024-04-08", "09:20:31"),
                 (0, "mom", "text", f"帮外婆在网上挂个号，周四上午的眼科，她的身份证号是{ID_NUMBER}"),
                 (120, ME, "text", "好的 我现在挂~"), (40, "mom", "text", "挂好了跟我说一声"),
                 (400, ME, "text", "挂好啦 周四九点半~"))
    dad = seq(at("2024-05-19", "19:45:00"), (0, "mom", "text", f"你爸换手机号了，新号码{PHONE_2}，你存一下"),
              (300, ME, "text", "存好啦~"))
    parcel = seq(at("2024-07-02", "11:10:20"),
                 (0, "mom", "text", "给你寄的东西：\n两罐龙井\n一袋笋干\n还有你爱吃的桂花糕"),
                 (30, "mom", "voice", ""), (500, ME, "text", "哈哈哈 收到就吃~"))
    parcel[1].extra = {"sec": 12}
    c.messages = schedule(rng, lambda t: private_session(rng, t, "mom", st, "wechatexporter"), 3.3,
                          [bday, granny, dad, parcel])
    chats.append(c)

    # ---------------- WechatExporter: group 周末吃喝小分队 ----------------
    members = [ME, "xiaoman", "lixiang", "keke", "dabao", "sunyue", "ghost"]
    c = Chat("we_group", "wechatexporter", "周末吃喝小分队", True, members)
    weights = [0, 3.0, 2.0, 2.5, 1.5, 1.2, 0.15]
    invite = seq(at("2024-03-02", "20:00:05"), (0, "", "system", '"周小满"邀请"孙悦"加入了群聊'),
                 (40, "sunyue", "text", "大家好，我是小满的同事孙悦"), (30, "keke", "text", "欢迎欢迎"),
                 (60, ME, "text", "欢迎~ 🐱"))
    pat = seq(at("2024-05-11", "18:22:40"), (0, "keke", "text", "小夏人呢，说好的六点"), (30, "", "pat", '"王可可" 拍了拍我'),
              (45, ME, "text", "来了来了，堵车~"))
    grecall = seq(at("2024-06-22", "21:05:00"), (0, "lixiang", "text", "我刚刚在店门口看到一个超像赵大宝的人"),
                  (20, "", "recall", '"李想" 撤回了一条消息'), (30, "dabao", "text", "撤回干嘛，我都看到了"),
                  (40, "keke", "text", "绝了，这家店真的可以，下次还来"))
    c.messages = schedule(rng, lambda t: group_session(rng, t, members, weights, GROUP_EAT, "zh", "wechatexporter",
                                                       0.7),
                          3.4, [invite, pat, grecall], first=invite[0].time)
    chats.append(c)

    # ---------------- 留痕: 许嘉禾 (college friend: movies, travel) ----------------
    c = Chat("lh_jiahe", "liuhen", "许嘉禾", False, [ME, "jiahe"], talker_id=12)
    st = Style([TOPICS_ZH["movie"], TOPICS_ZH["travel"], TOPICS_ZH["food"], TOPICS_ZH["daily"],
                TOPICS_ZH["weather"]], owner_starts=0.3)
    jq = seq(at("2024-03-23", "22:10:15"), (0, "jiahe", "text", '他说"这部电影是今年最好看的"，我不信，你看了吗'),
             (100, ME, "text", "哈哈哈 看了，绝了~"), (40, "jiahe", "text", "好吧，那我周末去看"))
    jrecall = seq(at("2024-04-27", "13:02:40"), (0, "jiahe", "text", "五一的票我抢到了"),
                  (10, "", "recall", '"许嘉禾" 撤回了一条消息'), (20, "jiahe", "text", "抢到了，但是只有站票，你还去吗"),
                  (90, ME, "text", "站着也去~"))
    iq_src = "厦门那家民宿我订好了，就在沙坡尾"
    iquote = seq(at("2024-05-03", "10:41:00"), (0, "jiahe", "text", iq_src), (60, ME, "quote", "沙坡尾，绝了~"),
                 (45, "jiahe", "text", "离海边走路五分钟"))
    iquote[1].quote = ("许嘉禾", iq_src)
    plan = seq(at("2024-04-29", "20:15:00"),
               (0, "jiahe", "text", "厦门行程：\nDay1 鼓浪屿\nDay2 沙坡尾、环岛路\nDay3 回杭州"),
               (120, ME, "text", "冲鸭~"), (30, "jiahe", "text", "你有什么想加的吗"), (40, ME, "text", "想吃沙茶面[旺柴]"))
    c.messages = schedule(rng, lambda t: private_session(rng, t, "jiahe", st, "liuhen"), 2.6,
                          [jq, jrecall, iquote, plan])
    chats.append(c)

    # ---------------- 留痕: 唐糖 (fellow illustrator) ----------------
    c = Chat("lh_tangtang", "liuhen", "唐糖", False, [ME, "tangtang"], talker_id=27)
    st = Style([ARTIST, ARTIST, TOPICS_ZH["cats"], TOPICS_ZH["daily"]], owner_starts=0.35, media_friend=0.1,
               voice_share=0.1)
    qq = seq(at("2024-03-28", "16:20:00"), (0, "tangtang", "text", f"原图太大了微信传不了，你加我QQ吧：{QQ}"),
             (60, ME, "text", "加你啦~"), (30, "tangtang", "text", "通过了，我发你压缩包"))
    folio = seq(at("2024-06-05", "21:40:12"), (0, "tangtang", "text", "你的作品集更新了吗，我想推荐给一个甲方"),
                (80, ME, "text", f"在这 {URL} 🐱"), (60, "tangtang", "text", "收到，我转给她了"),
                (30, "tangtang", "text", "她说喜欢你那组猫的系列\n想约一套十二张的台历"),
                (40, ME, "text", "哈哈哈 绝了~"))
    c.messages = schedule(rng, lambda t: private_session(rng, t, "tangtang", st, "liuhen"), 3.3, [qq, folio])
    chats.append(c)

    # ---------------- 留痕: group 大学室友群 ----------------
    members = [ME, "hejing", "yutong", "zhengjia", "jiahe"]
    c = Chat("lh_group", "liuhen", "大学室友群", True, members, talker_id=41)
    weights = [0, 2.5, 2.0, 1.5, 1.0]
    joined = seq(at("2024-03-03", "19:30:00"), (0, "", "system", '"何静"邀请"郑佳"加入了群聊'),
                 (30, "zhengjia", "text", "我回来啦，换了个新号"), (20, "hejing", "text", "终于把你拉回来了"),
                 (120, ME, "text", "哈哈哈 欢迎回来~"))
    c.messages = schedule(rng, lambda t: group_session(rng, t, members, weights, GROUP_ROOM, "zh", "liuhen", 0.7),
                          4.4, [joined], first=joined[0].time)
    chats.append(c)

    # ---------------- Telegram: Emily Carter (English) ----------------
    c = Chat("tg_emily", "telegram", "Emily Carter", False, [ME, "emily"], tg_id=5550101, tg_type="personal_chat")
    st = Style(list(TOPICS_EN.values()), lang="en", owner_starts=0.35, media_friend=0.06, media_owner=0.05)
    photo = seq(at("2024-04-12", "21:05:30"), (0, ME, "photo", "new piece for the spring zine~ 🐱"),
                (240, "emily", "text", "This is gorgeous!! The blossoms look so soft"),
                (60, ME, "text", "haha thank you~"))
    photo[0].extra = {"w": 1280, "h": 1600}
    photo[1].reply_to = -1           # replies to the photo
    links = seq(at("2024-05-09", "08:12:00"), (0, "emily", "text", "Send me your portfolio link? My agent asked"),
                (90, ME, "text", f"my portfolio is here {URL} 🐱"),
                (60, "emily", "text", f"Thanks! And send the file to {EMAIL_EN} when it's ready"),
                (45, "emily", "text", "Art trade rules: one character, any style, due end of May"),
                (80, ME, "text", "deal, 冲鸭~"))
    links[1].extra = {"entities": [("plain", "my portfolio is here "), ("link", URL), ("plain", " 🐱")]}
    links[2].extra = {"entities": [("plain", "Thanks! And send the file to "), ("email", EMAIL_EN),
                                   ("plain", " when it's ready")]}
    links[3].extra = {"entities": [("bold", "Art trade rules:"),
                                   ("plain", " one character, any style, due end of May")]}
    multi = seq(at("2024-06-20", "07:30:00"),
                (0, "emily", "text", "Packing list for the trip:\n- sketchbook\n- rain jacket\n- gifts for Niangao"),
                (300, ME, "text", "haha Niangao wants fish~"))
    c.messages = schedule(rng, lambda t: private_session(rng, t, "emily", st, "telegram"), 2.9, [photo, links, multi])
    chats.append(c)

    # ---------------- Telegram: Yiming Zhao (Chinese, lives in Berlin) ----------------
    c = Chat("tg_yiming", "telegram", "Yiming Zhao", False, [ME, "yiming"], tg_id=5550102, tg_type="personal_chat")
    st = Style([FRIEND_ABROAD, FRIEND_ABROAD, TOPICS_ZH["food"], TOPICS_ZH["drawing"]], owner_starts=0.3,
               media_friend=0.08, media_owner=0.04)
    back = seq(at("2024-07-15", "18:00:00"), (0, "yiming", "text", "落地了！\n明天中午一起吃饭？我请客"),
               (120, ME, "text", "冲鸭~ 吃片儿川"), (40, "yiming", "text", "就等你这句话"))
    back[0].extra = {"entities": [("bold", "落地了！"), ("plain", "\n明天中午一起吃饭？我请客")]}
    c.messages = schedule(rng, lambda t: private_session(rng, t, "yiming", st, "telegram"), 4.6, [back])
    chats.append(c)

    # ---------------- Telegram: group Sketch Club (English) ----------------
    members = [ME, "emily", "marco", "hana", "priya"]
    c = Chat("tg_group", "telegram", "Sketch Club 🎨", True, members, tg_id=1987654321, tg_type="private_supergroup")
    weights = [0, 2.0, 2.5, 1.5, 1.5]
    join = [Msg("emily", at("2024-03-01", "19:00:00"), "service", extra={"action": "invite_members", "members": [ME]}),
            *seq(at("2024-03-01", "19:00:00"),
                 (30, "marco", "text", "Welcome Xiaoxia! Emily told us about your cat drawings"),
                 (60, ME, "text", "haha hi everyone 🐱"), (40, "hana", "text", "Welcome! We post one piece a week"))]
    tagged = seq(at("2024-04-01", "10:00:00"), (0, "marco", "text", "This week's prompt: night train #sketchclub"),
                 (400, "priya", "photo", "my night train, very rough"), (120, ME, "text", "so moody~"))
    tagged[0].extra = {"entities": [("plain", "This week's prompt: night train "), ("hashtag", "#sketchclub")]}
    tagged[1].extra = {"w": 1080, "h": 1350}
    tagged[2].reply_to = -1
    c.messages = schedule(rng, lambda t: group_session(rng, t, members, weights, GROUP_SKETCH, "en", "telegram", 0.7),
                          4.8, [join, tagged], first=join[0].time)
    chats.append(c)

    for chat in chats:
        resolve_replies(chat, rng)
        assert all(m.time.microsecond == 0 for m in chat.messages), chat.name   # exports show whole seconds
    return chats


def resolve_replies(chat: Chat, rng: random.Random) -> None:
    """Relative reply_to offsets become message indexes; Telegram chats also get a few ordinary replies."""
    for i, m in enumerate(chat.messages):
        if m.reply_to is not None and m.reply_to < 0:
            m.reply_to = i + m.reply_to                  # -1: the message just before
    if chat.fmt != "telegram":
        return
    for i, m in enumerate(chat.messages):
        if i > 3 and m.reply_to is None and m.kind == "text" and rng.random() < 0.03:
            back = i - rng.randint(2, 3)
            if chat.messages[back].kind in ("text", "photo") and chat.messages[back].who != m.who:
                m.reply_to = back


# --------------------------------------------------------------------------------------------------------------
# Measuring the style markers on the in-memory conversation
# --------------------------------------------------------------------------------------------------------------
TEXT_KINDS = ("text", "quote")


def measure(chats: list[Chat]) -> dict:
    owner = [m.text for c in chats for m in c.messages if m.who == ME and m.kind in TEXT_KINDS]
    friends = [m.text for c in chats for m in c.messages if m.who not in ("", ME) and m.kind in TEXT_KINDS]
    total = sum(len(c.messages) for c in chats)

    def share(texts: list[str], rx: re.Pattern) -> float:
        return round(sum(1 for t in texts if rx.search(t)) / len(texts), 4)

    return {
        "messages_total": total,
        "owner_text_messages": len(owner),
        "friend_text_messages": len(friends),
        "owner_any_marker_share": share(owner, _ANY),
        "friend_any_marker_share": share(friends, _ANY),
        "owner_marker_shares": {k: share(owner, rx) for k, rx in _EACH.items()},
        "owner_starts_with_laugh_share": share(owner, _STARTS_HAHAHA),
        "friend_marker_shares": {k: share(friends, rx) for k, rx in _EACH.items()},
        "owner_median_chars": statistics.median(len(t) for t in owner),
        "friend_median_chars": statistics.median(len(t) for t in friends),
        "per_chat": {c.key: {"format": c.fmt, "name": c.name, "group": c.is_group, "messages": len(c.messages),
                             "owner_messages": sum(1 for m in c.messages if m.who == ME),
                             "first": c.messages[0].time.isoformat(), "last": c.messages[-1].time.isoformat()}
                     for c in chats},
    }


# --------------------------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------------------------
def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _unix(t: datetime) -> int:
    return int((t - UTC_OFFSET - datetime(1970, 1, 1)).total_seconds())


def we_name(chat: Chat, key: str) -> str:
    return PEOPLE[ME].name if key == ME else PEOPLE[key].name


def write_wechatexporter(chats: list[Chat], root: Path) -> dict[str, bytes]:
    """WechatExporter txt mode: templates joined with "", each ending in its own \\n (transfer: none)."""
    account = PEOPLE[ME].name
    files: dict[str, bytes] = {}
    for chat in chats:
        body: list[str] = []
        for m in chat.messages:
            head = f"{we_name(chat, m.who)} ({_ts(m.time)}):" if m.who else ""
            if m.kind == "text":
                body.append(f"{head}{m.text}\n")
            elif m.kind == "image":
                body.append(f"{head}[图片]\n")
            elif m.kind == "sticker":
                body.append(f"{head}[表情]\n")
            elif m.kind == "voice":
                body.append(f'{head}[语音 {m.extra["sec"]}"]\n')
            elif m.kind in ("recall", "system"):
                body.append(f"{m.text}\n")                              # notice template: no name, no time
            elif m.kind == "pat":
                body.append(f"System Message: {m.text}\n")
            elif m.kind == "quote":
                name, quoted = m.quote
                body.append(f"「{name}：{quoted}」\n- - - - - - - - - - - - - - -\n{m.text}\n")
            elif m.kind == "transfer":                                   # no trailing newline, memo after \r\n
                memo = f"\r\n{m.text}" if m.text else ""
                body.append(f"{head}微信转账 {m.extra['fee']} - {m.extra['status']}{memo}")
            elif m.kind == "forward":
                body.append(f"{head}{m.text}\n<< {m.text}\n")
                for name, t, text in m.items:
                    body.append(f"{name} ({_ts(t)}):{text.replace(chr(10), '<br />')}\n")
                body.append(f"{m.text} 结束 >>\n")
            else:
                raise ValueError(f"no WechatExporter layout for {m.kind}")
        files[f"{account}/{chat.name}/index.txt"] = f"{chat.name} - 微信聊天记录\n\n{''.join(body)}\n".encode()
    recent = sorted(chats, key=lambda c: c.messages[-1].time, reverse=True)
    items = "".join(f"{c.name}.txt\n\n" for c in recent)
    files[f"{account}/index.txt"] = f"微信聊天记录  - {account}\n\n\n{items}\n".encode()
    files["index.txt"] = f"微信聊天记录 \n\n\n{account}/index.txt\n\n\n".encode()
    return {f"{root}/{k}": v for k, v in files.items()}


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def liuhen_content(m: Msg, chat: Chat, rng: random.Random) -> tuple[int, int, str]:
    """(Type, SubType, StrContent) as the PC MSG table holds them."""
    sender = PEOPLE[m.who].wxid if m.who else ""
    if chat.is_group:
        receiver = f"{20000000000 + chat.talker_id * 7919}@chatroom"
    else:
        receiver = PEOPLE[chat.members[1]].wxid if m.who == ME else PEOPLE[ME].wxid
    if m.kind == "text":
        return 1, 0, m.text
    if m.kind == "quote":
        return 49, 57, ""                                               # quote replies: StrContent is empty
    if m.kind in ("recall", "system"):
        return 10000, 0, m.text
    if m.kind == "image":
        return 3, 0, (f'<?xml version="1.0"?>\n<msg>\n\t<img aeskey="{_hex(rng, 32)}" encryver="1" '
                      f'cdnthumblength="{rng.randint(3000, 9000)}" cdnthumbheight="120" cdnthumbwidth="90" '
                      f'length="{rng.randint(80000, 900000)}" md5="{_hex(rng, 32)}" />\n</msg>\n')
    if m.kind == "sticker":
        return 47, 0, (f'<msg><emoji fromusername="{sender}" tousername="{receiver}" type="2" md5="{_hex(rng, 32)}" '
                       f'len="{rng.randint(20000, 300000)}" productid="" width="240" height="240"></emoji></msg>')
    if m.kind == "voice":
        ms = m.extra["sec"] * 1000 + rng.randint(0, 900)
        return 34, 0, (f'<msg><voicemsg endflag="1" cancelflag="0" forwardflag="0" voiceformat="4" '
                       f'voicelength="{ms}" length="{ms // 3}" bufid="0" fromusername="{sender}" /></msg>')
    raise ValueError(f"no 留痕 layout for {m.kind}")


def write_liuhen(chats: list[Chat], root: Path, rng: random.Random) -> dict[str, bytes]:
    """留痕 2.x per-contact CSV: 12 aligned columns, utf-8-sig, csv module defaults (QUOTE_MINIMAL, \\r\\n)."""
    # localId is one counter for the whole MSG database, so interleave every chat's messages by time.
    order = sorted(((m.time, ci, mi) for ci, c in enumerate(chats) for mi, m in enumerate(c.messages)))
    local_id = {(ci, mi): 2031 + n for n, (_, ci, mi) in enumerate(order)}
    files: dict[str, bytes] = {}
    for ci, chat in enumerate(chats):
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status", "StrContent",
                    "StrTime", "Remark", "NickName", "Sender"])
        for mi, m in enumerate(chat.messages):
            typ, sub, content = liuhen_content(m, chat, rng)
            is_send = 1 if m.who == ME or (m.kind == "recall" and m.text.startswith("你")) else 0
            if chat.is_group:
                p = PEOPLE[m.who] if m.who else None            # notices have no sender contact
                other = [p.name, p.nickname, p.wxid] if p else ["", "", ""]
            else:
                p = PEOPLE[ME] if is_send else PEOPLE[chat.members[1]]
                other = [p.name, p.nickname, p.wxid]
            w.writerow([local_id[(ci, mi)], chat.talker_id, typ, sub, is_send, _unix(m.time), "", content,
                        _ts(m.time), *other])
        files[f"{root}/聊天记录/{chat.name}/{chat.name}_utf8.csv"] = buf.getvalue().encode("utf-8-sig")
    return files


NOT_INCLUDED = "(File not included. Change data exporting settings to download.)"


def tg_message(m: Msg, msg_id: int, ids: list[int], chat: Chat) -> dict:
    """One message object, keys in the order Telegram Desktop writes them; empty keys are left out."""
    d: dict = {"id": msg_id, "type": "service" if m.kind == "service" else "message",
               "date": m.time.strftime("%Y-%m-%dT%H:%M:%S"), "date_unixtime": str(_unix(m.time))}
    if m.kind == "service":
        d.update({"actor": tg_name(m.who), "actor_id": f"user{PEOPLE[m.who].tg_id}", "action": m.extra["action"],
                  "members": [tg_name(k) for k in m.extra["members"]], "text": "", "text_entities": []})
        return d
    d["from"] = tg_name(m.who)
    d["from_id"] = f"user{PEOPLE[m.who].tg_id}"
    if m.reply_to is not None:
        d["reply_to_message_id"] = ids[m.reply_to]
    if m.kind == "photo":
        d.update({"photo": NOT_INCLUDED, "width": m.extra["w"], "height": m.extra["h"]})
    elif m.kind == "sticker":
        d.update({"file": NOT_INCLUDED, "media_type": "sticker", "sticker_emoji": m.extra["emoji"],
                  "width": 512, "height": 512})
    elif m.kind != "text":
        raise ValueError(f"no Telegram layout for {m.kind}")
    parts = m.extra.get("entities") or ([("plain", m.text)] if m.text else [])
    assert "".join(t for _, t in parts) == m.text, m.text
    if not parts:
        d["text"] = ""                            # no text: an empty string, but an empty entity list
    elif len(parts) == 1 and parts[0][0] == "plain":
        d["text"] = m.text
    else:
        d["text"] = [t if kind == "plain" else {"type": kind, "text": t} for kind, t in parts]
    d["text_entities"] = [{"type": kind, "text": t} for kind, t in parts]
    return d


def write_telegram(chats: list[Chat], root: Path, rng: random.Random) -> dict[str, bytes]:
    """Telegram Desktop full-account JSON: 1-space indent, UTF-8 without BOM, no newline after the final brace."""
    # Message ids: a supergroup counts its own messages; private chats and basic groups share one counter for the
    # whole account, so their ids interleave in time order (with holes where messages were deleted elsewhere).
    ids: dict[str, list[int]] = {}
    shared = sorted((m.time, ci, mi) for ci, c in enumerate(chats) if not c.tg_type.endswith("supergroup")
                    for mi, m in enumerate(c.messages))
    counter = 1830
    for _, ci, _ in shared:
        counter += rng.randint(1, 3)
        ids.setdefault(chats[ci].key, []).append(counter)
    for c in chats:
        if c.tg_type.endswith("supergroup"):
            counter, ids[c.key] = 1, []
            for _ in c.messages:
                counter += 1 + (rng.random() < 0.01)
                ids[c.key].append(counter)
    out_chats = [{"name": c.name, "type": c.tg_type, "id": c.tg_id,
                  "messages": [tg_message(m, ids[c.key][i], ids[c.key], c) for i, m in enumerate(c.messages)]}
                 for c in sorted(chats, key=lambda c: c.messages[-1].time, reverse=True)]
    doc = {
        "about": "Here is the data you requested. Remember: Telegram is ad free, it doesn't sell your data, "
                 "and never will.",
        "personal_information": {"user_id": PEOPLE[ME].tg_id, "first_name": "Xiaoxia", "last_name": "Lin",
                                 "phone_number": "+86 138 0013 8000", "username": "@xiaoxia_draws",
                                 "bio": "Illustrator in Hangzhou. Cat person 🐱"},
        "chats": {"about": "This page lists all chats from this export.", "list": out_chats},
    }
    return {f"{root}/result.json": json.dumps(doc, ensure_ascii=False, indent=1).encode()}


# --------------------------------------------------------------------------------------------------------------
# README, markers.json, LICENSE
# --------------------------------------------------------------------------------------------------------------
def markers_doc(stats: dict, seed: int) -> dict:
    return {
        "generated_by": f"scripts/make_sample.py --seed {seed}",
        "fictional": True,
        "owner": {
            "names": ["林小夏", "wxid_linxiaoxia", TG_OWNER_NAME, "user5550001"],
            "wechatexporter": {"account_folder": "林小夏", "display_name": "林小夏"},
            "liuhen": {"wxid": "wxid_linxiaoxia", "remark": "林小夏", "nickname": "林小夏", "is_sender_column": "IsSender"},
            "telegram": {"user_id": PEOPLE[ME].tg_id, "from_id": f"user{PEOPLE[ME].tg_id}", "name": TG_OWNER_NAME},
        },
        "markers": MARKERS,
        "any_marker_regex": ANY_MARKER,
        "text_kinds": "plain text messages and quote replies; media, captions, notices and forwards are not counted",
        "measured": stats,
        "pii": {"phones": [PHONE_1, PHONE_2, "+86 138 0013 8000"], "emails": [EMAIL, EMAIL_EN], "urls": [URL],
                "id_numbers": [ID_NUMBER], "qq_numbers": [QQ]},
    }


def readme(stats: dict, seed: int) -> str:
    s = stats
    per = "\n".join(f"| {v['format']} | {v['name']} | {'group' if v['group'] else 'private'} | {v['messages']} | "
                    f"{v['owner_messages']} |" for v in s["per_chat"].values())
    shares = ", ".join(f"{k} {v:.1%}" for k, v in s["owner_marker_shares"].items())
    return f"""# Sample persona: 林小夏 (fictional)

This folder is the project's **embedded default dataset**. Everything in it is **fictional and generated** by
`scripts/make_sample.py` (seed {seed}); no real person's messages, names or numbers are in it. The phone numbers,
e-mail addresses, URL, QQ number and ID number are made up (the ID number's check digit is computed so that
PII masking has a valid one to find; example.com/example.net are reserved domains).

**Who:** 林小夏 (Xiaoxia Lin), an illustrator living in Hangzhou with an orange cat called 年糕 (Niangao).
WeChat display name `林小夏`, wxid `wxid_linxiaoxia`; Telegram user id `5550001`, name "Xiaoxia Lin".
Her friends (周小满, 陈编辑, 老妈, 许嘉禾, 唐糖, a dinner group, a college-roommates group, Emily Carter and a
Telegram sketch club) are made up too. Six months of chats, {s['messages_total']} messages, 2024-03-01 to 2024-08-31,
times in UTC+8.

## Layout

Each conversation lives in exactly one export, written byte for byte the way the real exporter writes it
(see `shared/reference/export-formats.md`):

- `wechatexporter/` — BlueMatthew/WechatExporter txt mode: `index.txt`, `林小夏/index.txt` (session list) and
  `林小夏/<chat>/index.txt`, UTF-8 without BOM, LF, 24-hour times. Contains the real traps: `[图片]`/`[表情]`/`[语音 N"]`
  placeholders, recall notices, a group-invite notice, a `System Message:` pat, a quote reply (refermsg layout, no
  sender or time), a transfer with a `\\r\\n` memo and no trailing newline, a forwarded-history block
  (`<< title` … `title 结束 >>`), multi-line messages and a group member shown by raw wxid. (The real exporter also
  creates empty `Files/Data/` folders; git cannot hold empty folders.)
- `liuhen/聊天记录/<chat>/<chat>_utf8.csv` — 留痕 (WeChatMsg 2.x) per-contact CSV: the 12 aligned columns
  `localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender`, utf-8-sig,
  CRLF, csv quoting. Images, stickers and voice are XML in StrContent, recalls and invites are Type 10000, the quote
  reply is Type 49/57 with an empty StrContent (as in real exports), and a member without a remark has a sanitised
  `Yutong_Song` Remark.
- `telegram/result.json` — Telegram Desktop whole-account "Machine-readable JSON" export: `personal_information` plus
  `chats.list` (two personal chats and a supergroup), `date` + `date_unixtime`, `text` as a plain string or an entity
  list, `text_entities`, a service message (`invite_members`), photos with captions, stickers, `reply_to_message_id`.
- `markers.json` — machine-readable facts: the owner's names and ids per format, the style markers with a regex each,
  the shares measured on the generated conversation, and the fictional PII values.

| format | chat | kind | messages | hers |
|---|---|---|---|---|
{per}

## Style markers

Her text messages carry markers her friends (almost) never use: they end with `~`, contain 冲鸭 or 绝了, the 🐱 emoji
or the WeChat code `[旺柴]`, or open with 哈哈哈 (in English: "haha"). Measured on the generated conversation (text
messages and quote replies):

- her text messages: {s['owner_text_messages']}, with at least one marker: **{s['owner_any_marker_share']:.1%}**
  ({shares}; opening with a laugh {s['owner_starts_with_laugh_share']:.1%})
- friends' text messages: {s['friend_text_messages']}, with any marker: **{s['friend_any_marker_share']:.2%}**
  (one friend jokingly copies her 冲鸭 once, another says 绝了 once)
- median length: hers {s['owner_median_chars']} characters, friends' {s['friend_median_chars']}

A clone that learned her style should reproduce these shares; one that did not will look like her friends.

## Regenerate

    python scripts/make_sample.py --out samples/persona --seed {seed}     # or: make sample

Standard library only, deterministic: the same seed gives byte-identical files (`tests/test_sample.py` checks it).

## License

Generated by this repository's `scripts/make_sample.py`; MIT, like the rest of the project (see `LICENSE`).
"""


LICENSE_TEXT = """The files in this folder are generated by scripts/make_sample.py of the chatclone repository.
They describe a fictional person and fictional friends; any resemblance to real people is coincidental.
They are distributed under the same MIT License as the project:

MIT License

Copyright (c) 2026 chatclone contributors

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation the
rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to permit
persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of the
Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE
WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


# --------------------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------------------
def render(seed: int = SEED) -> tuple[dict[str, bytes], dict, list[Chat]]:
    """Every output file as {relative path: bytes}, plus the measured stats and the conversation itself."""
    chats = build(seed)
    stats = measure(chats)
    rng = random.Random(f"{seed}-render")          # media hashes and Telegram ids: independent of the dialogue
    files: dict[str, bytes] = {}
    files.update(write_wechatexporter([c for c in chats if c.fmt == "wechatexporter"], Path("wechatexporter")))
    files.update(write_liuhen([c for c in chats if c.fmt == "liuhen"], Path("liuhen"), rng))
    files.update(write_telegram([c for c in chats if c.fmt == "telegram"], Path("telegram"), rng))
    files["markers.json"] = (json.dumps(markers_doc(stats, seed), ensure_ascii=False, indent=2) + "\n").encode()
    files["README.md"] = readme(stats, seed).encode()
    files["LICENSE"] = LICENSE_TEXT.encode()
    return files, stats, chats


def write(out: Path, seed: int = SEED) -> dict:
    files, stats, _ = render(seed)
    for rel, data in sorted(files.items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "samples" / "persona")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    stats = write(args.out, args.seed)
    print(f"wrote {args.out}: {stats['messages_total']} messages; owner marker share "
          f"{stats['owner_any_marker_share']:.1%}, friends {stats['friend_any_marker_share']:.2%}; median chars "
          f"{stats['owner_median_chars']} vs {stats['friend_median_chars']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
