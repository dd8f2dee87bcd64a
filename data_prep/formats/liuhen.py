"""留痕 / LC044 WeChatMsg (later MemoTrace) exports of PC WeChat 3.x: CSV (every schema) and TXT.

CSV schemas (spec section 2), all read by position because the header and the rows disagree in several versions:

- English header
  ``localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime[,Remark,NickName,Sender]``.
  The first 9 fields are always these columns. What follows differs per version and per row:
    * nothing (0.2.0–0.2.5, and 1.0.8–1.1.1 private rows);
    * ``MsgSvrID`` (0.2.6 "export all" ``messages.csv``, 10 fields under a 9-name header);
    * ``MsgSvrID, b'BytesExtra', b'CompressContent'[, <Contact object>]`` (0.2.8–1.0.7 per-contact "raw" rows);
    * shifted "export all" rows of 0.2.7–0.2.8: ``MsgSvrID[, chat Remark, chat NickName][, sender]``;
    * aligned ``Remark, NickName, Sender`` which means two different things:
      "export all" (0.2.9+): the *chat's* remark/nickname, Sender = ``我`` or the member's name;
      per-contact ``<remark>_utf8.csv`` (1.0.8+): the *sender's* remark/nickname, Sender = the sender's wxid.
- Chinese header (2025 MIT rewrite): ``消息ID,类型,发送人,时间,内容,备注,昵称,更多信息`` with no sender flag.

TXT: 2.x ``{time} {name}\\n{content}\\n\\n`` (system messages: ``{time} {text}`` with no body), the 2025 rewrite
``{time} {name}\\n{content}`` joined by blank lines (system messages: ``{time}`` alone), and the 2025 "AI txt"
``****date****`` variant that has no times. A line after a blank line that is one slip from a header (a flipped or
stray byte), or a header whose time is no date, starts a record that cannot be read: a counted skip, never text of
the record before it.

English-header CSVs are read in one pass; their messages are kept until the end of the file because whether a
chat is a group (and, per contact, the contact's wxid) is only known from all of its rows.
"""
from __future__ import annotations

import codecs
import csv
import html
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..records import Kind, Message
from ..sources import ExportError, ParseLog, first_line, near_header, numbered, read_text
from . import SimpleFormat
from .wechat import (
    GROUP_NOTICE,
    WXID,
    bytes_extra_sender,
    clean_markup,
    compress_content_xml,
    convert,
    looks_like_xml,
    notice_kind,
    parse_time,
)

# --- sniffing -------------------------------------------------------------------------------------------------
CSV_HEADER = ("localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status", "StrContent", "StrTime")
CN_HEADER = ("消息ID", "类型", "发送人", "时间", "内容")
_CSV_PREFIX = ",".join(CSV_HEADER)
_CN_PREFIX = ",".join(CN_HEADER)
_TXT_HEADER = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?: (.*))?")
_AI_DATE = re.compile(r"\*{20}(\d{4}-\d{2}-\d{2})\*{20}")


def sniff(path: Path, head: str) -> bool:
    first = first_line(head)
    return (first.startswith(_CSV_PREFIX) or first.startswith(_CN_PREFIX) or _AI_DATE.fullmatch(first) is not None
            or _TXT_HEADER.fullmatch(first) is not None)


# --- bytes written as Python reprs (0.2.8–1.0.7 "raw" rows) ---------------------------------------------------
def _bytes_repr(value: str) -> bytes | None:
    """Bytes from a ``b'…'`` repr cell; None for anything else."""
    if len(value) < 3 or value[0] != "b" or value[1] not in "'\"" or value[-1] != value[1]:
        return None
    try:
        return codecs.escape_decode(value[2:-1].encode("latin-1", "backslashreplace"))[0]
    except (ValueError, UnicodeError):
        return None


def _bytes_extra_sender(cell: str) -> str | None:
    data = _bytes_repr(cell)
    return bytes_extra_sender(data) if data else None


# --- English-header CSV ---------------------------------------------------------------------------------------
_SVRID = re.compile(r"-?\d{15,20}")

