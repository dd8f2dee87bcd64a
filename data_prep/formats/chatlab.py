"""ChatLab's standard chat format (v0.0.2), JSON and JSON lines, whoever wrote it: CipherTalk, WeFlow, ChatLab's own
converters, or anyone converting another tool's export to it (the bridge for formats not read here).

- JSON: ``{"chatlab": {"version", …}, "meta": {"name", "platform", "type": "group"|"private", "groupId"?,
  "ownerId"?}, "members": [{"platformId", "accountName", "groupNickname"?}], "messages": [{"sender": <platformId>,
  "accountName", "groupNickname"?, "timestamp": <unix s>, "type": <int>, "content": <str|null>,
  "platformMessageId"?, "replyToMessageId"?}]}``.
- JSONL: a ``{"_type": "header", "chatlab": …, "meta": …}`` line, then ``"_type": "member"`` and ``"_type":
  "message"`` lines; ``#`` lines are comments.

The owner is ``meta.ownerId`` when the file has it (CipherTalk does, WeFlow does not), else ``me``. Group or private is
``meta.type`` only: ``members`` also lists the authors of forwarded chats, and the group itself. Chat text is types 0
and 25 (a reply); WeChat producers hide stickers, red packets and forwarded chats in 7 and transfers in 99, which
the rendered text tells apart, and WeFlow leaves ``reply[引用 sender：preview]`` in a reply's content.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..records import Kind, Message
from ..sources import ExportError, ParseLog, read_text
from . import SimpleFormat
from .jsonstream import array_items, find_key, json_lines, key_value, skip_ws, value_at
from .wechat import NOTICE_SENDER, forwarded_history, notice_kind, rendered_kind, split_quote_suffix

_JSON_MARK = re.compile(r'"chatlab"\s*:\s*\{')
_JSONL_RECORD = re.compile(r'\{\s*"_type"\s*:')  # JSONL records start with their type

# ChatLab type code -> kind and the placeholder for a null content.
_TYPES: dict[int, tuple[Kind, str]] = {
    0: (Kind.TEXT, ""), 1: (Kind.IMAGE, "[图片]"), 2: (Kind.VOICE, "[语音]"), 3: (Kind.VIDEO, "[视频]"),
    4: (Kind.FILE, "[文件]"), 5: (Kind.STICKER, "[表情]"), 7: (Kind.LINK, "[链接]"), 8: (Kind.LOCATION, "[位置]"),
    20: (Kind.MONEY, "[红包]"), 21: (Kind.MONEY, "[转账]"), 22: (Kind.SYSTEM, "[拍一拍]"), 23: (Kind.CALL, "[通话]"),
    24: (Kind.LINK, "[分享]"), 25: (Kind.TEXT, ""), 26: (Kind.FORWARD, "[聊天记录]"), 27: (Kind.CARD, "[名片]"),
    80: (Kind.SYSTEM, "[系统消息]"), 81: (Kind.RECALL, "[撤回消息]"), 99: (Kind.OTHER, "[其他消息]"),
}
_REPLY = 25
_CATCH_ALL = frozenset({7, 99})  # codes WeChat producers use for several kinds: the rendered text decides
_MEDIA = frozenset({Kind.IMAGE, Kind.STICKER, Kind.VOICE, Kind.VIDEO, Kind.FILE})
_QUOTABLE = 500  # characters of a message kept to fill in a later reply's quote


@dataclass
class _Chat:
    chat_id: str
    name: str
    is_group: bool
    owner: str
    members: dict[str, str] = field(default_factory=dict)  # platformId -> shown name
    texts: dict[str, str] = field(default_factory=dict)    # platformMessageId -> text, for replies' quotes


def sniff(path: Path, head: str) -> bool:
    for line in head.split("\n", 50)[:50]:
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        return s.startswith("{") and bool(_JSON_MARK.search(head))
    return False


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


def _chat(meta: Any, path: Path) -> _Chat:
    if not isinstance(meta, dict):
        raise ExportError(path, None, '"meta" is not an object: not a ChatLab export')
    name = _str(meta.get("name")) or path.stem
    return _Chat(_str(meta.get("groupId")) or name, name, _str(meta.get("type")) == "group",
                 _str(meta.get("ownerId")))


def _add_member(chat: _Chat, m: Any) -> None:
    if isinstance(m, dict) and _str(m.get("platformId")):
        name = _str(m.get("groupNickname")) or _str(m.get("accountName"))
        if name:
            chat.members[_str(m["platformId"])] = name


def _time(value: Any) -> datetime | None:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value)  # the spec says s; some write ms
    except (OverflowError, OSError, ValueError):
        return None


def _message(obj: Any, chat: _Chat, path: Path, line: int, log: ParseLog, me: frozenset[str]) -> Message | None:
    if not isinstance(obj, dict) or "sender" not in obj:
        log.skip(path, line, "chatlab: not a message object")
        return None
    when = _time(obj.get("timestamp"))
    if when is None:
        log.skip(path, line, "chatlab: message without time")
        return None
    code = obj.get("type")
    kind, placeholder = _TYPES.get(code, (Kind.OTHER, "[其他消息]")) if isinstance(code, int) else \
        (Kind.OTHER, "[其他消息]")
    raw = obj.get("content")
    content = raw.strip() if isinstance(raw, str) else ""
    quote: str | None = None
    if code in _CATCH_ALL and content:
        kind = rendered_kind(content) or kind
    if kind is Kind.TEXT:
        text = content
        if code == _REPLY:
            text, quote = split_quote_suffix(content)
            text = text.strip()
            if quote is None:
                quote = chat.texts.get(_str(obj.get("replyToMessageId")))
    elif kind is Kind.FORWARD:
        text = forwarded_history(content, obj.get("chatRecords"), log, path, line) or placeholder
    elif kind in _MEDIA and not content.startswith("["):
        text = placeholder  # null, or the path of an exported media file
    else:
        text = content or placeholder
        if kind is Kind.SYSTEM and content:
            kind = notice_kind(content)
    if not text:
        log.skip(path, line, "chatlab: empty message")
        return None
    msg_id = _str(obj.get("platformMessageId"))
    if msg_id:
        chat.texts[msg_id] = text[:_QUOTABLE]
    sender_id = _str(obj.get("sender"))
    if kind is Kind.SYSTEM or kind is Kind.RECALL:
        return Message(chat.chat_id, chat.name, chat.is_group, NOTICE_SENDER, False, when, kind, text, None, None,
                       f"{path}:{line}")
    shown = _str(obj.get("groupNickname")) or _str(obj.get("accountName"))
    if chat.owner:
        by_owner = sender_id == chat.owner
    else:
        by_owner = sender_id in me or shown in me or _str(obj.get("accountName")) in me
    sender = shown or chat.members.get(sender_id, "") or sender_id
    return Message(chat.chat_id, chat.name, chat.is_group, sender, by_owner, when, kind, text, quote,
                   sender_id or None, f"{path}:{line}")


def _parse_json(path: Path, text: str, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    start = skip_ws(text, 0)
    meta = key_value(text, "meta", path)
    if meta is None:
        value_at(text, start, path)  # a syntax error, with its line, explains more than "no meta"
        raise ExportError(path, None, 'no "meta": not a ChatLab export')
    chat = _chat(meta[0], path)
    members = key_value(text, "members", path)
    for m in members[0] if members and isinstance(members[0], list) else ():
        _add_member(chat, m)
    pos = find_key(text, "messages", 0, "[")
    if pos is None:
        raise ExportError(path, None, 'no "messages" array: not a ChatLab export')
    for line, obj in array_items(text, pos, path):
        m = _message(obj, chat, path, line, log, me)
        if m is not None:
            yield m


def _parse_jsonl(path: Path, text: str, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    chat: _Chat | None = None
    for line, obj in json_lines(path, text, log, "chatlab: invalid JSON line", comments=True):
        record = obj.get("_type") if isinstance(obj, dict) else None
        if chat is None:
            if record != "header":
                raise ExportError(path, line, 'the first record of a ChatLab JSONL file must be the "header"')
            chat = _chat(obj.get("meta"), path)
        elif record == "member":
            _add_member(chat, obj)
        elif record == "message":
            m = _message(obj, chat, path, line, log, me)
            if m is not None:
                yield m
        else:
            log.skip(path, line, "chatlab: unknown record")


def parse(path: Path, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    text = read_text(path)
    first = next((ln.strip() for ln in text[:65536].split("\n") if ln.strip() and not ln.lstrip().startswith("#")),
                 "")
    if _JSONL_RECORD.match(first):
        yield from _parse_jsonl(path, text, log, me)
    elif first.startswith("{"):
        yield from _parse_json(path, text, log, me)
    else:
        raise ExportError(path, 1, "not a ChatLab export: expected a JSON object or a JSONL header line")


FORMAT = SimpleFormat("chatlab", sniff, parse)
