"""The detailed JSON that the WeChat 4.x exporters WeFlow, EchoTrace and CipherTalk (密语) write: one shape, read by
one parser; each of the three format modules only recognises its producer's file.

    {["weflow": {…} | "exportInfo": {…},] "session": {"wxid", "displayName", "type": "私聊"|"群聊"|"公众号",
     ["isGroup", "ownerId"]}, "messages": [{"createTime": <unix s>, "formattedTime", "type": <type name>,
     "localType": <64-bit code>, "content": <rendered text or null>, "isSend": 0|1|null, "senderUsername",
     "senderDisplayName", …}, …], ["groupMembers": […], "exportTime": …]}

The content is already rendered by the exporter (``[图片]``, ``[转账] ￥88.00``, ``微信红包``), so the kind comes from
``localType`` first, then the type name, then the rendered text. What differs between producers is handled by what
the file holds, not by who wrote it:

- quote replies: WeFlow appends ``[引用 sender：preview]`` to the reply (cut off; ``quotedContent`` is the quote);
- ``rawContent`` (CipherTalk) keeps a text's leading ``word:`` that every exporter's prefix strip eats;
- ``chatRecords`` (CipherTalk) and WeFlow's multi-line ``[转发的聊天记录]`` are forwarded items: counted, not messages;
- the owner: ``isSend``; where it is null (EchoTrace), ``session.ownerId`` (CipherTalk) or ``me``;
- system lines (a recall, a claimed red packet) may carry ``isSend: 1``: they are never the owner's;
- EchoTrace names members missing from the contacts ``群成员``: they are told apart by ``senderUsername``, named from
  ``groupMembers`` when it has them;
- WeFlow's ``arkme-json`` refers to senders by an integer ``senderID`` into a top-level ``senders`` list.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..records import Kind, Message
from ..sources import ExportError, ParseLog, read_text
from .jsonstream import array_items, find_key, key_value, skip_ws, value_at
from .wechat import (
    NOTICE_SENDER,
    TYPE_NAMES,
    clean_markup,
    code_kind,
    forwarded_history,
    is_group_id,
    looks_like_xml,
    notice_kind,
    parse_time,
    rendered_kind,
    split_local_type,
    split_quote_suffix,
    strip_sender_prefix,
)

_PLACEHOLDER = {
    Kind.TEXT: "", Kind.IMAGE: "[图片]", Kind.STICKER: "[表情]", Kind.VOICE: "[语音]", Kind.VIDEO: "[视频]",
    Kind.FILE: "[文件]", Kind.LINK: "[链接]", Kind.LOCATION: "[位置]", Kind.CALL: "[通话]", Kind.CARD: "[名片]",
    Kind.MONEY: "[转账/红包]", Kind.SYSTEM: "[系统消息]", Kind.RECALL: "[撤回消息]", Kind.FORWARD: "[聊天记录]",
    Kind.OTHER: "[其他消息]",
}
_MEDIA = frozenset({Kind.IMAGE, Kind.STICKER, Kind.VOICE, Kind.VIDEO, Kind.FILE})
_UNKNOWN_MEMBER = "群成员"  # EchoTrace's name for every member missing from the contacts
_QUOTE_NAMES = frozenset({"引用消息"})


@dataclass
class _Context:
    fmt: str
    path: Path
    text: str
    chat_id: str
    chat_name: str
    is_group: bool
    owner: str                                            # session.ownerId, '' when absent
    senders: dict[int, dict] = field(default_factory=dict)  # arkme-json senderID -> sender
    _members: dict[str, str] | None = None

    def member_name(self, wxid: str) -> str:
        """A group member's name from ``groupMembers`` (looked up only when a message needs it)."""
        if self._members is None:
            self._members = {}
            found = key_value(self.text, "groupMembers", self.path)
            for m in found[0] if found and isinstance(found[0], list) else ():
                if isinstance(m, dict):
                    uid = _str(m.get("username") or m.get("wxid"))
                    name = _str(m.get("remark") or m.get("originalName") or m.get("displayName")
                                or m.get("nickname"))
                    if uid and name:
                        self._members[uid] = name
        return self._members.get(wxid, "")


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _time(obj: dict) -> datetime | None:
    ts = _int(obj.get("createTime"))
    if ts is not None and ts > 0:
        try:
            return datetime.fromtimestamp(ts / 1000 if ts > 1e11 else ts)
        except (OverflowError, OSError, ValueError):
            pass
    return parse_time(_str(obj.get("formattedTime")))


def _kind(code: int | None, type_name: str, content: str) -> tuple[Kind, str]:
    by_code = code_kind(*split_local_type(code)) if code is not None else None
    if by_code is not None and by_code[0] is not Kind.OTHER:
        return by_code
    named = TYPE_NAMES.get(type_name)
    if named is not None:
        return named, _PLACEHOLDER[named]
    rendered = rendered_kind(content)
    if rendered is not None:
        return rendered, _PLACEHOLDER[rendered]
    if by_code is not None or type_name:  # 其他消息, 未知类型(…), an unknown code: not chat text
        return Kind.OTHER, _PLACEHOLDER[Kind.OTHER]
    return Kind.TEXT, ""


