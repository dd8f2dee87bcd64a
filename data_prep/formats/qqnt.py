"""QQNT chats exported by QQ Chat Exporter (QCE, shuakami/qq-chat-exporter), JSON modes.

Single file: ``{"metadata":{…},"chatInfo":{…},"statistics":{…},"messages":[…],"avatars"?:…,"exportOptions"?:…}``.
Chunked mode: ``manifest.json`` (metadata/chatInfo/statistics/chunked) + ``chunks/c000001.jsonl`` (one message per
line) + ``avatars.json``; the chunks are parsed with the chat info of their manifest, and the manifest and avatars file
are companions that yield nothing.

Each message: ``timestamp`` (ms, absolute), ``time``, ``sender{uid,uin,name,…}``, ``content{text,elements[…]}``,
``recalled``, ``system``. The owner is ``chatInfo.selfUid``/``selfUin`` (V5 exports before 2025-12-26 have neither:
then ``me``); group vs private is ``chatInfo.type``. Two message shapes:

- the Rust exporter (2026-07 on): ``type`` is ``text``/``reply``/…, elements map 1:1 to QQ's and are rendered here;
- the TypeScript "V5" exporter (4.5.0, 2025-10 → 2026-07, what most people hold): ``type`` is the NT msgType
  (``type_1``, ``type_3``…) and the first element is the whole rendered line; see ``_render_v5``.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..records import Kind, Message
from ..sources import ExportError, ParseLog, read_text
from . import SimpleFormat
from .jsonstream import array_items, bad_json, json_lines, skip_ws, value_at

_CHAT_INFO = re.compile(r'"chatInfo"\s*:\s*')
# A key can only appear with an unescaped quote before the colon, so this never matches inside a string value.
_MESSAGES = re.compile(r'"messages"\s*:\s*\[')
_SNIFF_CHAT_INFO = re.compile(r'"chatInfo"\s*:\s*\{[^{}]*"(?:type|selfUid|selfUin|peerUid|name)"\s*:')
_SNIFF_CHUNK_LINE = re.compile(r'^\{.*"sender"\s*:\s*\{\s*"uid"\s*:.*"content"\s*:\s*\{')
_SNIFF_AVATARS = re.compile(r'\s*\{\s*(?:"\d+"\s*:\s*"|\})')
_CHUNKED = re.compile(r'"chunked"\s*:\s*\{')
_REPLY_PLACEHOLDER = "原消息"  # QCE's text for a reply whose original message was not found
_UNKNOWN_UID = "未知"  # QCE's uid for anonymous system notices

# Element type -> (kind, placeholder). Text-like elements are handled separately.
_MEDIA = {
    "image": (Kind.IMAGE, "[图片]"),
    "market_face": (Kind.STICKER, "[表情]"),
    "video": (Kind.VIDEO, "[视频]"),
    "audio": (Kind.VOICE, "[语音]"),
    "file": (Kind.FILE, "[文件]"),
    "location": (Kind.LOCATION, "[位置]"),
    "json": (Kind.LINK, "[JSON消息]"),
    "forward": (Kind.FORWARD, "[聊天记录]"),
    "wallet": (Kind.MONEY, "[红包]"),
    "av_record": (Kind.CALL, "[通话记录]"),
    "system": (Kind.SYSTEM, "[系统消息]"),
    "long_message": (Kind.OTHER, "[长消息]"),
}


@dataclass(frozen=True, slots=True)
class _Chat:
    chat_id: str
    name: str
    is_group: bool
    self_ids: frozenset[str]  # selfUid / selfUin; empty when the export lacks them


def sniff(path: Path, head: str) -> bool:
    start = head.lstrip()
    if not start.startswith("{"):
        return False
    if _SNIFF_CHAT_INFO.search(head):
        return True  # single-file export or chunked manifest
    if path.name.lower() == "avatars.json" and _SNIFF_AVATARS.match(start):
        return True
    return bool(_SNIFF_CHUNK_LINE.match(start.split("\n", 1)[0]))


def _str(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _chat(info: Any, path: Path) -> _Chat:
    if not isinstance(info, dict):
        raise ExportError(path, None, '"chatInfo" is not an object: not a QQ Chat Exporter export')
    name = _str(info.get("name")).strip() or path.stem
    chat_type = _str(info.get("type")).lower()
    self_ids = frozenset(s for s in (_str(info.get("selfUid")), _str(info.get("selfUin"))) if s)
    chat_id = _str(info.get("peerUin")) or _str(info.get("peerUid")) or name
    return _Chat(chat_id, name, chat_type in ("group", "2"), self_ids)


def _time(msg: dict) -> datetime | None:
    ts = msg.get("timestamp")
    if isinstance(ts, str) and ts.isdigit():
        ts = int(ts)
    if isinstance(ts, (int, float)) and not isinstance(ts, bool) and ts > 0:
        seconds = ts / 1000 if ts > 1e11 else ts  # QCE writes ms; accept seconds too
        try:
            return datetime.fromtimestamp(seconds)
        except (OverflowError, OSError, ValueError):
            return None
    raw = _str(msg.get("time")).strip()
    if not raw:
        return None
    try:
        t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    # "YYYY-MM-DD HH:mm:ss" is already local; an RFC 3339 string carries its zone.
    return t.astimezone().replace(tzinfo=None) if t.tzinfo else t


def _render(elements: list, fallback: str) -> tuple[str, Kind, str | None, int]:
    """Text, kind, quoted text and number of forwarded items of one message's elements."""
    parts: list[str] = []
    kind: Kind | None = None
    has_text = False
    quote: str | None = None
    forwarded = 0
    for el in elements:
        if not isinstance(el, dict):
            continue
        etype = el.get("type")
        data = el.get("data")
        if not isinstance(data, dict):
            data = {}
        if etype == "text":
            t = _str(data.get("text"))
            parts.append(t)
            has_text = has_text or bool(t.strip())
        elif etype == "at":
            parts.append("@" + (_str(data.get("name")) or "某人"))
            has_text = True
        elif etype == "face":
            parts.append(_str(data.get("name")) or "[表情]")
            has_text = True  # small QQ faces are inline emoji, like WeChat's [微笑]
        elif etype == "markdown":
            t = _str(data.get("content"))
            parts.append(t)
            has_text = has_text or bool(t.strip())
        elif etype == "reply":
            q = _str(data.get("content"))
            quote = q if q and q != _REPLY_PLACEHOLDER else None
        elif etype in _MEDIA:
            ekind, placeholder = _MEDIA[etype]
            parts.append(_placeholder(etype, data, placeholder))
            if kind is None or kind is Kind.OTHER:
                kind = ekind
            if etype == "forward" and isinstance(data.get("messages"), list):
                forwarded += len(data["messages"])
        else:
            parts.append(_str(data.get("text")) or _str(data.get("summary")) or f"[{etype}]")
            kind = kind or Kind.OTHER
    text = "".join(parts).strip() if elements else fallback.strip()
    if kind in (Kind.SYSTEM, Kind.CALL, Kind.FORWARD) or (kind is not None and not has_text):
        return text, kind, quote, forwarded
    return text, Kind.TEXT, quote, forwarded


