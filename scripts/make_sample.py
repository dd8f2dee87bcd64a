#!/usr/bin/env python3
"""Generate the bundled sample export: the chat history of a FICTIONAL persona, 林小夏 (Xiaoxia Lin).

The output under ``samples/persona`` is the project's embedded default dataset: ``make dataset`` builds from it on a
fresh clone, and later stages fine-tune a tiny model on it and measure whether the clone picked up her style markers
(replies ending in "~", 冲鸭/绝了, 🐱, [旺柴], replies opening with 哈哈哈), which her friends never use.

Three export formats are written byte for byte as the real exporters lay them out (see
shared/reference/export-formats.md sections 1, 2 and 5): WechatExporter txt, 留痕 (WeChatMsg 2.x) per-contact CSV
and a Telegram Desktop whole-account JSON. Each conversation lives in exactly one export.

Who she and her friends are, what they talk about, how she writes (her style markers) and the fictional personal
data live in ``scripts/persona.toml``; this script holds the story (the chats, their shapes, the scripted scenes)
and the exporters' layouts.

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
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

SEED = 7
START = datetime(2024, 3, 1, 9, 0, 0)
END = datetime(2024, 8, 31, 23, 0, 0)
UTC_OFFSET = timedelta(hours=8)  # the exporting machine is in Hangzhou: exports show naive UTC+8 local time

PERSONA_FILE = Path(__file__).with_name("persona.toml")
with PERSONA_FILE.open("rb") as _f:
    PERSONA = tomllib.load(_f)

# --------------------------------------------------------------------------------------------------------------
# Markers (persona.toml). ANY_MARKER decides "carries the persona's style"; each marker also has its own regex for the
# report; PERSONA_MARKERS are the markers themselves, for plain substring checks.
# --------------------------------------------------------------------------------------------------------------
MARKERS: list[dict[str, str]] = [{"id": m["id"], "regex": m.get("regex", re.escape(m["text"])),
                                  "description": m["description"]} for m in PERSONA["markers"]]
PERSONA_MARKERS: tuple[str, ...] = tuple(m["text"] for m in PERSONA["markers"])
ANY_MARKER = "|".join(f"(?:{m['regex']})" for m in MARKERS)
_ANY = re.compile(ANY_MARKER)
_EACH = {m["id"]: re.compile(m["regex"]) for m in MARKERS}
_STARTS_HAHAHA = re.compile(PERSONA["style"]["laugh_opening"])
STYLE: dict = PERSONA["style"]

# Fictional PII for the masking stage. The ID number's check digit is computed, so it is "valid" but made up.
_PII = PERSONA["pii"]
PHONE_1 = _PII["phone"]
PHONE_2 = _PII["phone_2"]
EMAIL = _PII["email"]
EMAIL_EN = _PII["email_en"]
URL = _PII["url"]
QQ = _PII["qq"]


def id_check_digit(first17: str) -> str:
    """GB 11643-1999 check character of an 18-character resident ID number."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


ID_NUMBER = _PII["id_number_first17"] + id_check_digit(_PII["id_number_first17"])


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
_OWNER = PERSONA["owner"]
PEOPLE: dict[str, Person] = {
    ME: Person(ME, _OWNER["name"], _OWNER["nickname"], _OWNER["wxid"], _OWNER["tg_id"]),
    **{key: Person(key, **fields) for key, fields in PERSONA["friends"].items()},
}
TG_OWNER = _OWNER["telegram"]
TG_OWNER_NAME = f"{TG_OWNER['first_name']} {TG_OWNER['last_name']}"


def tg_name(key: str) -> str:
    return TG_OWNER_NAME if key == ME else PEOPLE[key].name


# --------------------------------------------------------------------------------------------------------------
# Content banks (persona.toml). Friend lines are plain sentences; owner "cores" are short and get markers added by
# decorate(). A core may start with "+" (fits 冲鸭) or "*" (fits 绝了).
# --------------------------------------------------------------------------------------------------------------
SLOTS: dict[str, list[str]] = PERSONA["slots"]


@dataclass(frozen=True)
class Topic:
    friend_open: list[str]
    friend_more: list[str]
    me: list[str]


TOPICS_ZH: dict[str, Topic] = {name: Topic(**t) for name, t in PERSONA["topics_zh"].items()}
TOPICS_EN: dict[str, Topic] = {name: Topic(**t) for name, t in PERSONA["topics_en"].items()}
_TOPICS: dict[str, Topic] = {name: Topic(**t) for name, t in PERSONA["topics"].items()}
WORK, MOM, ARTIST, FRIEND_ABROAD = _TOPICS["work"], _TOPICS["mom"], _TOPICS["artist"], _TOPICS["friend_abroad"]
GROUP_EAT, GROUP_ROOM, GROUP_SKETCH = _TOPICS["group_eat"], _TOPICS["group_room"], _TOPICS["group_sketch"]

_PHRASES = PERSONA["phrases"]
OWNER_OPENERS_ZH: list[str] = _PHRASES["owner_openers_zh"]
FRIEND_REPLIES_ZH: list[str] = _PHRASES["friend_replies_zh"]
FRIEND_TAILS_ZH: list[str] = _PHRASES["friend_tails_zh"]
FRIEND_TAILS_EN: list[str] = _PHRASES["friend_tails_en"]