# Row layouts (what follows the 9 fixed columns).
_BARE, _RAW, _SHIFT_PRIVATE, _SHIFT_GROUP, _ALIGNED, _BAD = range(6)


def _is_blob(cell: str) -> bool:
    return not cell or (cell[:2] in ("b'", 'b"'))


def _layout(row: list[str]) -> int:
    n = len(row)
    if n <= 10:
        return _BARE
    ex0 = row[9]
    if ex0.isdigit() or (ex0[:1] == "-" and ex0[1:].isdigit()):
        if _is_blob(row[10]) and (n == 11 or _is_blob(row[11])):
            return _RAW
        if n == 11:
            return _SHIFT_GROUP  # MsgSvrID, sender (chat had no contact info)
        if n == 12 and _SVRID.fullmatch(ex0):
            return _SHIFT_PRIVATE
        if n == 13:
            return _SHIFT_GROUP
    if n == 12:
        return _ALIGNED
    return _BAD


def _shift_names(row: list[str], layout: int) -> tuple[str, str, str | None]:
    """(chat remark, chat nickname, group sender or None) of a shifted 0.2.7–0.2.8 row."""
    if layout == _SHIFT_PRIVATE:
        return row[10], row[11], None
    if len(row) == 11:
        return "", "", row[10]
    return row[10], row[11], row[12]


def _chat_key(remark: str, nick: str, talker: str) -> tuple[str, str]:
    """(chat_id, chat_name) of an "export all" chat; TalkerId only when the export had no contact info."""
    name = remark or nick
    if not name:
        return f"TalkerId {talker}", f"TalkerId {talker}"
    chat_id = f"{remark}/{nick}" if remark and nick and remark != nick else name
    return chat_id, name


_SANITISE = re.compile(r'[\\/:*?"<>|\s.]')


def _sender_display(remark: str, nick: str, wxid: str) -> str:
    """Per-contact CSVs write a file-name-sanitised remark; prefer the raw nickname when that is all it is."""
    if remark and nick and remark == _SANITISE.sub("_", nick):
        return nick
    return remark or nick or wxid


_FOLDER_ID = re.compile(r"(.*)\(([^()]+)\)")
_STEM_SUFFIX = re.compile(r"(?:_utf8|_gbk|_chat)?(?:\(\d+\))?$")  # writer suffixes; (N) = name collision


def chat_from_path(path: Path) -> tuple[str, str | None]:
    """(chat name, chat wxid) of a per-chat file: ``聊天记录/<remark>(<wxid>)/…`` (2025) or
    ``<remark>/<remark>_utf8.csv``."""
    m = _FOLDER_ID.fullmatch(path.parent.name)
    if m and m[1] and WXID.fullmatch(m[2]):
        return m[1], m[2]
    return _STEM_SUFFIX.sub("", path.stem) or path.stem, None


@dataclass
class _CsvState:
    """What one pass over an English-header CSV learns; chat-level facts are applied to the messages at the end."""

    export_all: bool | None = None                         # None until a row tells (see _decide)
    group_keys: set[str] = field(default_factory=set)      # "export all": chat ids shown to be groups
    others: set[str] = field(default_factory=set)          # per-contact: non-me sender wxids
    contact: dict[str, str] = field(default_factory=dict)  # per-contact: wxid -> shown name
    notice_group: bool = False                             # a group-only notice or a BytesExtra member wxid
    chats: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)
    unnamed: dict[str, str] = field(default_factory=dict)  # "export all": chat id -> contact name, for rows
                                                           # without a Sender (未知 if the chat is a group)


def _decide(layout: int, row: list[str]) -> bool | None:
    """Export-all vs per-contact from one row: shifted rows and ``我`` senders exist only in "export all";
    a wxid as the owner's Sender only in per-contact files."""
    if layout == _SHIFT_PRIVATE or layout == _SHIFT_GROUP:
        return True
    if layout == _ALIGNED and row[4] == "1" and row[11]:
        return row[11] == "我"
    return None


