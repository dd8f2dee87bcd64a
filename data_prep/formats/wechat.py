"""What every WeChat export shares, whichever tool wrote it: message type codes and what they mean, the XML
of app messages, quotes and system notices, wxids and chat-room ids, the database's packed columns.

WeChat 3.x stores ``Type`` and ``SubType`` (the appmsg type) in two columns; WeChat 4.x packs them into one 64-bit
``local_type`` = ``(subtype << 32) | type``. Both reach :func:`convert` as the pair.
"""
from __future__ import annotations

import html
import re
from datetime import datetime
from pathlib import Path

from ..records import Kind
from ..sources import ParseLog
from . import lz4block, protowire

# --- times and markup ------------------------------------------------------------------------------------------
_LENIENT_TIME = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})[ T]+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?")


def parse_time(value: str) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS`` fast; also Excel re-saves like ``2024/10/4 11:42`` (seconds lost). A time with a zone
    (``…Z``, ``…+08:00``) becomes the local time of this machine, like every other absolute time we read."""
    try:
        t = datetime.fromisoformat(value)
        return t.astimezone().replace(tzinfo=None) if t.tzinfo else t
    except ValueError:
        pass
    m = _LENIENT_TIME.fullmatch(value.strip())
    if not m:
        return None
    try:
        return datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6] or 0))
    except ValueError:
        return None


_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.S)
_TAGS = re.compile(r"<[^<>]*>")
_REEDIT = re.compile(r"\s*<a\b[^>]*revoke_edit_click[^>]*>.*?</a>", re.S)


def clean_markup(text: str) -> str:
    """Plain text from a system notice: CDATA unwrapped, the ``重新编辑`` link dropped, tags removed, entities
    decoded."""
    if "<" in text:
        text = _REEDIT.sub("", _CDATA.sub(r"\1", text))
        text = _TAGS.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    return text.strip()


def looks_like_xml(text: str) -> bool:
    s = text.lstrip()
    return s.startswith("<") and ">" in s


_TAG_CACHE: dict[str, re.Pattern[str]] = {}


def xml_tag(xml: str, tag: str) -> str:
    """Text of the first ``<tag>…</tag>`` (CDATA unwrapped, entities decoded); '' if absent."""
    pat = _TAG_CACHE.get(tag)
    if pat is None:
        pat = _TAG_CACHE[tag] = re.compile(rf"<{tag}(?:\s[^>]*)?>(.*?)</{tag}>", re.S)
    m = pat.search(xml)
    if not m:
        return ""
    value = _CDATA.sub(r"\1", m[1])
    return html.unescape(value).strip() if "&" in value else value.strip()


_ATTR_CACHE: dict[str, re.Pattern[str]] = {}


def xml_attr(xml: str, attr: str) -> str:
    pat = _ATTR_CACHE.get(attr)
    if pat is None:
        pat = _ATTR_CACHE[attr] = re.compile(rf'\b{attr}\s*=\s*"([^"]*)"')
    m = pat.search(xml)
    return html.unescape(m[1]).strip() if m else ""


# The sender shown for system lines (recalls, joins, pats), which are nobody's words.
NOTICE_SENDER = "系统消息"
GROUP_NOTICE = re.compile(r"加入了?群聊|移出了?群聊|修改群名为|群聊邀请|群公告|群主|退出了群聊")
RECALL_TEXT = re.compile(r"撤回了?一条消息")


def notice_kind(text: str) -> Kind:
    return Kind.RECALL if RECALL_TEXT.search(text) else Kind.SYSTEM

# --- ids ------------------------------------------------------------------------------------------------------
# A wxid as exporters write it: generated (wxid_…), official accounts (gh_…), chat rooms, and self-chosen ids
# (a letter, then 6–20 letters, digits, '-' or '_').
WXID = re.compile(r"wxid_\w+|gh_\w+|\w+@chatroom|[A-Za-z][-\w]{5,19}", re.A)


def is_group_id(chat_id: str) -> bool:
    return chat_id.endswith("@chatroom")


# --- packed database columns ----------------------------------------------------------------------------------
def compress_content_xml(data: bytes) -> str:
    """The appmsg XML inside a CompressContent blob (an LZ4 block); '' when it does not decompress."""
    try:
        raw = lz4block.decode_block(data)
    except ValueError:
        return ""
    return raw.replace(b"\x00", b"").decode("utf-8", errors="ignore")


def bytes_extra_sender(data: bytes) -> str | None:
    """The group member wxid in a BytesExtra protobuf: field 3 entries whose field 1 is 1 carry it in field 2."""
    try:
        for fnum, wt, value in protowire.fields(data):
            if fnum == 3 and wt == 2 and isinstance(value, bytes):
                kind = sender = None
                for f2, w2, v2 in protowire.fields(value):
                    if f2 == 1 and w2 == 0:
                        kind = v2
                    elif f2 == 2 and w2 == 2:
                        sender = v2
                if kind == 1 and isinstance(sender, bytes):
                    wxid = sender.decode("utf-8", errors="ignore").strip()
                    return wxid or None
    except IndexError:
        return None
    return None


# --- Type/SubType -> kind and shown text ----------------------------------------------------------------------
_SIMPLE: dict[int, tuple[Kind, str]] = {
    3: (Kind.IMAGE, "[图片]"), 34: (Kind.VOICE, "[语音]"), 43: (Kind.VIDEO, "[视频]"), 62: (Kind.VIDEO, "[视频]"),
    47: (Kind.STICKER, "[表情]"), 50: (Kind.CALL, "[音视频通话]"), 37: (Kind.SYSTEM, "[好友请求]"),
    40: (Kind.SYSTEM, "[可能认识的人]"), 65: (Kind.SYSTEM, "[企业微信打招呼]"), 9999: (Kind.SYSTEM, "[系统消息]"),
    64: (Kind.SYSTEM, "[系统消息]"), 52: (Kind.SYSTEM, "[系统消息]"), 53: (Kind.SYSTEM, "[系统消息]"),
}
# 49 (appmsg) subtypes: kind and placeholder prefix; the appmsg title follows when there is one.
_APP: dict[int, tuple[Kind, str]] = {
    1: (Kind.TEXT, ""), 3: (Kind.LINK, "[音乐]"), 4: (Kind.LINK, "[链接]"), 5: (Kind.LINK, "[链接]"),
    6: (Kind.FILE, "[文件]"), 74: (Kind.FILE, "[文件]"), 7: (Kind.LINK, "[游戏]"), 8: (Kind.STICKER, "[表情]"),
    17: (Kind.LOCATION, "[位置共享]"), 19: (Kind.FORWARD, "[聊天记录]"), 24: (Kind.LINK, "[笔记]"),
    33: (Kind.LINK, "[小程序]"), 36: (Kind.LINK, "[小程序]"), 40: (Kind.FORWARD, "[收藏]"),
    50: (Kind.CARD, "[视频号名片]"), 51: (Kind.LINK, "[视频号]"), 53: (Kind.OTHER, "[接龙]"),
    62: (Kind.SYSTEM, "[拍一拍]"), 63: (Kind.LINK, "[直播]"), 88: (Kind.LINK, "[直播]"),
    87: (Kind.OTHER, "[群公告]"), 2000: (Kind.MONEY, "[转账]"), 2001: (Kind.MONEY, "[红包]"),
    2003: (Kind.MONEY, "[红包封面]"),
}
_REFER = re.compile(r"<refermsg>(.*?)</refermsg>", re.S)
_REFER_PLACEHOLDER = {"3": "[图片]", "34": "[语音]", "43": "[视频]", "47": "[表情]", "48": "[位置]", "42": "[名片]"}


def _quote(xml: str) -> tuple[str, str | None] | None:
    """(reply text, quoted text) of a 49/57 appmsg; None if the XML is not there (CSV exports leave it empty)."""
    m = _REFER.search(xml)
    if not m:
        return None
    reply = xml_tag(xml[:m.start()], "title") or xml_tag(xml, "title")
    refer = m[1]
    quoted = xml_tag(refer, "content")
    if looks_like_xml(quoted):  # a quoted image / link: its own XML, escaped inside the refermsg
        quoted = xml_tag(quoted, "title") or _REFER_PLACEHOLDER.get(xml_tag(refer, "type"), "[消息]")
    return reply, quoted or None


def convert(type_: int, sub: int, content: str, appmsg_xml: str = "") -> tuple[Kind, str, str | None]:
    """Kind, shown text and quote for one raw MSG row. XML never reaches the text of a non-text kind.

    ``appmsg_xml`` is the decompressed CompressContent of a 49 row whose StrContent is not the XML itself."""
    if type_ == 1:
        return Kind.TEXT, content, None
    simple = _SIMPLE.get(type_)
    if simple:
        return simple[0], simple[1], None
    if type_ == 49:
        xml = content if looks_like_xml(content) else appmsg_xml
        if sub == 0 and xml:
            t = xml_tag(xml, "type")
            sub = int(t) if t.isdigit() else 0
        title = xml_tag(xml, "title") if xml else ""
        if sub == 57:
            q = _quote(xml) if xml else None
            if q and q[0]:
                return Kind.TEXT, q[0], q[1]
            return Kind.OTHER, "[引用消息]", None
        kind, label = _APP.get(sub, (Kind.OTHER, "[应用消息]"))
        if kind is Kind.TEXT:
            return (Kind.TEXT, title, None) if title else (Kind.OTHER, "[应用消息]", None)
        return kind, f"{label} {title}" if title else label, None
    if type_ == 48:
        place = xml_attr(content, "poiname") or xml_attr(content, "label")
        return Kind.LOCATION, f"[位置] {place}" if place else "[位置]", None
    if type_ in (42, 66):
        nick = xml_attr(content, "nickname")
        return Kind.CARD, f"[名片] {nick}" if nick else "[名片]", None
    if type_ == 10000:
        text = clean_markup(content)
        if sub == 4 or not text:
            return Kind.SYSTEM, text or "[系统消息]", None
        return notice_kind(text), text, None
    if type_ == 10002:
        if "revoke" in content:
            return Kind.RECALL, clean_markup(xml_tag(content, "replacemsg")) or "[撤回消息]", None
        return Kind.SYSTEM, "[系统消息]", None
    return Kind.OTHER, "[未知消息]", None


# --- WeChat 4.x: packed type codes and content the exporters render themselves -------------------------------
def split_local_type(code: int) -> tuple[int, int]:
    """(type, appmsg subtype) of a WeChat 4.x ``local_type``."""
    return code & 0xFFFFFFFF, code >> 32


def code_kind(type_: int, sub: int = 0) -> tuple[Kind, str] | None:
    """(kind, placeholder) of a type code whose content an exporter has already rendered; None for an app message
    (49) whose subtype the code does not carry. Quote replies (49/57) are text."""
    if type_ == 1:
        return Kind.TEXT, ""
    simple = _SIMPLE.get(type_)
    if simple:
        return simple
    if type_ == 49:
        if sub == 57:
            return Kind.TEXT, ""
        return _APP.get(sub, (Kind.OTHER, "[应用消息]")) if sub else None
    if type_ == 48:
        return Kind.LOCATION, "[位置]"
    if type_ in (42, 66):
        return Kind.CARD, "[名片]"
    if type_ in (10000, 10002):
        return Kind.SYSTEM, "[系统消息]"
    return Kind.OTHER, "[未知消息]"


# The type-name column of WeFlow, CipherTalk (first block) and EchoTrace (second block). 其他消息 (red packets, pats,
# anything else) says nothing: the content decides.
TYPE_NAMES: dict[str, Kind] = {
    "文本消息": Kind.TEXT, "引用消息": Kind.TEXT, "图片消息": Kind.IMAGE, "语音消息": Kind.VOICE,
    "视频消息": Kind.VIDEO, "动画表情": Kind.STICKER, "位置消息": Kind.LOCATION, "名片消息": Kind.CARD,
    "通话消息": Kind.CALL, "系统消息": Kind.SYSTEM, "链接消息": Kind.LINK, "文件消息": Kind.FILE,
    "聊天记录": Kind.FORWARD, "转账消息": Kind.MONEY, "音乐消息": Kind.LINK, "群公告": Kind.OTHER,
    "小程序消息": Kind.LINK,
    "卡片式链接": Kind.LINK, "图文消息": Kind.LINK, "小程序分享": Kind.LINK, "音乐卡片": Kind.LINK,
    "红包卡片": Kind.MONEY, "聊天记录合并转发": Kind.FORWARD, "拍一拍消息": Kind.SYSTEM, "转账卡片": Kind.MONEY,
    "视频号直播卡片": Kind.LINK,
}

# Rendered placeholders that open a message's content, for rows whose type does not say what they are (WeClone CSV
# writes "text" for all of these; ChatLab type 7 and 99 hide several). Longer prefixes first.
_RENDERED_PREFIXES: tuple[tuple[str, Kind], ...] = (
    ("[转发的聊天记录]", Kind.FORWARD), ("[聊天记录]", Kind.FORWARD), ("[转账收款]", Kind.MONEY),
    ("[转账]", Kind.MONEY), ("转账[", Kind.MONEY), ("[红包]", Kind.MONEY), ("[链接]", Kind.LINK), ("[图文]", Kind.LINK),
    ("[小程序]", Kind.LINK), ("[音乐]", Kind.LINK), ("[视频号", Kind.LINK), ("[文件]", Kind.FILE),
    ("[语音通话]", Kind.CALL), ("[视频通话]", Kind.CALL), ("[通话消息]", Kind.CALL), ("[通话]", Kind.CALL),
    ("[位置]", Kind.LOCATION), ("[名片]", Kind.CARD), ("[群公告]", Kind.OTHER), ("[接龙]", Kind.OTHER),
    ("[表情包", Kind.STICKER), ("[动画表情]", Kind.STICKER), ("[图片]", Kind.IMAGE), ("[语音消息]", Kind.VOICE),
    ("[语音 ", Kind.VOICE), ("[视频]", Kind.VIDEO), ("[视频 ", Kind.VIDEO), ("[拍一拍]", Kind.SYSTEM),
)
# A red packet's rendered content is its card title, by default this one.
RED_PACKET_TITLE = "微信红包"
# System lines as rendered text: recalls, invitations, claimed red packets, pats, new-friend and stranger notices.
_NOTICE_TEXT = re.compile(
    r'(?:你|"[^"\n]{1,40}" ?)(?:撤回了一条消息|邀请.{1,200}加入了群聊|拍了拍.{0,60})'
    r"|你领取了.{1,40}的红包|.{1,40}领取了你的红包|.*与群里其他人都不是(?:微信)?朋友关系.*"
    r"|你已添加了.{1,40}，现在可以开始聊天了。?|以上是打招呼的内容"
    r'|"[^"\n]{1,40}"修改群名为.{1,60}|你修改群名为.{1,60}', re.S)


def rendered_kind(text: str) -> Kind | None:
    """The kind of a rendered content string that is not chat text; None when it reads as chat text."""
    s = text.strip()
    if s == RED_PACKET_TITLE:
        return Kind.MONEY
    if s[:1] in "[转":
        for prefix, kind in _RENDERED_PREFIXES:
            if s.startswith(prefix):
                return kind
    if _NOTICE_TEXT.fullmatch(s):
        return notice_kind(s)
    return None


_QUOTE_OPEN = "[引用 "


def split_quote_suffix(content: str, quoted_sender: str = "", quoted: str = "") -> tuple[str, str | None]:
    """(reply, quoted text) of a quote reply rendered as ``reply[引用 sender：preview]`` (WeFlow since 2026-03).

    The exporter's own ``quotedSender``/``quotedContent`` locate the suffix exactly; without them, the last
    ``[引用 `` that runs to the closing ``]`` at the end is it. Content without the suffix is the reply itself."""
    if not content.endswith("]"):
        return content, None
    if quoted:
        labels = (f"{quoted_sender}：{quoted}", quoted) if quoted_sender else (quoted,)
        for label in labels:
            suffix = f"{_QUOTE_OPEN}{label}]"
            if content.endswith(suffix):
                return content[:-len(suffix)], quoted
    i = content.rfind(_QUOTE_OPEN)
    if i < 0:
        return content, None
    inner = content[i + len(_QUOTE_OPEN):-1]
    if quoted_sender and inner.startswith(quoted_sender + "："):
        inner = inner[len(quoted_sender) + 1:]
    else:
        _, sep, rest = inner.partition("：")
        inner = rest if sep else inner
    return content[:i], inner or None


_FORWARD_HEADS = ("[转发的聊天记录]", "[聊天记录]")


def forwarded_history(content: str, records: object, log: ParseLog, path: Path, line: int) -> str:
    """The first line of a forwarded chat history as the JSON exporters render it; each of its items is a skip in
    ``log``: the ``chatRecords`` list where the export has one, else the lines under a ``[聊天记录]`` heading."""
    first, _, rest = content.partition("\n")
    items = len(records) if isinstance(records, list) else \
        sum(1 for ln in rest.split("\n") if ln.strip()) if first.startswith(_FORWARD_HEADS) else 0
    for _ in range(items):
        log.skip(path, line, "forwarded history item")
    return first


def strip_sender_prefix(raw: str, sender_id: str) -> str:
    """A group message as stored: ``<sender wxid>:\\n<content>``. Only that exact prefix is removed, so a text that
    itself starts with ``word:`` keeps it (the exporters' own ``^[A-Za-z0-9_-]+:`` strip eats it)."""
    prefix = f"{sender_id}:\n"
    return raw[len(prefix):] if sender_id and raw.startswith(prefix) else raw
