"""Classic PC QQ 消息管理器 "导出 → 文本文件(*.txt)".

Layout (spec section 4.1): optional banner, then per chat a block

    ================================================================   (64 '=')
    消息分组:我的好友
    ================================================================
    消息对象:Victor.Woo
    ================================================================

    2010-01-06 16:57:28 Victor.Woo
    body line(s)

Group/discussion headers carry the member id: ``nick(QQ号)`` or ``nick<email>``, optionally prefixed by a title
(``【管理员】``). Private headers carry only the name. Bodies may contain blank lines, so a message runs until the
next header or block separator, not until a blank line. There is no owner marker: ``me`` decides. A line one slip
away from a header (a flipped or stray byte in its time) starts a message that cannot be read: it is a counted skip
with its body, never text of the previous message.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from ..records import Kind, Message
from ..sources import ExportError, ParseLog, near_header, read_text
from . import SimpleFormat

_HEADER = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{2}):(\d{2})(?: ([AaPp][Mm]))? (.+)")
# The LAST (digits) or <x@y> is the id: nicknames may contain parentheses themselves.
_ID_SUFFIX = re.compile(r"(.*?)\s*(?:\((\d{5,})\)|<([^<>\s]+@[^<>\s]+)>)")
_TITLE_PREFIX = re.compile(r"^(?:【[^】]*】\s*)+")
_SEPARATOR = "=" * 64
_SNIFF_BLOCK = re.compile(r"^(?:消息(?:分组|对象)[:：]|消息记录（此消息记录为文本格式)", re.M)
_BANNER = re.compile(r"=+|消息记录[（(]此消息记录为文本格式.*")
_BLOCK_LINE = re.compile(r"消息(分组|对象)[:：](.*)")
_GROUP_SECTION = re.compile(r"群|讨论组")
_SYSTEM_SENDERS = frozenset({"系统消息"})
_RECALL = re.compile(r".*撤回了一条(?:成员)?消息。?")
_SYSTEM_BODY = re.compile(r".*已成功接收了[你您]发送的离线文件.*", re.S)
_PLACEHOLDER = re.compile(r"(?:\[[^\[\]\n]{1,8}\]\s*)+")
_PLACEHOLDER_TOKEN = re.compile(r"\[([^\[\]\n]{1,8})\]")
_PLACEHOLDER_KIND = {
    "图片": Kind.IMAGE, "闪照": Kind.IMAGE, "表情": Kind.STICKER, "语音": Kind.VOICE, "视频": Kind.VIDEO,
    "文件": Kind.FILE, "QQ红包": Kind.MONEY, "红包": Kind.MONEY, "转账": Kind.MONEY, "位置": Kind.LOCATION,
    "名片": Kind.CARD, "链接": Kind.LINK, "分享": Kind.LINK, "聊天记录": Kind.FORWARD, "视频通话": Kind.CALL,
    "语音通话": Kind.CALL,
}


def sniff(path: Path, head: str) -> bool:
    if _SNIFF_BLOCK.search(head):
        return True
    # Without blocks (a single-chat export, or a trimmed file): a QQ-style header with a QQ number / email suffix.
    # Plain `time name` headers alone are also WeChatMsg (留痕) txt, which leaves them to that parser.
    for line in head.splitlines()[:200]:
        m = _HEADER.fullmatch(line.rstrip())
        if m and _ID_SUFFIX.fullmatch(m[8]):
            return True
    return False


def _split_sender(raw: str) -> tuple[str, str | None]:
    """`【管理员】Alice(10001)` -> ("Alice", "10001"); `Bob<b@x.com>` -> ("Bob", "b@x.com");
    `Carol` -> ("Carol", None)."""
    raw = raw.strip()
    sender_id = None
    m = _ID_SUFFIX.fullmatch(raw)
    if m:
        raw, sender_id = m[1], m[2] or m[3]
    return _TITLE_PREFIX.sub("", raw).strip(), sender_id


def _time(m: re.Match) -> datetime | None:
    hour = int(m[4])
    if m[7]:
        if hour > 12:
            return None
        hour = hour % 12 + (12 if m[7] in ("PM", "pm", "Pm", "pM") else 0)
    try:
        return datetime(int(m[1]), int(m[2]), int(m[3]), hour, int(m[5]), int(m[6]))
    except ValueError:
        return None


def _kind(sender: str, body: str) -> Kind:
    # Substring gates first: regexes only run on the few bodies that can match.
    recall = "撤回" in body and bool(_RECALL.fullmatch(body))
    if sender in _SYSTEM_SENDERS:
        return Kind.RECALL if recall else Kind.SYSTEM
    if recall:
        return Kind.RECALL
    if "离线文件" in body and _SYSTEM_BODY.fullmatch(body):
        return Kind.SYSTEM
    if body[0] == "[" and body[-1] == "]" and _PLACEHOLDER.fullmatch(body):
        kinds = {_PLACEHOLDER_KIND.get(t) for t in _PLACEHOLDER_TOKEN.findall(body)}
        only = kinds.pop() if len(kinds) == 1 else None
        if only is not None:
            return only
    return Kind.TEXT


class _Chat:
    """One 消息对象 block (or the whole file when it has no blocks)."""

    __slots__ = ("name", "chat_id", "section", "out", "has_ids")

    def __init__(self, name: str, section: str = ""):
        target, target_id = _split_sender(name) if name else (name, None)
        self.name = target or name
        self.chat_id = target_id or self.name
        self.section = section
        self.out: list[Message] = []  # held until the block ends: is_group needs all of its headers
        self.has_ids = False

    def flush(self) -> list[Message]:
        out, self.out = self.out, []
        if self.has_ids or _GROUP_SECTION.search(self.section):
            for m in out:
                m.is_group = True
        return out


def _header_time(line: str, m: re.Match) -> datetime | None:
    if not m[7] and m.end(6) == 19:
        try:
            return datetime.fromisoformat(line[:19])  # C fast path for zero-padded times
        except ValueError:
            pass
    return _time(m)


def parse(path: Path, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    lines = read_text(path).split("\n")
    prefix = f"{path}:"
    chat = _Chat(path.stem)
    section = ""
    senders: dict[str, tuple[str, str | None, bool]] = {}  # raw header name -> (name, id, by_owner)
    # The message being read is lines[start:i] after its header at lines[start - 1]; plain locals instead of a
    # per-message container keep garbage-collector work down on million-message files.
    start = -1  # -1: between messages
    time = datetime.min  # the message being read's (set with start)
    who: tuple[str, str | None, bool] = ("", None, False)
    swallow = False  # reading the body of a message whose header was unusable (already one skip)
    seen_header = False
    n = len(lines)

    def finish(end: int) -> None:
        body = lines[start:end]
        while body and not body[-1].strip():
            body.pop()
        text = (body[0] if len(body) == 1 else "\n".join(body)).strip()
        if not text:
            log.skip(path, start, "qq: empty message")
            return
        chat.out.append(Message(chat.chat_id, chat.name, False, who[0], who[2], time, _kind(who[0], text), text,
                                None, who[1], f"{prefix}{start}"))

    for i, line in enumerate(lines):
        c = line[:1]
        if "0" <= c <= "9":
            m = _HEADER.match(line)
            if m:
                if start >= 0:
                    finish(i)
                seen_header = True
                when = _header_time(line, m)
                if when is None:
                    log.skip(path, i + 1, "qq: bad header time")
                    start, swallow = -1, True
                    continue
                time, raw = when, m[8]
                known = senders.get(raw)
                if known is None:
                    name, sender_id = _split_sender(raw)
                    known = senders[raw] = (name, sender_id,
                                            name in me or (sender_id is not None and sender_id in me))
                who = known
                if who[1] is not None and who[0] not in _SYSTEM_SENDERS:  # 系统消息(10000) shows in private chats too
                    chat.has_ids = True
                start, swallow = i + 1, False
                continue
        elif c == "=" and line.rstrip() == _SEPARATOR and _is_block_border(lines, i, n):
            if start >= 0:
                finish(i)
            start, swallow = -1, False
            continue
        elif c == "消" and i > 0 and lines[i - 1].rstrip() == _SEPARATOR:
            block = _BLOCK_LINE.fullmatch(line.rstrip())
            if block:
                if start >= 0:
                    finish(i)
                start, swallow = -1, False
                if block[1] == "分组":
                    section = block[2].strip()
                else:
                    yield from chat.flush()
                    chat = _Chat(block[2].strip(), section)
                continue
        if near_header(line, _HEADER):
            if start >= 0:
                finish(i)
            log.skip(path, i + 1, "qq: damaged message header")
            start, swallow = -1, True
            continue
        if start < 0 and not swallow and line.strip() and (seen_header or not _BANNER.fullmatch(line.strip())):
            log.skip(path, i + 1, "qq: text outside a message")
    if start >= 0:
        finish(n)
    if not seen_header:  # banner and blocks only: a file cut short, or not what it seems; never an empty chat
        raise ExportError(path, None, "no message in it: no 'YYYY-MM-DD HH:MM:SS name' line")
    yield from chat.flush()


def _is_block_border(lines: list[str], i: int, n: int) -> bool:
    """A 64-'=' line is structure only next to a 消息分组/消息对象 line (a body may contain such a rule)."""
    return any(0 <= j < n and lines[j].startswith("消息") and _BLOCK_LINE.match(lines[j]) for j in (i - 1, i + 1))


FORMAT = SimpleFormat("qq", sniff, parse)