def _convert_row(row: list[str], layout: int) -> tuple[Kind, str, str | None] | None:
    t = row[2]
    if t == "1":  # the common case first: plain text
        return Kind.TEXT, row[7], None
    try:
        type_, sub = int(t), int(row[3] or 0)
    except ValueError:
        return None
    appmsg_xml = ""
    if type_ == 49 and layout == _RAW and len(row) > 11 and not looks_like_xml(row[7]):
        blob = _bytes_repr(row[11])
        appmsg_xml = compress_content_xml(blob) if blob else ""
    return convert(type_, sub, row[7], appmsg_xml)


def _parse_csv(path: Path, text: str, log: ParseLog) -> Iterator[Message]:
    """One pass; the messages of a file are kept until its end because group-ness and (for per-contact files)
    the contact's wxid are facts about the whole chat."""
    st = _CsvState()
    chat_name, folder_id = chat_from_path(path)
    out: list[Message] = []
    pending: list[tuple[int, list[str], int]] = []  # rows read before the file's kind is known
    src = str(path)
    fromiso = datetime.fromisoformat

    def emit(line: int, row: list[str], layout: int) -> None:
        conv = _convert_row(row, layout)
        if conv is None:
            log.skip(path, line, "row: cannot align columns")
            return
        kind, body, quote = conv
        try:
            when = fromiso(row[8])
        except ValueError:
            parsed = parse_time(row[8])
            if parsed is None:
                try:
                    parsed = datetime.fromtimestamp(int(row[5]))
                except (ValueError, OverflowError, OSError):
                    log.skip(path, line, "row: bad time")
                    return
            when = parsed
        mine = row[4] == "1"
        notice = kind is Kind.SYSTEM or kind is Kind.RECALL
        group_notice = notice and GROUP_NOTICE.search(body) is not None
        sender_id: str | None = None
        if st.export_all:
            if layout == _ALIGNED:
                remark, nick, sender = row[9], row[10], row[11]
            elif layout == _BARE or layout == _RAW:
                remark, nick, sender = "", "", ""
            else:
                remark, nick, sender = _shift_names(row, layout)  # type: ignore[assignment]
            key = (remark, nick, "" if remark or nick else row[1])
            chat = st.chats.get(key)
            if chat is None:
                chat = st.chats[key] = _chat_key(remark, nick, row[1])
            chat_id, name = chat
            if layout == _SHIFT_GROUP or group_notice:
                st.group_keys.add(chat_id)
            if mine:
                sender = "我"
            elif sender and sender != "我":  # 我 on a non-own shifted row is the 0.2.7 Reserved1 bug
                if sender != nick and sender != remark:
                    st.group_keys.add(chat_id)  # private rows name the contact's nickname
            else:
                sender = ""
                if not notice:
                    st.unnamed[chat_id] = nick or name
        else:
            chat_id, name = folder_id or chat_name, chat_name
            st.notice_group |= group_notice
            if layout == _ALIGNED and row[11]:
                sender_id = row[11]
                sender = _sender_display(row[9], row[10], sender_id)
                if not mine:
                    st.others.add(sender_id)
                    st.contact.setdefault(sender_id, sender)
            elif mine:
                sender = "我"
            elif layout == _RAW and (wxid := _bytes_extra_sender(row[10])):
                sender = sender_id = wxid  # only group messages carry a member wxid in BytesExtra
                st.others.add(wxid)
                st.notice_group = True
            else:
                sender = "" if notice else chat_name
        out.append(Message(chat_id=chat_id, chat_name=name, is_group=False, sender=sender, by_owner=mine, time=when,
                           kind=kind, text=body, quote=quote, sender_id=sender_id, source=f"{src}:{line}"))

    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    for line, row in numbered(reader):
        n = len(row)
        if n < 9:
            if n:
                log.skip(path, line, "row: too few columns")
            continue
        layout = _BARE if n <= 10 else _layout(row)
        if layout == _BAD or (row[4] != "0" and row[4] != "1"):
            log.skip(path, line, "row: cannot align columns")
            continue
        if st.export_all is None:
            decided = _decide(layout, row)
            if decided is None:
                pending.append((line, row, layout))
                continue
            st.export_all = decided
            for args in pending:
                emit(*args)
            pending.clear()
        emit(line, row, layout)
    if st.export_all is None:  # no row told: the file name does ("export all" is saved as messages.csv)
        st.export_all = path.stem.lower() == "messages"
        for args in pending:
            emit(*args)

    if st.export_all:
        groups, unnamed = st.group_keys, st.unnamed
        if groups or unnamed:
            for m in out:
                group = m.is_group = m.chat_id in groups
                if not m.sender and m.chat_id in unnamed and m.kind is not Kind.SYSTEM and m.kind is not Kind.RECALL:
                    m.sender = "未知" if group else unnamed[m.chat_id]  # a member the exporter could not name
    else:
        group = len(st.others) > 1 or st.notice_group or bool(folder_id and folder_id.endswith("@chatroom"))
        contact_id = next(iter(st.others)) if len(st.others) == 1 and not group else None
        contact_name = st.contact.get(contact_id, chat_name) if contact_id else chat_name
        for m in out:
            m.is_group = group
            if contact_id and not folder_id:
                m.chat_id = contact_id
            if m.by_owner or m.sender_id is not None or m.sender != chat_name:
                continue
            if group:
                m.sender = "未知"
            elif contact_id:
                m.sender, m.sender_id = contact_name, contact_id
    yield from out


