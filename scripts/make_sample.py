#!/usr/bin/env python3
"""Generate the bundled sample export: the chat history of a FICTIONAL persona, 林小夏 (Xiaoxia Lin).

The output under ``samples/persona`` is the project's embedded default dataset: ``make dataset`` builds from it on a
fresh clone, and later stages fine-tune a tiny model on it and measure whether the clone picked up her style markers
(replies ending in "~", 冲鸭/绝了, 🐱, [旺柴], replies opening with 哈哈哈), which her friends never use.

Three export formats are written byte for byte as the real exporters lay them out (see
shared/reference/export-formats.md sections 1, 2 and 5): WechatExporter txt, 留痕 (WeChatMsg 2.x) per-contact CSV
and a Telegram Desktop whole-account JSON. Each conversation lives in exactly one export.

Who she and her friends are, what they talk about, how she writes (her style markers) and the fictional personal
data live in ``scripts/persona.toml``; the chats, their shapes and their scripted scenes in ``scripts/chats.toml``;
this script generates the sessions between the scenes and writes the exporters' layouts.

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
CHATS_FILE = Path(__file__).with_name("chats.toml")
with CHATS_FILE.open("rb") as _f:
    CHATS: list[dict] = tomllib.load(_f)["chats"]

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
# as chats.toml's texts name them
PII_SLOTS = {"phone": PHONE_1, "phone_2": PHONE_2, "email": EMAIL, "email_en": EMAIL_EN, "url": URL, "qq": QQ,
             "id_number": ID_NUMBER}


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


def topics_of(names: list[str]) -> list[Topic]:
    """Topic banks by name: "zh:cats" / "en:…" from topics_zh / topics_en, "zh:*" for all of a bank, a bare name
    from [topics]."""
    out: list[Topic] = []
    for name in names:
        bank, _, key = name.rpartition(":")
        table = {"zh": TOPICS_ZH, "en": TOPICS_EN, "": _TOPICS}[bank]
        out += list(table.values()) if key == "*" else [table[key]]
    return out


def _filled(value):
    """``value`` (a text, or lists and tables of them) with the fictional personal data put in."""
    if isinstance(value, str):
        return value.format(**PII_SLOTS)
    if isinstance(value, list):
        return [_filled(v) for v in value]
    if isinstance(value, dict):
        return {k: _filled(v) for k, v in value.items()}
    return value


def scripted(scene: dict) -> list[Msg]:
    """A scripted session of chats.toml: its messages at their offsets, with what the optional table adds."""
    out: list[Msg] = []
    t = datetime.fromisoformat(scene["at"])
    for secs, who, kind, text, *more in scene["messages"]:
        t += timedelta(seconds=secs)
        more = more[0] if more else {}
        m = Msg(who, t, kind, _filled(text), extra=_filled(more.get("extra", {})), reply_to=more.get("reply_to"),
                items=[(name, datetime.fromisoformat(when), line) for name, when, line in more.get("items", [])])
        if "quote" in more:
            quoted = out[more["quote"]]
            m.quote = (PEOPLE[quoted.who].name, quoted.text)
        out.append(m)
    return out


# --------------------------------------------------------------------------------------------------------------
# The chats
# --------------------------------------------------------------------------------------------------------------
def build(seed: int = SEED) -> list[Chat]:
    """The chats of chats.toml: generated sessions around the scripted scenes, in the file's order (one random
    stream for all, so the order is part of the sample)."""
    rng = random.Random(seed)
    chats: list[Chat] = []
    for spec in CHATS:
        group = "weights" in spec
        c = Chat(spec["key"], spec["format"], spec["name"], group, spec["members"], talker_id=spec.get("talker_id", 0),
                 tg_id=spec.get("tg_id", 0), tg_type=spec.get("tg_type", ""))
        scenes = [scripted(s) for s in spec["scenes"]]
        if group:
            topic, lang = _TOPICS[spec["topic"]], spec.get("lang", "zh")

            def make(t: datetime, spec=spec, topic=topic, lang=lang) -> list[Msg]:
                return group_session(rng, t, spec["members"], spec["weights"], topic, lang, spec["format"],
                                     spec["owner_join"])
        else:
            style = Style(topics_of(spec["style"]["topics"]),
                          **{k: tuple(v) if k == "turns" else v for k, v in spec["style"].items() if k != "topics"})

            def make(t: datetime, spec=spec, style=style) -> list[Msg]:
                return private_session(rng, t, spec["members"][1], style, spec["format"])
        c.messages = schedule(rng, make, spec["gap_scale"], scenes, first=scenes[0][0].time if group else START)
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