def _placeholder(etype: str, data: dict, default: str) -> str:
    if etype == "market_face":
        return f"[{_str(data.get('name')) or '表情'}]"
    if etype == "file" and data.get("filename"):
        return f"[文件:{_str(data['filename'])}]"
    if etype == "forward" and data.get("title"):
        return f"[聊天记录] {_str(data['title'])}"
    if etype == "json":
        title = _str(data.get("title"))
        return title if title and title != "JSON消息" else default
    if etype in ("system", "av_record", "wallet"):
        return _str(data.get("text")) if etype == "system" and data.get("text") else (
            _str(data.get("summary")) or default)
    return default



# --- V5 (TypeScript exporter, 4.5.0 – 2026-07) ------------------------------------------------------------------
# Its messages have an NT msgType ("type_1", "type_3", …) and rebuild the elements as: one text element holding the
# whole rendered line (media, faces, the replied message, all as text), then the resources, @s, faces, the reply
# and the forward. Only the line is the message; the other elements only say what kind it is.
_V5_TYPE_KIND = {"type_6": Kind.VOICE, "type_7": Kind.LINK, "type_8": Kind.FILE, "type_9": Kind.VIDEO,
                 "type_11": Kind.FORWARD, "type_17": Kind.LOCATION}
_V5_ELEMENT_KIND = {"image": Kind.IMAGE, "video": Kind.VIDEO, "audio": Kind.VOICE, "file": Kind.FILE,
                    "market_face": Kind.STICKER, "forward": Kind.FORWARD}