# --- 2025 Chinese-header CSV ----------------------------------------------------------------------------------
_CN_KIND = {
    "文本": Kind.TEXT, "引用消息": Kind.TEXT, "图片": Kind.IMAGE, "视频": Kind.VIDEO, "语音": Kind.VOICE,
    "表情包": Kind.STICKER, "音视频通话": Kind.CALL, "文件": Kind.FILE, "位置分享": Kind.LOCATION,
    "分享链接": Kind.LINK, "小程序": Kind.LINK, "视频号": Kind.LINK, "音乐分享": Kind.LINK, "收藏笔记": Kind.LINK,
    "红包": Kind.MONEY, "转账": Kind.MONEY, "合并转发的聊天记录": Kind.FORWARD, "个人/公众号名片": Kind.CARD,
    "企业微信名片": Kind.CARD, "系统消息": Kind.SYSTEM, "拍一拍": Kind.SYSTEM, "未知类型": Kind.OTHER,
}
# The 2025 to_text() bodies start with a 【label】; these labels are placeholders, not user text.
_LABEL_KIND = {
    "图片": Kind.IMAGE, "表情包": Kind.STICKER, "语音": Kind.VOICE, "视频": Kind.VIDEO, "文件": Kind.FILE,
    "分享链接": Kind.LINK, "视频号": Kind.LINK, "合并转发的聊天记录": Kind.FORWARD, "音视频通话": Kind.CALL,
    "位置分享": Kind.LOCATION, "名片": Kind.CARD, "红包": Kind.MONEY, "笔记": Kind.LINK, "转账": Kind.MONEY,
    "已收款": Kind.MONEY, "收款": Kind.MONEY,
}
_LABEL = re.compile(r"【([^】\n]{1,12})】")
_QUOTE_2025 = re.compile(r"\n引用：")
_FWD_ITEM = re.compile(r"^\s*- \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} ", re.M)
_TITLE_LINE = re.compile(r"^(?:标题|描述)[:：]\s*(.+)$", re.M)