def _chat(session: Any, path: Path, fmt: str) -> tuple[str, str, bool, str]:
    if not isinstance(session, dict):
        raise ExportError(path, None, f'"session" is not an object: not a {fmt} export')
    wxid = _str(session.get("wxid"))
    name = (_str(session.get("displayName")) or _str(session.get("remark")) or _str(session.get("nickname"))
            or wxid or path.stem)
    group = _str(session.get("type")) == "群聊" or session.get("isGroup") is True or is_group_id(wxid)
    return wxid or name, name, group, _str(session.get("ownerId"))


def _arkme_senders(text: str, path: Path) -> dict[int, dict]:
    found = key_value(text, "senders", path)
    out: dict[int, dict] = {}
    for s in found[0] if found and isinstance(found[0], list) else ():
        if isinstance(s, dict) and _int(s.get("senderID")) is not None:
            out[_int(s.get("senderID"))] = s  # type: ignore[index]
    return out


def _message(obj: Any, ctx: _Context, line: int, log: ParseLog, me: frozenset[str]) -> Message | None:
    path, fmt = ctx.path, ctx.fmt
    if not isinstance(obj, dict):
        log.skip(path, line, f"{fmt}: not a message object")
        return None
    when = _time(obj)
    if when is None:
        log.skip(path, line, f"{fmt}: message without time")
        return None
    raw_content = obj.get("content")
    content = raw_content.strip() if isinstance(raw_content, str) else ""
    code = _int(obj.get("localType"))
    type_name = _str(obj.get("type"))
    kind, placeholder = _kind(code, type_name, content)

    sender_id = _str(obj.get("senderUsername"))
    display = _str(obj.get("senderDisplayName"))
    if not sender_id and ctx.senders:
        s = ctx.senders.get(_int(obj.get("senderID")) or -1, {})
        sender_id, display = _str(s.get("wxid")), display or _str(s.get("displayName"))

    quote: str | None = None
    if kind is Kind.TEXT:
        if (code is not None and split_local_type(code) == (49, 57)) or type_name in _QUOTE_NAMES:
            text, quote = split_quote_suffix(content, _str(obj.get("quotedSender")), _str(obj.get("quotedContent")))
            text = text.strip()
        else:
            text = _raw_text(obj, sender_id, content)
    elif kind is Kind.FORWARD:
        text = forwarded_history(content, obj.get("chatRecords"), log, path, line) or placeholder
    elif kind in _MEDIA and not content.startswith("["):
        text = placeholder  # null in text-only exports, a media file path when media were exported
    elif kind is Kind.LINK:
        text = content.split("\n", 1)[0] or placeholder  # WeFlow puts the URL on a second line
    elif kind in (Kind.SYSTEM, Kind.RECALL):
        text = clean_markup(content) if looks_like_xml(content) else content
        kind, text = notice_kind(text), text or placeholder
    else:
        text = content or placeholder
    if not text:
        log.skip(path, line, f"{fmt}: empty message")
        return None

    notice = kind is Kind.SYSTEM or kind is Kind.RECALL
    if notice:
        # attributed to the chat, or to me, by the exporter: nobody's words
        by_owner, sender, sender_id = False, NOTICE_SENDER, ""
    else:
        is_send = obj.get("isSend")
        flag = is_send if isinstance(is_send, bool) else _int(is_send)
        if flag in (0, 1):
            by_owner = bool(flag)
        elif ctx.owner:
            by_owner = sender_id == ctx.owner
        else:
            by_owner = sender_id in me or display in me
        sender = display
        if (not sender or sender == _UNKNOWN_MEMBER) and sender_id:
            sender = ctx.member_name(sender_id) or sender_id
    return Message(ctx.chat_id, ctx.chat_name, ctx.is_group, sender, by_owner, when, kind, text, quote,
                   sender_id or None, f"{path}:{line}")


def _raw_text(obj: dict, sender_id: str, content: str) -> str:
    """A text message's words. The exporters strip a leading ``word:`` (meant for the group sender prefix) and so
    also eat the start of texts like ``OK:收到``; ``rawContent``, where the file has it, still holds them."""
    raw = obj.get("rawContent")
    if isinstance(raw, str) and raw and not looks_like_xml(raw):
        whole = strip_sender_prefix(raw, sender_id).strip()
        if whole != content and whole.endswith(content):
            return whole
    return content


def parse(path: Path, log: ParseLog, me: frozenset[str], fmt: str) -> Iterator[Message]:
    """Messages of one detailed-JSON export; ``fmt`` names the producer in errors and skip reasons."""
    return parse_text(path, read_text(path), log, me, fmt)


def parse_text(path: Path, text: str, log: ParseLog, me: frozenset[str], fmt: str) -> Iterator[Message]:
    start = skip_ws(text, 0)
    if not text.startswith("{", start):
        raise ExportError(path, 1, f"not a JSON object: not a {fmt} export")
    found = key_value(text, "session", path)
    if found is None:
        value_at(text, start, path)  # a syntax error, with its line, explains more than "no session"
        raise ExportError(path, None, f'no "session": not a {fmt} export')
    session, after = found
    chat_id, name, group, owner = _chat(session, path, fmt)
    ctx = _Context(fmt, path, text, chat_id, name, group, owner)
    if '"arkme-json"' in text[:start + 4096]:
        ctx.senders = _arkme_senders(text, path)
    pos = find_key(text, "messages", after, "[")
    if pos is None:
        pos = find_key(text, "messages", 0, "[")
    if pos is None:
        raise ExportError(path, None, f'no "messages" array: not a {fmt} export')
    for line, obj in array_items(text, pos, path):
        m = _message(obj, ctx, line, log, me)
        if m is not None:
            yield m