# Resource placeholders in the line carry file names: keep only what they are.
_V5_RESOURCE = re.compile(r"\[(图片|视频|文件): [^\]\n]*\]")
_V5_REPLY_PREFIX = re.compile(r"\[回复 [^:\]\n]*: .*?\]\n", re.S)
_V5_RECALL_TIP = "[1]"  # gray tips render as "[<subElementType>]"; 1 is a recall


def _v5_line(mtype: Any, content: Any, elements: list) -> str | None:
    """The rendered line of a V5 message; None for any other message shape."""
    if type(mtype) is not str or not mtype.startswith("type_") or not elements or type(content) is not dict:
        return None
    first = elements[0]
    data = first.get("data") if type(first) is dict and first.get("type") == "text" else None
    line = data.get("text") if type(data) is dict else None
    return line if type(line) is str and line == content.get("text") else None


def _render_v5(mtype: str, line: str, elements: list) -> tuple[str, Kind, str | None, int]:
    kind = _V5_TYPE_KIND.get(mtype)
    quote: str | None = None
    forwarded = 0
    for el in elements[1:]:
        etype = el.get("type") if type(el) is dict else None
        raw = el.get("data") if type(el) is dict else None
        data = raw if type(raw) is dict else {}
        if etype == "reply":
            q = _str(data.get("content"))
            quote = q if q and q != _REPLY_PLACEHOLDER else None
            exact = f"[回复 {_str(data.get('senderName'))}: {q}]\n"
            if line.startswith(exact):
                line = line[len(exact):]
        elif etype in _V5_ELEMENT_KIND:
            if kind is None or etype == "forward":
                kind = _V5_ELEMENT_KIND[etype]
            if etype == "forward" and type(data.get("messages")) is list:
                forwarded += len(data["messages"])
    if mtype == "type_3" and line.startswith("[回复 "):
        line = _V5_REPLY_PREFIX.sub("", line, count=1)
    text = _V5_RESOURCE.sub(r"[\1]", line).strip()
    if kind in (Kind.IMAGE, Kind.VIDEO, Kind.FILE):
        # Text typed beside a picture is chat text; a picture alone is not.
        if _V5_RESOURCE.sub("", line).strip():
            kind = None
    return text, kind or Kind.TEXT, quote, forwarded


def _message(obj: Any, chat: _Chat, path: Path, prefix: str, line: int, log: ParseLog,
             me: frozenset[str]) -> Message | None:
    sender = obj.get("sender") if type(obj) is dict else None
    if type(sender) is not dict:
        log.skip(path, line, "qqnt: not a message object")
        return None
    ts = obj.get("timestamp")
    time: datetime | None
    if type(ts) is int and 100_000_000_000 < ts < 100_000_000_000_000:  # the usual ms timestamp: fast path
        time = datetime.fromtimestamp(ts / 1000)
    else:
        time = _time(obj)
        if time is None:
            log.skip(path, line, "qqnt: message without time")
            return None
    uid, uin, name = sender.get("uid"), sender.get("uin"), sender.get("name")
    if type(uid) is not str or uid == _UNKNOWN_UID:
        uid = "" if uid is None or uid == _UNKNOWN_UID else str(uid)
    if type(uin) is not str:
        uin = "" if uin is None else str(uin)
    if not name or type(name) is not str:
        name = (_str(sender.get("groupCard")) or _str(sender.get("remark")) or _str(sender.get("nickname"))
                or uin or uid)
    content = obj.get("content")
    elements = content.get("elements") if type(content) is dict else None
    if type(elements) is not list:
        elements = []
    mtype = obj.get("type")
    line_text = _v5_line(mtype, content, elements)
    first = elements[0] if len(elements) == 1 else None
    data = first.get("data") if type(first) is dict and first.get("type") == "text" else None
    if line_text is not None:
        text, kind, quote, forwarded = _render_v5(mtype, line_text, elements)  # type: ignore[arg-type]
    elif type(data) is dict and type(data.get("text")) is str:  # plain text message: fast path
        text, kind, quote, forwarded = data["text"].strip(), Kind.TEXT, None, 0
    else:
        text, kind, quote, forwarded = _render(elements, _str(content.get("text")) if type(content) is dict else "")
    for _ in range(forwarded):
        log.skip(path, line, "qqnt: forwarded-history item")
    if obj.get("recalled") is True:
        kind, text = Kind.RECALL, text or "[已撤回]"
    elif obj.get("system") is True and kind is not Kind.CALL:
        kind = Kind.RECALL if line_text is not None and text == _V5_RECALL_TIP else Kind.SYSTEM
    if not text:
        log.skip(path, line, "qqnt: empty message")
        return None
    if chat.self_ids:
        by_owner = uid in chat.self_ids or uin in chat.self_ids
    else:
        by_owner = name in me or (uin != "" and uin in me) or (uid != "" and uid in me)
    return Message(chat.chat_id, chat.name, chat.is_group, name, by_owner, time, kind, text, quote, uin or uid or None,
                   f"{prefix}{line}")