def _from_2025_body(body: str, kind: Kind | None) -> tuple[Kind, str, str | None, int]:
    """Kind, text, quote and the number of forwarded-history items folded into this message."""
    m = _QUOTE_2025.search(body)
    if m and kind in (None, Kind.TEXT):
        i = body.rfind("\n引用：")
        quoted = body[i + 4:]
        _, sep, rest = quoted.partition(": ")
        return Kind.TEXT, body[:i], (rest if sep else quoted) or None, 0
    label = _LABEL.match(body)
    if kind is None:
        if not label:
            return Kind.TEXT, body, None, 0
        kind = _LABEL_KIND.get(label[1])
        if kind is None:
            kind = Kind.MONEY if "转账" in label[1] or "收款" in label[1] else Kind.TEXT
        if kind is Kind.TEXT:
            return kind, body, None, 0
    if kind is Kind.FORWARD:
        return kind, body.split("\n", 1)[0], None, len(_FWD_ITEM.findall(body))
    if kind is Kind.LINK:
        t = _TITLE_LINE.search(body)
        if t:
            return kind, t[1].strip(), None, 0
    if kind in (Kind.SYSTEM, Kind.RECALL):
        text = clean_markup(body)
        return notice_kind(text), text, None, 0
    if kind is not Kind.TEXT and looks_like_xml(body):
        return kind, f"[{label[1]}]" if label else "[消息]", None, 0
    return kind, body.strip(), None, 0


