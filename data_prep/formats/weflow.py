"""WeFlow (WeChat 4.x): the 详细 JSON export and the WeClone-style CSV. Its ChatLab outputs are read by the chatlab
format.

- JSON: ``{"weflow": {"version", "generator": "WeFlow"[, "format": "arkme-json"]}, "session": {…}, "messages": […]}``,
  read by the shared WeChat 4.x detailed-JSON parser (wechat_json.py).
- WeClone CSV: BOM, ``id,MsgSvrID,type_name,is_sender,talker,msg,src,CreateTime``. Not PyWxDump's CSV: no
  ``room_name``, ``talker`` is a display name, ``CreateTime`` is UTC (``…Z``), and ``type_name`` is ``text`` for
  everything but media, so quotes, links, transfers, red packets, calls, forwarded chats and system lines are told
  apart by their rendered text. Group or private shows only in the file name (``群聊_``/``私聊_``) or in the number
  of speakers.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

from ..records import Kind, Message
from ..sources import ExportError, ParseLog, first_line, numbered, read_text
from . import SimpleFormat, wechat_json
from .wechat import NOTICE_SENDER, parse_time, rendered_kind, split_quote_suffix

_JSON_HEADER = re.compile(r'"weflow"\s*:\s*\{')
WECLONE_HEADER = "id,MsgSvrID,type_name,is_sender,talker,msg,src,CreateTime"
_MEDIA = {"image": (Kind.IMAGE, "[图片]"), "voice": (Kind.VOICE, "[语音]"), "video": (Kind.VIDEO, "[视频]"),
          "sticker": (Kind.STICKER, "[表情]"), "location": (Kind.LOCATION, "[位置]"), "file": (Kind.FILE, "[文件]")}
# File-name prefixes WeFlow puts before the chat's display name (on by default).
_PREFIX = re.compile(r"(私聊|群聊|公众号|曾经的好友)_(.+)")


def sniff(path: Path, head: str) -> bool:
    if head.lstrip().startswith("{"):
        return bool(_JSON_HEADER.search(head))
    return first_line(head) == WECLONE_HEADER


def _chat_from_name(path: Path) -> tuple[str, bool | None]:
    """(chat name, group or not if the file name says so)."""
    m = _PREFIX.fullmatch(path.stem)
    if not m:
        return path.stem, None
    return m[2], m[1] == "群聊"


def _body(msg: str) -> tuple[Kind, str, str | None, int]:
    """Kind, text, quote and forwarded-item count of a ``text`` row."""
    kind = rendered_kind(msg)
    if kind is None:
        reply, quote = split_quote_suffix(msg)
        return Kind.TEXT, reply.strip(), quote, 0
    if kind is Kind.FORWARD:
        first, _, rest = msg.partition("\n")
        return kind, first, None, sum(1 for ln in rest.split("\n") if ln.strip())
    return kind, msg.strip(), None, 0


def _parse_weclone(path: Path, text: str, log: ParseLog) -> Iterator[Message]:
    name, named_group = _chat_from_name(path)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or ",".join(header) != WECLONE_HEADER:
        raise ExportError(path, 1, f"not a WeFlow WeClone CSV: expected the header '{WECLONE_HEADER}'")
    out: list[Message] = []  # kept until the end: group or not depends on all speakers
    talkers: set[str] = set()
    src = str(path)
    for line, row in numbered(reader):
        if not row:
            continue
        if len(row) != 8:
            log.skip(path, line, "weflow: row does not have 8 columns")
            continue
        _, _, type_name, is_sender, talker, msg, _, created = row
        if is_sender not in ("0", "1"):
            log.skip(path, line, "weflow: bad is_sender")
            continue
        when = parse_time(created)
        if when is None:
            log.skip(path, line, "weflow: bad time")
            continue
        if type_name == "text":
            kind, body, quote, forwarded = _body(msg)
            for _ in range(forwarded):
                log.skip(path, line, "forwarded history item")
        else:
            kind, placeholder = _MEDIA.get(type_name, (Kind.OTHER, f"[{type_name}]"))
            body, quote = (msg.strip() if msg.strip().startswith("[") else placeholder), None
        if not body:
            log.skip(path, line, "weflow: empty message")
            continue
        notice = kind is Kind.SYSTEM or kind is Kind.RECALL
        if not notice:
            talkers.add(talker.strip())
        # A system line names the group as its talker and may say is_sender=1 (your own recall): nobody's words.
        sender = NOTICE_SENDER if notice else talker.strip()
        out.append(Message(name, name, False, sender, is_sender == "1" and not notice, when, kind, body, quote, None,
                           f"{src}:{line}"))
    group = named_group if named_group is not None else len(talkers) > 2
    for m in out:
        m.is_group = group
        yield m


def parse(path: Path, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    text = read_text(path)
    if first_line(text) != WECLONE_HEADER:
        yield from wechat_json.parse_text(path, text, log, me, "weflow")
        return
    if csv.field_size_limit() < 1 << 26:
        csv.field_size_limit(1 << 26)  # forwarded chats can exceed the 128 KiB default
    try:
        yield from _parse_weclone(path, text, log)
    except csv.Error as e:
        raise ExportError(path, None, f"broken CSV: {e}") from None


FORMAT = SimpleFormat("weflow", sniff, parse)
