"""xaoyaoo/PyWxDump CSV exports of PC WeChat 3.x (spec section 3).

Versions:
- ≤ 2.4.7: ``[id,]MsgSvrID,type_name,is_sender,talker,room_name,content,CreateTime`` written with a raw f-string,
  so ``content`` (``json.dumps({"src":…,"msg":…})``) is unquoted and its commas are not escaped: not valid CSV.
- 2.4.8 – 3.0.5: the same 8 columns through ``csv.writer`` (content quoted).
- 3.0.6 +: ``id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime``; ``talker`` is ``我`` (3.0.x)
  or my wxid (3.1.x) on my rows, the member wxid in groups, ``系统``/``未知`` when the sender is not known.
  3.1.x writes ``users.json`` (``{wxid: {"wxid","nickname","remark",…}}``) beside the paged CSVs
  ``<chat>_0_5000.csv``, ``<chat>_5000_10000.csv``…; it is sniffed as ours and yields nothing.

``is_sender`` marks the owner; ``room_name`` (the chat wxid) ending in ``@chatroom`` marks a group.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

from ..records import Kind, Message
from ..sources import ExportError, ParseLog, first_line, numbered, read_text
from . import SimpleFormat
from .wechat import clean_markup, looks_like_xml, notice_kind, parse_time, xml_attr

_HEAD_PREFIX = "id,MsgSvrID,type_name,is_sender,talker,room_name"
_HEAD_EARLY = "MsgSvrID,type_name,is_sender,talker,room_name,content,CreateTime"  # first 2.x writer, no id
# users.json: {"<wxid>": {"wxid": "<the same wxid>", "nickname": …}, …} (or {} for a chat without contacts)
_USERS_JSON = re.compile(r'\s*\{\s*"([^"\\]+)"\s*:\s*\{\s*"wxid"\s*:\s*"\1"')


def _is_users_json(path: Path, head: str) -> bool:
    if _USERS_JSON.match(head):
        return True
    # `{}` (a chat without contacts) only under its own name: any other file that is just `{}` is reported
    return path.name == "users.json" and (head.strip() == "{}" or head.lstrip().startswith("{") and '"wxid"' in head)


def sniff(path: Path, head: str) -> bool:
    first = first_line(head)
    return first.startswith(_HEAD_PREFIX) or first.startswith(_HEAD_EARLY) or _is_users_json(path, head)


# --- users.json -----------------------------------------------------------------------------------------------
# path -> (mtime, names, where it was unreadable): the problem is cached with the names, so every parse that uses
# them counts it in its own log, not only the first one in the process.
_USERS_CACHE: dict[str, tuple[float, dict[str, str], tuple[int | None] | None]] = {}
_UNREADABLE = "users.json: unreadable, wxids kept"


def _load_users(csv_path: Path, log: ParseLog) -> dict[str, str]:
    """wxid -> shown name (remark, else nickname) from ``users.json`` beside the CSV; {} when there is none."""
    users_path = csv_path.parent / "users.json"
    try:
        mtime = users_path.stat().st_mtime
    except OSError:
        return {}
    key = str(users_path)
    cached = _USERS_CACHE.get(key)
    if cached is None or cached[0] != mtime:
        cached = _USERS_CACHE[key] = (mtime, *_read_users(users_path))
    _, names, problem = cached
    if problem is not None:
        log.skip(users_path, problem[0], _UNREADABLE)
    return names


def _read_users(users_path: Path) -> tuple[dict[str, str], tuple[int | None] | None]:
    names: dict[str, str] = {}
    problem = None
    try:
        data = json.loads(read_text(users_path))
    except (ExportError, json.JSONDecodeError, RecursionError) as e:
        problem = (getattr(e, "lineno", None) or getattr(e, "line", None),)
        data = {}
    if isinstance(data, dict):
        for wxid, info in data.items():
            if isinstance(info, dict):
                name = str(info.get("remark") or info.get("nickname") or "").strip()
                if name:
                    names[str(wxid)] = name
    return names, problem


# --- type_name -> kind ----------------------------------------------------------------------------------------
# Names differ between versions (e.g. 带有引用的文本消息 / 引用回复, 卡片式链接 / (分享)卡片式链接): match keywords,
# most specific first.
_KIND_RULES: tuple[tuple[str, Kind], ...] = (
    ("引用", Kind.TEXT), ("撤回", Kind.RECALL), ("语音通话", Kind.CALL), ("视频通话", Kind.CALL),
    ("视频号名片", Kind.CARD), ("视频号", Kind.LINK), ("位置共享", Kind.LOCATION), ("表情", Kind.STICKER),
    ("图片", Kind.IMAGE), ("语音", Kind.VOICE), ("视频", Kind.VIDEO), ("位置", Kind.LOCATION), ("文件", Kind.FILE),
    ("合并转发", Kind.FORWARD), ("收藏夹", Kind.FORWARD), ("转账", Kind.MONEY), ("红包", Kind.MONEY),
    ("名片", Kind.CARD), ("公众号", Kind.CARD), ("系统", Kind.SYSTEM), ("拍一拍", Kind.SYSTEM),
    ("邀请", Kind.SYSTEM), ("添加好友", Kind.SYSTEM), ("打招呼", Kind.SYSTEM), ("链接", Kind.LINK),
    ("音乐", Kind.LINK), ("小程序", Kind.LINK), ("笔记", Kind.LINK), ("小说", Kind.LINK), ("游戏", Kind.LINK),
    ("直播", Kind.LINK),
)
_KIND_CACHE: dict[str, Kind] = {"文本": Kind.TEXT}


def _kind_of(type_name: str) -> Kind:
    kind = _KIND_CACHE.get(type_name)
    if kind is None:
        kind = next((k for word, k in _KIND_RULES if word in type_name), Kind.OTHER)
        _KIND_CACHE[type_name] = kind
    return kind


_QUOTE = re.compile(r"(.*?)\n\n\[引用\]\(([^)\n]*)\)([^:\n]*):(.*)", re.S)
_LOCATION_LINE = re.compile(r"^位置：\s*(.+)$", re.M)


def convert(type_name: str, msg: str) -> tuple[Kind, str, str | None]:
    """Kind, shown text and quote. Raw XML (unhandled types keep StrContent) never becomes the text."""
    kind = _kind_of(type_name)
    if kind is Kind.TEXT:
        if type_name == "文本":
            return kind, msg, None
        m = _QUOTE.fullmatch(msg)
        if m:
            return Kind.TEXT, m[1], m[4] or None
        return Kind.OTHER, f"[{type_name}]", None  # ≤2.4.7 printed only the type name for quotes
    if kind is Kind.OTHER and "revokemsg" in msg:
        kind = Kind.RECALL
    if kind in (Kind.SYSTEM, Kind.RECALL):
        text = clean_markup(msg) if not looks_like_xml(msg) else ""
        if not text and "revokemsg" in msg:
            text = "[撤回消息]"
        return (notice_kind(text) if kind is Kind.SYSTEM else kind), text or f"[{type_name}]", None
    if not msg.strip() or looks_like_xml(msg):
        if kind is Kind.CARD:
            nick = xml_attr(msg, "nickname")
            return kind, f"[名片] {nick}" if nick else "[名片]", None
        return kind, f"[{type_name}]", None
    if kind in (Kind.LINK, Kind.FORWARD):  # title\ndes\n\n<url or <a href>>: the title is what was shown
        return kind, clean_markup(msg.split("\n", 1)[0]) or f"[{type_name}]", None
    if kind is Kind.LOCATION:
        m = _LOCATION_LINE.search(msg)
        return kind, f"[位置] {m[1].strip()}" if m else msg.split("\n", 1)[0], None
    return kind, msg, None


# --- rows -----------------------------------------------------------------------------------------------------
_SPECIAL_TALKERS = frozenset({"我", "系统", "未知", ""})
_PAGE = re.compile(r"(.*?)(?:_\d+)?_\d+$")


class _BadRow(Exception):
    """A row that is not a message; the message is the skip reason."""


class _Chat:
    """Per-file context: who the chat is and how to name wxids."""

    def __init__(self, path: Path, users: dict[str, str]):
        self.path, self.users, self.src = path, users, str(path)
        m = _PAGE.fullmatch(path.stem)
        self.fallback_id = (m[1] if m else path.stem) or path.parent.name

    def message(self, line: int, type_name: str, is_sender: str, talker: str, room: str, msg: str,
                created: str) -> Message:
        if is_sender not in ("0", "1"):
            raise _BadRow("row: bad is_sender")
        when = parse_time(created)
        if when is None:
            raise _BadRow("row: bad time")
        mine = is_sender == "1"
        chat_id = room or self.fallback_id
        users = self.users
        kind, text, quote = convert(type_name, msg)
        if talker == "系统" and kind is not Kind.SYSTEM and kind is not Kind.RECALL:
            kind = Kind.SYSTEM  # official "publisher-id" notices in groups
        if talker in _SPECIAL_TALKERS:
            notice = kind is Kind.SYSTEM or kind is Kind.RECALL
            sender, sender_id = ("" if notice and talker in ("未知", "") else talker or "未知"), None
        else:
            sender, sender_id = users.get(talker, talker), talker
        return Message(chat_id=chat_id, chat_name=users.get(chat_id, chat_id), is_group=chat_id.endswith("@chatroom"),
                       sender=sender, by_owner=mine, time=when, kind=kind, text=text, quote=quote, sender_id=sender_id,
                       source=f"{self.src}:{line}")


def _content_msg(content: str) -> str:
    """``msg`` of the ≤3.0.5 ``content`` JSON; the raw cell if it is not that JSON."""
    if content.startswith("{"):
        try:
            data = json.loads(content, strict=False)  # strict=False: hand-edited raw newlines
        except (json.JSONDecodeError, RecursionError):
            return content
        if isinstance(data, dict):
            msg = data.get("msg", "")
            return msg if isinstance(msg, str) else json.dumps(msg, ensure_ascii=False)
    return content


def _parse_csv_rows(text: str, header: list[str], chat: _Chat, log: ParseLog) -> Iterator[Message]:
    """2.4.8+: real CSV, columns found by name."""
    col = {name.strip(): i for i, name in enumerate(header)}
    try:
        i_type, i_send, i_talk, i_room, i_time = (col[k] for k in
                                                  ("type_name", "is_sender", "talker", "room_name", "CreateTime"))
    except KeyError as e:
        raise ExportError(chat.path, 1, f"PyWxDump CSV header lacks column {e.args[0]}") from None
    i_msg, i_content = col.get("msg"), col.get("content")
    if i_msg is None and i_content is None:
        raise ExportError(chat.path, 1, "PyWxDump CSV header lacks a msg or content column")
    need = max(i_type, i_send, i_talk, i_room, i_time, i_msg if i_msg is not None else i_content or 0) + 1
    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    for line, row in numbered(reader):
        if not row:
            continue
        if len(row) < need:
            log.skip(chat.path, line, "row: too few columns")
            continue
        msg = row[i_msg] if i_msg is not None else _content_msg(row[i_content])  # type: ignore[index]
        try:
            yield chat.message(line, row[i_type], row[i_send].strip(), row[i_talk].strip(), row[i_room].strip(),
                               msg, row[i_time])
        except _BadRow as e:
            log.skip(chat.path, line, str(e))


_TIME_END = r",(\d{4}[-/]\d{1,2}[-/]\d{1,2} \d{1,2}:\d{2}(?::\d{2})?)"


def _parse_raw_rows(text: str, with_id: bool, chat: _Chat, log: ParseLog) -> Iterator[Message]:
    """≤2.4.7: one f-string line per message; the content JSON in the middle may hold commas (and, from
    hand-edited files, newlines), so a row is anchored on its fixed leading fields and its trailing time."""
    lead = r"\d+," if with_id else ""
    start = re.compile(rf"{lead}-?\d+,[^,\n]*,[^,\n]*,")
    full = re.compile(rf"{lead}-?\d+,([^,\n]*),([^,\n]*),([^,\n]*),([^,\n]*),(.*){_TIME_END}", re.S)
    buf: list[str] = []
    buf_line = 0

    def flush() -> Iterator[Message]:
        while buf and not buf[-1].strip():
            buf.pop()
        m = full.fullmatch("\n".join(buf))
        if not m:
            log.skip(chat.path, buf_line, "row: unrecognised line")
            return
        type_name, is_sender, talker, room, content, created = m.groups()
        try:
            yield chat.message(buf_line, type_name, is_sender.strip(), talker.strip(), room.strip(),
                               _content_msg(content), created)
        except _BadRow as e:
            log.skip(chat.path, buf_line, str(e))

    for i, line in enumerate(text.split("\n")[1:], 2):
        if start.match(line):
            if buf:
                yield from flush()
            buf, buf_line = [line], i
        elif buf:
            buf.append(line)  # continuation of a row whose content held a raw newline
        elif line.strip():
            log.skip(chat.path, i, "row: unrecognised line")
    if buf:
        yield from flush()


def parse(path: Path, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    text = read_text(path)
    first = first_line(text)
    if not (first.startswith(_HEAD_PREFIX) or first.startswith(_HEAD_EARLY)):
        if _is_users_json(path, text[:8192]):
            return  # users.json: a companion that names wxids, not a chat
        raise ExportError(path, 1, "not a PyWxDump CSV: expected the header 'id,MsgSvrID,type_name,is_sender,…'")
    if csv.field_size_limit() < 1 << 26:
        csv.field_size_limit(1 << 26)  # long msg cells (forwarded histories) exceed the 128 KiB default
    chat = _Chat(path, _load_users(path, log))
    header = first.split(",")
    try:
        if "msg" not in header:
            # 8/7-column layouts: quoted content means csv.writer (2.4.8+), a bare `{` the raw f-string writer.
            # Any of the first rows tells, so one damaged row does not send the whole file down the wrong path.
            rows = [ln.split(",", len(header) - 2) for ln in text.split("\n", 20)[1:20] if ln.strip()]
            if any(len(cells) == len(header) - 1 and cells[-1].startswith("{") for cells in rows):
                yield from _parse_raw_rows(text, header[0] == "id", chat, log)
                return
        yield from _parse_csv_rows(text, header, chat, log)
    except csv.Error as e:
        raise ExportError(path, None, f"broken CSV: {e}") from None


FORMAT = SimpleFormat("pywxdump", sniff, parse)