def _parse_cn_csv(path: Path, text: str, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    name, wxid = chat_from_path(path)
    # The 2025 CSV has no sender flag. In a private chat the contact's rows carry the contact's remark, so the
    # other speaker is the owner; `me` wins when it names someone.
    senders: dict[tuple[str, str, str], int] = {}
    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    for row in reader:
        if len(row) >= 7 and row[1] not in ("系统消息", "拍一拍"):
            key = (row[2].strip(), row[5].strip(), row[6].strip())
            senders[key] = senders.get(key, 0) + 1
    group = bool(wxid and wxid.endswith("@chatroom")) or len({k[0] for k in senders}) > 2
    named_me = {k for k in senders if me & set(k)}
    if named_me:
        mine_keys = named_me
    elif not group and len(senders) == 2 and sum(name in k for k in senders) == 1:
        mine_keys = {k for k in senders if name not in k}
    else:
        mine_keys = set()

    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    src = str(path)
    for line, row in numbered(reader):
        if not row:
            continue
        if len(row) < 5:
            log.skip(path, line, "row: too few columns")
            continue
        when = parse_time(row[3])
        if when is None:
            log.skip(path, line, "row: bad time")
            continue
        type_name = row[1].strip()
        if type_name == "文本":  # plain text is never reinterpreted (it may contain 引用： or 【…】 itself)
            kind, body, quote, forwarded = Kind.TEXT, row[4], None, 0
        else:
            kind, body, quote, forwarded = _from_2025_body(row[4], _CN_KIND.get(type_name, Kind.OTHER))
        if kind is Kind.OTHER:
            body = f"[{type_name or '未知类型'}]"  # unknown types print the type and an XML dict: keep neither
        for _ in range(forwarded):
            log.skip(path, line, "forwarded history item")
        sender = row[2].strip()
        key = (sender, row[5].strip() if len(row) > 5 else "", row[6].strip() if len(row) > 6 else "")
        yield Message(chat_id=wxid or name, chat_name=name, is_group=group, sender=sender,
                      by_owner=key in mine_keys, time=when, kind=kind, text=body, quote=quote, source=f"{src}:{line}")


# --- TXT ------------------------------------------------------------------------------------------------------
_TXT_2X_LABELS = {
    "[图片]": Kind.IMAGE, "[语音]": Kind.VOICE, "[视频]": Kind.VIDEO, "[表情包]": Kind.STICKER, "[文件]": Kind.FILE,
    "[音乐分享]": Kind.LINK,
}
_LINK_2X = re.compile(r"\s*\[链接\]:title:(.*)")
_QUOTE_2X = "\n引用:"
_JS_ESCAPE = re.compile(r"\\(.)")
_JS_CHARS = {"n": "\n", "r": "\r", "t": "\t"}


def _unescape_name(name: str) -> str:
    """Undo 2.x ``escape_js_and_html`` on display names (``&amp;``, ``\\'``)."""
    if "\\" in name:
        name = _JS_ESCAPE.sub(lambda m: _JS_CHARS.get(m[1], m[1]), name)
    if "&" in name:
        name = html.unescape(name)
    return name


def _txt_body(body: str) -> tuple[Kind, str, str | None, int]:
    kind = _TXT_2X_LABELS.get(body)
    if kind:
        return kind, body, None, 0
    link = _LINK_2X.match(body)
    if link:
        return Kind.LINK, link[1].strip() or "[链接]", None, 0
    i = body.rfind(_QUOTE_2X)
    if i >= 0:  # 2.x quote reply: title, then 引用:name:content (or 引用:未知)
        ref = body[i + len(_QUOTE_2X):]
        _, sep, quoted = ref.partition(":")
        return Kind.TEXT, body[:i], (quoted if sep else None) or None, 0
    return _from_2025_body(body, None)


@dataclass(slots=True)
class _Record:
    line: int
    when: datetime
    name: str | None      # None: a notice (2.x: text in the header; 2025: header without a name)
    body: str


# A header after a blank (or whitespace-only) line; starting with a literal "\n" lets the regex engine skip ahead fast.
_TXT_HEADER_AFTER_BLANK = re.compile(r"\n[^\S\n]*\n(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?: ([^\n]*))?(?=\n|$)")
# Lines after a blank line that start with a digit but are no header: the few that may be damaged headers
# (forwarded-history items, ``- time name: text``, are not).
_OTHER_AFTER_BLANK = re.compile(r"\n[^\S\n]*\n(?=[^\n]{0,2}\d)(?!\s*- \d)"
                                r"(?!\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?: [^\n]*)?(?:\n|$))([^\n]*)")


def _txt_records(path: Path, text: str, log: ParseLog) -> list[_Record]:
    """Records start at a header that is the first line or follows a blank line; bodies may hold blank lines.
    Headers are found by one regex scan over the whole text; only the candidates get Python-level work."""
    heads: list[tuple[int, int, datetime | None, str | None]] = []  # (start, end of header line, time, name)
    s0 = text.rfind("\n", 0, len(text) - len(text.lstrip())) + 1  # the first non-blank line
    e0 = text.find("\n", s0)
    m0 = _TXT_HEADER.fullmatch(text, s0, e0 if e0 >= 0 else len(text))
    candidates = [(s0, m0.end(), m0[1], m0[2])] if m0 else []
    candidates += [(m.start(1), m.end(), m[1], m[2]) for m in _TXT_HEADER_AFTER_BLANK.finditer(text)
                   if m.start(1) != s0]
    for s, e, stamp, name in candidates:
        when = parse_time(stamp)
        name = name.strip() if name else ""
        heads.append((s, e, when, name or None))  # when None: a header with no real time, skipped below
    # name "" (never a real header's) marks these; a time of None makes both kinds a skip below
    damaged = [(m.start(1), m.end(), None, "") for m in _OTHER_AFTER_BLANK.finditer(text)
               if near_header(m[1], _TXT_HEADER)]
    if damaged:
        heads.extend(damaged)
        heads.sort(key=lambda h: h[0])
    records: list[_Record] = []
    if not heads:
        return records
    first = heads[0][0]
    if text[:first].strip():
        for i, line in enumerate(text[:first].split("\n"), 1):
            if line.strip():
                log.skip(path, i, "line: text before the first message")
    line_no = text.count("\n", 0, first) + 1
    pos = first
    for k, (s, e, when, name) in enumerate(heads):
        line_no += text.count("\n", pos, s)
        pos = s
        body = text[e + 1:heads[k + 1][0] if k + 1 < len(heads) else len(text)].rstrip()
        if when is None:
            log.skip(path, line_no, "line: damaged message header" if name == "" else "line: bad time in header")
        elif name is not None and not body:
            records.append(_Record(line_no, when, None, name))  # 2.x notice: `time text`
        else:
            records.append(_Record(line_no, when, name, body))
    return records


def _owner_names(names: set[str], chat: str, me: frozenset[str], group: bool) -> set[str]:
    """Who is the owner in a txt export (no flag): `me`, else in a private chat the name that is not the contact."""
    named = {n for n in names if n in me}
    if named:
        return named
    if not group and len(names) == 2 and chat in names:
        return names - {chat}
    return set()


def _parse_txt(path: Path, text: str, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    records = _txt_records(path, text, log)
    chat, wxid = chat_from_path(path)
    chat_id = wxid or chat
    names = {_unescape_name(r.name) for r in records if r.name is not None}
    group = (len(names) > 2 or bool(wxid and wxid.endswith("@chatroom"))
             or any(r.name is None and GROUP_NOTICE.search(r.body) for r in records))
    owner = _owner_names(names, chat, me, group)
    src = str(path)
    for r in records:
        if r.name is None:
            body = clean_markup(r.body)
            yield Message(chat_id=chat_id, chat_name=chat, is_group=group, sender="", by_owner=False, time=r.when,
                          kind=notice_kind(body), text=body, source=f"{src}:{r.line}")
            continue
        name = _unescape_name(r.name)
        kind, body, quote, forwarded = _txt_body(r.body)
        for _ in range(forwarded):
            log.skip(path, r.line, "forwarded history item")
        yield Message(chat_id=chat_id, chat_name=chat, is_group=group, sender=name, by_owner=name in owner, time=r.when,
                      kind=kind, text=body, quote=quote, source=f"{src}:{r.line}")


def _parse_ai_txt(path: Path, text: str, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    """2025 "AI txt": ``****date****`` lines, ``Name:text`` when the speaker changes (after a blank line), then
    one message per line. It has no times (date only) and cannot tell a multi-line message from several."""
    chat, wxid = chat_from_path(path)
    items: list[tuple[int, datetime, str, str]] = []
    day: datetime | None = None
    speaker: str | None = None
    prev_blank = True
    for i, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        d = _AI_DATE.fullmatch(stripped)
        if d:
            day = parse_time(d[1])
        elif stripped:
            if prev_blank and ":" in line:
                speaker, line = line.split(":", 1)
            if day is None or speaker is None:
                log.skip(path, i, "line: no speaker or date")
            else:
                items.append((i, day, speaker.strip(), line))
        prev_blank = not stripped
    names = {s for _, _, s, _ in items}
    group = len(names) > 2 or bool(wxid and wxid.endswith("@chatroom"))
    owner = _owner_names(names, chat, me, group)
    src = str(path)
    for ln, when, speaker, body in items:
        kind, shown, quote, _ = _from_2025_body(body, None)
        yield Message(chat_id=wxid or chat, chat_name=chat, is_group=group, sender=speaker, by_owner=speaker in owner,
                      time=when, kind=kind, text=shown, quote=quote, source=f"{src}:{ln}")


# --- entry point ----------------------------------------------------------------------------------------------
def parse(path: Path, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    text = read_text(path)
    first = first_line(text)
    if csv.field_size_limit() < 1 << 26:
        csv.field_size_limit(1 << 26)  # StrContent XML / forwarded histories can exceed the 128 KiB default
    try:
        if first.startswith((_CSV_PREFIX, _CN_PREFIX)) and not text.strip().partition("\n")[2].strip():
            raise ExportError(path, None, "a CSV header and no rows: the export is cut short or empty")
        if first.startswith(_CSV_PREFIX):
            yield from _parse_csv(path, text, log)
        elif first.startswith(_CN_PREFIX):
            yield from _parse_cn_csv(path, text, log, me)
        elif _AI_DATE.fullmatch(first):
            yield from _parse_ai_txt(path, text, log, me)
        elif _TXT_HEADER.fullmatch(first):
            yield from _parse_txt(path, text, log, me)
        else:
            line = text[: text.find(first)].count("\n") + 1 if first else 1
            raise ExportError(path, line, "not a 留痕/WeChatMsg export: expected the CSV header "
                                          "'localId,TalkerId,Type,…' or a 'YYYY-MM-DD HH:MM:SS name' line")
    except csv.Error as e:
        raise ExportError(path, None, f"broken CSV: {e}") from None


FORMAT = SimpleFormat("liuhen", sniff, parse)