def _is_avatars(path: Path, text: str) -> bool:
    return path.name.lower() == "avatars.json" and bool(_SNIFF_AVATARS.match(text))


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _depth_at(text: str, pos: int) -> int:
    """How deep in objects/arrays ``pos`` is. The chat's "messages" is a key of the top object: a damaged key must
    not make a forwarded bundle's nested "messages" pass for the chat's (the scan stops there, usually early)."""
    depth = 0
    for t in _TOKEN.finditer(text, 0, pos):
        c = t[0]
        if c == "{" or c == "[":
            depth += 1
        elif c == "}" or c == "]":
            depth -= 1
    return depth


def _parse_single(path: Path, text: str, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    if not text.startswith("{", skip_ws(text, 0)):
        raise ExportError(path, 1, "not a JSON object: not a QQ Chat Exporter export")
    info_match = _CHAT_INFO.search(text)
    if info_match is None:
        if _is_avatars(path, text):
            return  # companion of a chunked export
        value_at(text, skip_ws(text, 0), path)  # report a syntax error with its line if there is one
        raise ExportError(path, None, 'no "chatInfo": not a QQ Chat Exporter export')
    info, info_end = value_at(text, info_match.end(), path)
    chat = _chat(info, path)
    msgs = next((m for m in _MESSAGES.finditer(text) if _depth_at(text, m.start()) == 1), None)
    if msgs is None:
        if _CHUNKED.search(text):
            return  # chunked manifest: its chunks/*.jsonl files hold the messages
        raise ExportError(path, None, 'no "messages" array at the top level: a damaged file, or not a QQ Chat '
                                      "Exporter export")
    prefix = f"{path}:"
    for line, obj in array_items(text, msgs.end(), path):
        m = _message(obj, chat, path, prefix, line, log, me)
        if m is not None:
            yield m


def _manifest_for(chunk: Path) -> Path | None:
    for d in (chunk.parent.parent, chunk.parent):
        if (d / "manifest.json").is_file():
            return d / "manifest.json"
    return None


def _parse_chunk(path: Path, text: str, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    manifest = _manifest_for(path)
    if manifest is None:
        raise ExportError(path, None, "QCE chunk without its manifest.json (needed for the chat info); "
                                      "parse the whole export folder")
    mtext = read_text(manifest)
    try:
        meta = json.loads(mtext)
    except json.JSONDecodeError as e:
        raise bad_json(manifest, e) from None
    chat = _chat(meta.get("chatInfo") if isinstance(meta, dict) else None, manifest)
    prefix = f"{path}:"
    for i, obj in json_lines(path, text, log, "qqnt: invalid JSON line"):
        m = _message(obj, chat, path, prefix, i, log, me)
        if m is not None:
            yield m


def parse(path: Path, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    text = read_text(path)
    first = text[:65536].lstrip().split("\n", 1)[0]  # bounded: a compact single-file export is one huge line
    if not _CHAT_INFO.search(first) and _SNIFF_CHUNK_LINE.match(first):
        yield from _parse_chunk(path, text, log, me)
    else:
        yield from _parse_single(path, text, log, me)


FORMAT = SimpleFormat("qqnt", sniff, parse)