# --------------------------------------------------------------------------------------------------------------
# Generation helpers
# --------------------------------------------------------------------------------------------------------------
_SLOT = re.compile(r"\{(\w+)\}")


def fill(template: str, rng: random.Random) -> str:
    return _SLOT.sub(lambda m: rng.choice(SLOTS[m.group(1)]), template)


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
        s = rng.choice(STYLE["chongya_zh"]).format(s)
    elif tag == "*" and rng.random() < 0.65:
        s = rng.choice(STYLE["juele_zh"]).format(s)
    elif rng.random() < 0.05:
        s += rng.choice(STYLE["catchphrase_tails_zh"])
    if rng.random() < 0.38:
        s = rng.choice(STYLE["laughs_zh"]) + s
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
        s = rng.choice(STYLE["laughs_en"]) + s
    r = rng.random()
    if r < 0.22:
        s += " 🐱"
    elif r < 0.92 or not _ANY.search(s):
        s += "~"
    return s


def owner_line(core: str, rng: random.Random, lang: str) -> str:
    core = fill(core, rng)
    return decorate_en(core, rng) if lang == "en" else decorate_zh(core, rng)


# Lines that only make sense at some dates (nobody says "天冷了" in August): word -> (months, weekdays).
SEASONS: list[tuple[str, list[int], list[int]]] = [
    (w["word"], w.get("months", list(range(1, 13))), w.get("weekdays", list(range(7)))) for w in PERSONA["seasons"]]


def in_season(line: str, t: datetime) -> bool:
    return all(t.month in months and t.weekday() in weekdays for word, months, weekdays in SEASONS if word in line)


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
    assert all(a.time <= b.time for a, b in pairwise(out)), "sessions overlap"
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
                 (0, "xiaoman", "text",
                  "野餐要带的东西我列了一下：\n1. 野餐垫\n2. 水果和三明治\n3. 防晒霜\n你看看还缺什么"),
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
                (0, "editor", "text",
                 "修改意见我整理了一下：\n1. 小女孩的裙子换成黄色\n2. 右下角留出放书名的位置\n3. 天空再亮一点"),
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
    pat = seq(at("2024-05-11", "18:22:40"), (0, "keke", "text", "小夏人呢，说好的六点"),
              (30, "", "pat", '"王可可" 拍了拍我'), (45, ME, "text", "来了来了，堵车~"))
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
                  (10, "", "recall", '"许嘉禾" 撤回了一条消息'),
                  (20, "jiahe", "text", "抢到了，但是只有站票，你还去吗"), (90, ME, "text", "站着也去~"))
    iq_src = "厦门那家民宿我订好了，就在沙坡尾"
    iquote = seq(at("2024-05-03", "10:41:00"), (0, "jiahe", "text", iq_src), (60, ME, "quote", "沙坡尾，绝了~"),
                 (45, "jiahe", "text", "离海边走路五分钟"))
    iquote[1].quote = ("许嘉禾", iq_src)
    plan = seq(at("2024-04-29", "20:15:00"),
               (0, "jiahe", "text", "厦门行程：\nDay1 鼓浪屿\nDay2 沙坡尾、环岛路\nDay3 回杭州"),
               (120, ME, "text", "冲鸭~"), (30, "jiahe", "text", "你有什么想加的吗"),
               (40, ME, "text", "想吃沙茶面[旺柴]"))
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
        "personal_information": {"user_id": PEOPLE[ME].tg_id, **TG_OWNER},
        "chats": {"about": "This page lists all chats from this export.", "list": out_chats},
    }
    return {f"{root}/result.json": json.dumps(doc, ensure_ascii=False, indent=1).encode()}


# --------------------------------------------------------------------------------------------------------------
# README, markers.json, LICENSE
# --------------------------------------------------------------------------------------------------------------
def markers_doc(stats: dict, seed: int) -> dict:
    me = PEOPLE[ME]
    return {
        "generated_by": f"scripts/make_sample.py --seed {seed}",
        "fictional": True,
        "owner": {
            "names": [me.name, me.wxid, TG_OWNER_NAME, f"user{me.tg_id}"],
            "wechatexporter": {"account_folder": me.name, "display_name": me.name},
            "liuhen": {"wxid": me.wxid, "remark": me.name, "nickname": me.nickname, "is_sender_column": "IsSender"},
            "telegram": {"user_id": PEOPLE[ME].tg_id, "from_id": f"user{PEOPLE[ME].tg_id}", "name": TG_OWNER_NAME},
        },
        "markers": MARKERS,
        "any_marker_regex": ANY_MARKER,
        "text_kinds": "plain text messages and quote replies; media, captions, notices and forwards are not counted",
        "measured": stats,
        "pii": {"phones": [PHONE_1, PHONE_2, TG_OWNER["phone_number"]], "emails": [EMAIL, EMAIL_EN], "urls": [URL],
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
"""  # noqa: E501 (the sample's README, written as is; CJK counts double)


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
