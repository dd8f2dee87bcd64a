"""chatlog (sjzar/chatlog): saved answers of its HTTP API ``/api/v1/chatlog?…&format=json|csv`` over decrypted
WeChat 3.x/4.x data. There is no export button: these files are what people keep.

- JSON: a bare array, no chat header (a multi-talker query mixes chats): ``{"seq", "time": RFC 3339 with offset,
  "talker", "talkerName" (empty in private chats), "isChatRoom", "sender" (``系统消息`` for system lines),
  "senderName", "isSelf", "type", "subType", "content", "contents"?}``. ``isSelf`` is a heuristic in 4.x and may be
  true on system lines. Only type 1 and 49/57 (whose content is the reply; ``contents.refer`` the quoted message)
  are text; media, links, red packets and forwarded chats have empty content and their details in ``contents``.
- CSV: ``Time,SenderName,Sender,TalkerName,Talker,Content`` with local times and no is-me column. In a private chat
  every row not sent by the talker is the owner's; in a group ``me`` decides (an id learned from a private chat
  in the same file counts too). Content is rendered: media as markdown links, quotes as ``> `` lines before the
  reply, forwarded chats as ``[合并转发|title]`` and indented items.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..records import Kind, Message
from ..sources import ExportError, ParseLog, first_line, numbered, read_text
from . import SimpleFormat
from .jsonstream import array_items, skip_ws
from .wechat import NOTICE_SENDER, code_kind, is_group_id, looks_like_xml, notice_kind, parse_time

CSV_HEADER = "Time,SenderName,Sender,TalkerName,Talker,Content"
_JSON_ITEM = re.compile(r'\[\s*\{\s*"seq"\s*:')
_JSON_KEYS = (re.compile(r'"talker"\s*:'), re.compile(r'"isSelf"\s*:'))
_SYSTEM_SENDER = NOTICE_SENDER  # chatlog writes it as the sender of system lines

# CSV content: a rendered placeholder that is the whole message, ``![label](url)``, ``[label|detail](url)``, …
_RENDERED = re.compile(r"!?\[([^\]|\n]+)(?:\|([^\]\n]*))?\](?:\([^)\n]*\))?")
_LABEL_KIND = {
    "图片": Kind.IMAGE, "语音": Kind.VOICE, "视频": Kind.VIDEO, "动画表情": Kind.STICKER, "链接": Kind.LINK,
    "文件": Kind.FILE, "位置": Kind.LOCATION, "红包": Kind.MONEY, "转账": Kind.MONEY, "语音通话": Kind.CALL,
    "视频通话": Kind.CALL, "小程序": Kind.LINK, "视频号": Kind.LINK, "名片": Kind.CARD, "音乐": Kind.LINK,
}
_FORWARD_HEAD = re.compile(r"\[合并转发(?:\|[^\]\n]*)?\]")
_FORWARD_ITEM = re.compile(r"^ {2}\S.* \d{1,2}:\d{2}:\d{2}$", re.M)  # "  <name> <time>" opens each item
_QUOTE_HEAD = re.compile(r"> .*\(.*\) \d{2}-\d{2} \d{2}:\d{2}:\d{2}")


@dataclass(slots=True)
class _Row:
    line: int
    when: datetime
    talker: str
    talker_name: str
    is_group: bool
    sender: str
    sender_name: str
    is_self: bool | None   # None: the file does not say (CSV)
    kind: Kind
    text: str
    quote: str | None


def sniff(path: Path, head: str) -> bool:
    if first_line(head) == CSV_HEADER:
        return True
    start = head.lstrip()[:4096]
    return (_JSON_ITEM.match(start) is not None or start.startswith("[")) and \
        all(k.search(start) for k in _JSON_KEYS)


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else \
        int(value) if isinstance(value, str) and value.isdigit() else 0


# --- JSON -----------------------------------------------------------------------------------------------------
def _json_body(obj: dict, path: Path, line: int, log: ParseLog) -> tuple[Kind, str, str | None]:
    type_, sub = _int(obj.get("type")), _int(obj.get("subType"))
    content = _str(obj.get("content"))
    contents = _dict(obj.get("contents"))
    kind, label = code_kind(type_, sub) or (Kind.OTHER, "[应用消息]")
    if kind is Kind.TEXT:
        refer = _dict(contents.get("refer"))
        quoted = _str(refer.get("content"))
        return kind, content or _str(contents.get("title")), (None if looks_like_xml(quoted) else quoted or None)
    if kind is Kind.FORWARD:
        items = _dict(_dict(contents.get("recordInfo")).get("DataList")).get("DataItems")
        for _ in range(len(items) if isinstance(items, list) else 0):
            log.skip(path, line, "forwarded history item")
    if type_ == 10000 or (kind is Kind.SYSTEM and content):
        return notice_kind(content), content or label, None
    title = _str(contents.get("title")) or _str(contents.get("label"))
    return kind, content or (f"{label} {title}" if title else label), None


def _parse_json(path: Path, text: str, log: ParseLog) -> list[_Row]:
    start = skip_ws(text, 0)
    if not text.startswith("[", start):
        raise ExportError(path, 1, "not a chatlog JSON answer: expected a JSON array of messages")
    rows: list[_Row] = []
    for line, obj in array_items(text, start + 1, path):
        if not isinstance(obj, dict) or "talker" not in obj:
            log.skip(path, line, "chatlog: not a message object")
            continue
        when = parse_time(_str(obj.get("time")))
        if when is None and _int(obj.get("seq")) > 0:
            when = datetime.fromtimestamp(_int(obj.get("seq")) // 1000)  # seq = unix seconds × 1000 + n
        if when is None:
            log.skip(path, line, "chatlog: message without time")
            continue
        kind, body, quote = _json_body(obj, path, line, log)
        talker = _str(obj.get("talker"))
        is_self = obj.get("isSelf")
        rows.append(_Row(line, when, talker, _str(obj.get("talkerName")),
                         obj.get("isChatRoom") is True or is_group_id(talker), _str(obj.get("sender")),
                         _str(obj.get("senderName")), is_self if isinstance(is_self, bool) else None, kind, body,
                         quote))
    if not rows and text.rstrip().endswith("]") and not text[start + 1:].strip(" \t\r\n]"):
        raise ExportError(path, 1, "an empty JSON array: no messages in this file")  # reported, not swallowed
    return rows


# --- CSV ------------------------------------------------------------------------------------------------------
def _csv_body(content: str, path: Path, line: int, log: ParseLog) -> tuple[Kind, str, str | None]:
    first, _, rest = content.partition("\n")
    if _FORWARD_HEAD.fullmatch(first.strip()):
        for _ in _FORWARD_ITEM.finditer(rest):
            log.skip(path, line, "forwarded history item")
        return Kind.FORWARD, first.strip(), None
    if _QUOTE_HEAD.fullmatch(first):
        lines = content.split("\n")
        n = 1
        while n < len(lines) and lines[n].startswith("> "):
            n += 1
        return Kind.TEXT, "\n".join(lines[n:]).strip(), "\n".join(ln[2:] for ln in lines[1:n]) or None
    m = _RENDERED.fullmatch(content.strip())
    if m and m[1] in _LABEL_KIND:
        detail = _str(m[2])
        return _LABEL_KIND[m[1]], f"[{m[1]}] {detail}" if detail else f"[{m[1]}]", None
    return Kind.TEXT, content.strip(), None


def _parse_csv(path: Path, text: str, log: ParseLog) -> list[_Row]:
    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    rows: list[_Row] = []
    seen = False
    for line, row in numbered(reader):
        if not row:
            continue
        seen = True
        if len(row) != 6:
            log.skip(path, line, "chatlog: row does not have 6 columns")
            continue
        stamp, sender_name, sender, talker_name, talker = (c.strip() for c in row[:5])
        content = row[5]
        when = parse_time(stamp)
        if when is None:
            log.skip(path, line, "chatlog: bad time")
            continue
        kind, body, quote = _csv_body(content, path, line, log)
        rows.append(_Row(line, when, talker, talker_name, is_group_id(talker), sender, sender_name, None, kind, body,
                         quote))
    if not seen:
        raise ExportError(path, None, "a CSV header and no rows: the export is cut short or empty")
    return rows


# --- both -----------------------------------------------------------------------------------------------------
def _messages(path: Path, rows: list[_Row], log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    names: dict[str, str] = {}
    mine: set[str] = set(me)
    for r in rows:
        if r.talker_name:
            names.setdefault(r.talker, r.talker_name)
        elif r.sender == r.talker and r.sender_name and not r.is_group:
            names.setdefault(r.talker, r.sender_name)  # a private chat is named after the peer
        if r.is_self is None and not r.is_group and r.sender not in (r.talker, _SYSTEM_SENDER, ""):
            mine.add(r.sender)  # the other party of a private chat is the owner: their id counts in groups too
    src = str(path)
    for r in rows:
        notice = r.sender == _SYSTEM_SENDER or r.kind is Kind.SYSTEM or r.kind is Kind.RECALL
        kind = (notice_kind(r.text) if r.kind is Kind.TEXT else r.kind) if notice else r.kind
        if not r.text:
            log.skip(path, r.line, "chatlog: empty message")
            continue
        if notice:
            by_owner, sender, sender_id = False, NOTICE_SENDER, None
        else:
            by_owner = r.is_self if r.is_self is not None else (r.sender in mine or r.sender_name in mine)
            sender, sender_id = r.sender_name or r.sender, r.sender or None
        yield Message(r.talker, names.get(r.talker, r.talker), r.is_group, sender, by_owner, r.when, kind, r.text,
                      r.quote, sender_id, f"{src}:{r.line}")


def parse(path: Path, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    text = read_text(path)
    if first_line(text) == CSV_HEADER:
        if csv.field_size_limit() < 1 << 26:
            csv.field_size_limit(1 << 26)  # forwarded chats can exceed the 128 KiB default
        try:
            rows = _parse_csv(path, text, log)
        except csv.Error as e:
            raise ExportError(path, None, f"broken CSV: {e}") from None
    else:
        rows = _parse_json(path, text, log)
    yield from _messages(path, rows, log, me)


FORMAT = SimpleFormat("chatlog", sniff, parse)
