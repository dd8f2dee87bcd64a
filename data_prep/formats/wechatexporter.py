"""BlueMatthew/WechatExporter text exports (iOS backup → ``<output>/<account>/<chat>/index.txt``).

Layout of a chat file (templates_txt): line 1 ``NAME - 微信聊天记录`` (English: ``WeChat Chat History``), a blank
line, then one ``NAME (YYYY-MM-DD HH:MM:SS):BODY`` line per message (older builds: ``%I:%M:%S %p``), glued with no
separator. The traps handled here, all from the exporter's templates:

- notices (system, recall, invite) are bare lines with no name and no time: recognised by known phrases and yielded
  as SYSTEM/RECALL with the previous message's time; other header-less lines continue a multi-line message;
- pats print as ``System Message: …``;
- quote replies print as ``「name：quoted」`` / ``- - - …`` / reply text, with no sender and no time;
- transfers (``微信转账 …``) have no trailing newline, so the next message can start on the same line;
- forwarded chat history is ``<< title`` … ``title 结束 >>`` (``title Ends >>``), possibly nested: the items are
  other chats' messages and are skipped;
- the account-level and top-level ``index.txt`` (``微信聊天记录  - NAME`` + session list) are companions: no messages.

"Me" is the account display name: the title of the account-level index.txt two folders up, else the account
folder's name (the exporter names that folder after the sanitised display name), plus the user's ``me``.
"""
from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from ..records import Kind, Message
from ..sources import ExportError, ParseLog, head, read_text
from . import SimpleFormat

_TITLE = r"(?:微信聊天记录|WeChat Chat History)"
# strftime("%Y-%m-%d %H:%M:%S"), or "%I:%M:%S %p" in builds before 2021-07 (%p may be localised).
_TS = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?: ?(?:AM|PM|am|pm|上午|下午))?"
# Leftmost timestamp anchor: a name may contain " (" or "):", and a body may contain a pasted header,
# but a display name never contains a full " (YYYY-MM-DD HH:MM:SS):".
_HEADER = re.compile(rf"(.*?) \(({_TS})\):")
_EMBEDDED = re.compile(rf" \(({_TS})\):")
# A header damaged in its timestamp or its frame: `(` + a time with a wrong character + `):`, or an intact time with
# a wrong character around it or `)` and no colon. Such a line starts a message we cannot read; it must not become
# the previous one's text. A body line hardly needs this shape: any line holding " (time):" is read as a header.
_NEAR_HEADER = re.compile(r".{0,160}?(?:\((?=(?:[^()\n]*?\d){12})[^()\n]{17,40}\) ?[:：]"
                          r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: ?(?:AM|PM|am|pm|上午|下午))?(?:.{0,8}?[:：]|\)))")
# Every line of a file in one C-level pass: (name, time, body) for a header, ("", "", line) otherwise.
_ROW = re.compile(rf"^(?:(.*?) \(({_TS})\):)?(.*)$", re.M)
_FRAME = re.compile(rf"(.*) - {_TITLE}")
_LISTFRAME = re.compile(rf"{_TITLE}\s*(?:-\s*(.*?))?\s*")
# Forwarded items carry the original time, sometimes in another format: accept any "(…digit…):".
_FWD_ITEM = re.compile(r"(.*?) \(([^()\n]*\d[^()\n]*)\):")
_DASHES = "- - - - - - - - - - - - - - -"
_FWD_ENDS = (" 结束 >>", " Ends >>")
_SYSMSG = "System Message:"
_TRANSFER = ("微信转账", "Weixin Transfer")
_SLOW_FIRST = frozenset("[微W")  # first characters of bodies that may be placeholders or transfers
_QUOTE_LOOKAHEAD = 200  # lines a quoted text may span before its dash line

# Header-less notice lines. Group notices quote names ("X"邀请"Y"加入了群聊), so they must start with 你/"/“/You.
_NOTICE = re.compile(
    r"(?P<recall>^(?:你|对方|\"[^\"]{0,64}\"|“[^”]{0,64}”) ?撤回了一条消息"
    r"|^(?:You|\"[^\"]{0,64}\"|“[^”]{0,64}”) (?:has )?(?:recalled|withdrew) a message)"
    r"|(?P<group>^(?:你|您|\"|“|You\b).{0,2000}?(?:"
    r"邀请.{1,2000}?加入了?群聊|二维码加入了?群聊|[\"”] ?加入了群聊|移出了?群聊|退出了群聊|[修更]改群名为"
    r"|成为新群主|群聊邀请确认|与群里其他人都不是(?:微信)?朋友关系"
    r"|invited .{1,2000}? to (?:the )?group chat|joined (?:the )?group chat|from (?:the )?group chat"
    r"|left (?:the )?group chat|changed the group name|(?:is|as) (?:now )?the (?:new )?group owner))"
    r"|(?P<system>^你已添加了.{1,80}现在可以开始聊天了|^以上是打招呼的(?:内容|消息)"
    r"|开启了朋友验证，你还不是他（她）朋友|^消息已发出，但被对方拒收了"
    r"|^(?:你领取了|.{1,64}领取了你的).{0,80}红包|^(?:你|\".{1,64}\"|“.{1,64}”) ?拍了拍"
    r"|^You have added .{1,80} as your WeChat contact|enabled Friend Confirmation"
    r"|^The above is a greeting|rejected by the (?:receiver|recipient)|opened your Red Packet"
    r"|^(?:You|\".{1,64}\") patted )"
)

_EXACT_KIND = {
    "[图片]": Kind.IMAGE, "[Photo]": Kind.IMAGE,
    "[视频]": Kind.VIDEO, "[Video]": Kind.VIDEO, "[视频]（视频丢失）": Kind.VIDEO, "[Video](Video Missed)": Kind.VIDEO,
    "[表情]": Kind.STICKER, "[Emoji]": Kind.STICKER,
    "[语音]": Kind.VOICE, "[Audio]": Kind.VOICE,
    "[链接]": Kind.LINK, "[Link]": Kind.LINK,
    "[位置]": Kind.LOCATION, "[Location]": Kind.LOCATION,
    "[实时位置共享]": Kind.LOCATION, "[Real-time Location]": Kind.LOCATION,
    "[视频/语音通话]": Kind.CALL, "[Video/Audio Call]": Kind.CALL,
    "[个人名片]": Kind.CARD, "[Contact Card]": Kind.CARD, "[视频号名片]": Kind.CARD, "[Channel Card]": Kind.CARD,
    "[红包]": Kind.MONEY, "[Red Packet]": Kind.MONEY, "[转账]": Kind.MONEY, "[Transfer]": Kind.MONEY,
    "[文件]": Kind.FILE, "[File]": Kind.FILE,
}
_PREFIX_KIND = re.compile(
    r"(?P<voice>\[(?:语音|Audio) [0-9'\"]+\]$)|(?P<file>\[(?:文件|File): .*\]$)"
    r"|(?P<location>\[(?:位置|Location)\] )|(?P<card>\[(?:个人名片|Contact Card|视频号名片|Channel Card)\] )"
)
_PREFIX_KINDS = {"voice": Kind.VOICE, "file": Kind.FILE, "location": Kind.LOCATION, "card": Kind.CARD}
# share.html is "title - appname"; plain " - " is common in text, so only well-known app names count.
_APPS = frozenset((
    "哔哩哔哩", "bilibili", "网易云音乐", "NetEase Cloud Music", "QQ音乐", "QQ Music", "酷狗音乐", "酷我音乐",
    "知乎", "微博", "新浪微博", "小红书", "抖音", "快手", "淘宝", "天猫", "京东", "拼多多", "闲鱼", "美团",
    "大众点评", "饿了么", "携程旅行", "飞猪旅行", "高德地图", "百度地图", "腾讯地图", "百度网盘", "腾讯视频",
    "爱奇艺", "优酷视频", "芒果TV", "今日头条", "腾讯新闻", "网易新闻", "豆瓣", "微信读书", "腾讯文档",
    "WPS Office", "钉钉", "腾讯会议", "QQ浏览器", "UC浏览器", "喜马拉雅",
    "得到", "Keep", "滴滴出行", "支付宝", "QQ", "App Store", "YouTube", "Spotify"))
_CHANNELS = ("视频号 ", "Channels ")  # channels.html: "text - 视频号 name"
# Transfer status words (zh-Hans / en resources), used to find where a glued next sender's name starts.
_TRANSFER_STATUS = re.compile(r"(.* - (?:已收款|已接收|已退还|已被接收|已被退还|已过期|转账"
                              r"|Accepted |Accepted|Rejected|Expired|Transfer))(.+)$", re.S)
_INVALID_FILE_CHARS = str.maketrans("", "", '\\/:*?"<>|')
_WXID = re.compile(r"wxid_[0-9A-Za-z_-]+")


def _first_line(text: str) -> tuple[int, str]:
    """Index and content of the first non-blank line."""
    lines = text.split("\n", 64)
    for i, line in enumerate(lines):
        if line.strip():
            return i, line.strip()
    return len(lines), ""


def _is_list_frame(first: str, rest: str) -> bool:
    """An account/top index.txt: title line, then only ``*.txt`` session links (no message headers)."""
    if not _LISTFRAME.fullmatch(first):
        return False
    # Every item is a link "<chat>.txt" or "<account>/index.txt"; this also tells "微信聊天记录 - 微信聊天记录"
    # (a chat named like the title) from an index.
    return all(line.strip().endswith((".txt", ".html")) for line in rest.split("\n") if line.strip())


def sniff(path: Path, start: str) -> bool:
    i, first = _first_line(start)
    if not first:
        return False
    if _FRAME.fullmatch(first):
        return True
    if _is_list_frame(first, "\n".join(start.split("\n")[i + 1:])):
        return True
    # A chat whose title line was removed: the first line must be a full message header.
    return _HEADER.match(first) is not None


def _sanitise(name: str) -> str:
    """The exporter's removeInvalidCharsForFileName: what a display name becomes as a folder name."""
    return name.translate(_INVALID_FILE_CHARS).lstrip(".").rstrip(" .")[:255]


@lru_cache(maxsize=256)
def _account_name(account_dir: str) -> str | None:
    """The account display name from ``<account>/index.txt`` (``微信聊天记录  - NAME``), if that file is there."""
    index = Path(account_dir) / "index.txt"
    if not index.is_file():
        return None
    _, first = _first_line(head(index, 1024))
    m = _LISTFRAME.fullmatch(first)
    return (m.group(1) or None) if m else None


def _parse_time(ts: str) -> datetime | None:
    try:
        if len(ts) == 19:
            return datetime.fromisoformat(ts)
        base = datetime.fromisoformat(ts[:19])
    except ValueError:
        return None
    suffix = ts[19:].strip().upper()
    if not 1 <= base.hour <= 12:
        return None
    hour = base.hour % 12 + (12 if suffix in ("PM", "下午") else 0)
    return base.replace(hour=hour)


def _classify(body: str) -> Kind:
    """Kind of a header line's body. Plain text never starts with [, 微 or W nor contains " - " on the fast path."""
    kind = _EXACT_KIND.get(body)
    if kind is not None:
        return kind
    if body.startswith(_TRANSFER):
        return Kind.MONEY
    if body[:1] == "[":
        m = _PREFIX_KIND.match(body)
        if m:
            return _PREFIX_KINDS[m.lastgroup]  # type: ignore[index]
    _, sep, app = body.rpartition(" - ")
    if sep and (app in _APPS or app.startswith(_CHANNELS)):
        return Kind.LINK
    return Kind.TEXT


def _quote_end(first: str, lines: list[str], j: int) -> int | None:
    """Index of the dash line closing a quote that starts with ``first`` (lines[j] is the line after it)."""
    prev = first
    for k in range(j, min(len(lines), j + _QUOTE_LOOKAHEAD)):
        line = lines[k]
        if line == _DASHES and prev.endswith("」"):
            return k
        prev = line
    return None


def _split_quote(block: str) -> tuple[str, str]:
    """``「name：quoted」`` → (name, quoted); the name is whoever wrote the quoted message, not the replier."""
    inner = block[1:-1] if block.endswith("」") else block[1:]
    name, sep, quoted = inner.partition("：")
    return (name, quoted) if sep else ("", inner)


class _Parser:
    """One chat file. Messages are collected first because is_group depends on the whole file.

    The common line (a header while no transfer, quote or forwarded block is open) takes an inlined fast path in
    ``run``; everything else goes through ``slow_line``.
    """

    def __init__(self, path: Path, log: ParseLog, me: frozenset[str], text: str):
        self.path, self.log, self.text = path, log, text
        self._lines: list[str] | None = None
        self.msgs: list[Message] = []
        self.cur: Message | None = None
        self.parts: list[str] | None = None  # cur's lines once it has more than one
        self.transfer = False           # cur is a transfer: the next message may be glued to its lines
        self.last_time: datetime | None = None
        self.pending: list[Message] = []  # notices before the first timed message
        self.group_hint = False
        self.quoted_names: list[tuple[Message, str]] = []  # quote replies and whom they quote
        self.fwd: list[str] = []        # open forwarded-history titles (nested)
        self.fwd_item = False
        self.fwd_start = 0
        self.skip_to = 0                # lines already consumed by a quote reply
        self._names: list[str] | None = None
        self._me_cache: dict[str, bool] = {}
        self.me = {s.strip() for s in me if s.strip()}
        self.me_folder: str | None = None
        self.chat_name = self.chat_id = ""
        self._locate(path)

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.split("\n")
        return self._lines

    def _locate(self, path: Path) -> None:
        """chat_id and "me" from the ``<account>/<chat>/index.txt`` layout when the file sits in it."""
        if path.name.lower() != "index.txt" or not path.parent.name:
            return
        self.chat_id = path.parent.name
        account_dir = path.parent.parent
        account = _account_name(str(account_dir))
        if account:
            self.me.add(account)
            self.chat_id = f"{account_dir.name}/{path.parent.name}"
        elif account_dir.name and account_dir != account_dir.parent:
            self.me_folder = account_dir.name

    def by_owner(self, name: str) -> bool:
        hit = self._me_cache.get(name)
        if hit is None:
            stripped = name.strip()
            hit = stripped in self.me or (self.me_folder is not None and bool(stripped)
                                          and _sanitise(stripped) == self.me_folder)
            self._me_cache[name] = hit
        return hit

    # -- message assembly -------------------------------------------------------------------------------------

    def close(self) -> None:
        parts = self.parts
        if parts is not None and self.cur is not None:
            while parts and not parts[-1].strip():
                parts.pop()
            self.cur.text = "\n".join(parts)
        self.cur, self.parts, self.transfer = None, None, False

    def add_line(self, line: str) -> None:
        if self.parts is None:
            self.parts = [self.cur.text]  # type: ignore[union-attr]
        self.parts.append(line)

    def start(self, sender: str, time: datetime | None, kind: Kind, body: str, ln: int,
              quote: str | None = None) -> Message:
        self.close()
        wxid = sender if sender.startswith("wxid_") and _WXID.fullmatch(sender) else None
        msg = Message(self.chat_id, self.chat_name, False, sender, bool(sender) and self.by_owner(sender),
                      time, kind, body, quote, wxid, f"{self.path}:{ln}")  # type: ignore[arg-type]
        if time is None:
            self.pending.append(msg)
        self.msgs.append(msg)
        self.cur = msg
        return msg

    def set_time(self, time: datetime) -> None:
        if self.pending:  # notices before the first message get its time
            for p in self.pending:
                p.time = time
            self.pending.clear()
        self.last_time = time

    def notice(self, kind: Kind, text: str, ln: int) -> None:
        self.start("", self.last_time, kind, text, ln)

    def known_names(self) -> list[str]:
        """Senders seen at line starts (longest first), to find a name glued after a transfer.

        The line after a transfer that had nothing glued to it is its memo with the next header glued on, so the
        name read at that line's start ("memoName") is not a sender.
        """
        if self._names is None:
            names = set(self.me)
            after_transfer = False
            for line in self.lines:
                m = _HEADER.match(line)
                if m is None:
                    after_transfer = False
                    continue
                if not after_transfer and m.group(1):
                    names.add(m.group(1))
                body = line[m.end():]
                after_transfer = body.startswith(_TRANSFER) and _EMBEDDED.search(body) is None
            self._names = sorted(names, key=len, reverse=True)
        return self._names

    def split_glued(self, seg: str, j: int) -> tuple[str, str | None]:
        """Split a transfer line where the next message (header, pat or quote) starts on the same line.

        ``j`` is the index of the line after the one ``seg`` comes from.
        """
        cut = len(seg)
        m = _EMBEDDED.search(seg)
        if m:
            prefix = seg[:m.start()]
            name = next((n for n in self.known_names() if prefix.endswith(n)), None)
            if name is not None:
                cut = len(prefix) - len(name)
            else:
                st = _TRANSFER_STATUS.match(prefix)
                cut = st.end(1) if st else max(prefix.rfind(" "), prefix.rfind("\n")) + 1
        s = seg.find(_SYSMSG)
        if 0 < s < cut:
            cut = s
        q = seg.find("「")
        if 0 < q < cut and _quote_end(seg[q:], self.lines, j) is not None:
            cut = q
        if cut >= len(seg):
            return seg, None
        return seg[:cut].rstrip(), seg[cut:]

    # -- main loop ----------------------------------------------------------------------------------------------

    def run(self) -> list[Message]:
        path, text = self.path, self.text
        i, first = _first_line(text)
        if not first:
            raise ExportError(path, None, "file is empty")
        frame = _FRAME.fullmatch(first)
        if frame:
            self.chat_name = frame.group(1).strip()
            i += 1
            parts = text.split("\n", i)
            if len(parts) <= i or not parts[i].strip():  # a title and nothing else: cut short, never a chat
                raise ExportError(path, i, "only the title line: no messages after it (is the export cut short?)")
        elif _is_list_frame(first, "\n".join(text.split("\n", i + 200)[i + 1:i + 200])):
            return []  # account or top-level index: a list of sessions, no messages
        elif _HEADER.match(first):
            self.chat_name = path.parent.name if path.name.lower() == "index.txt" else path.stem
        else:
            raise ExportError(path, i + 1, "not a WechatExporter txt chat: expected 'NAME - 微信聊天记录' "
                                           "or 'NAME (YYYY-MM-DD HH:MM:SS):text' here")
        if not self.chat_id:
            self.chat_id = self.chat_name
        chat_id, chat_name, where = self.chat_id, self.chat_name, f"{path}:"
        msgs_append, me_cache, by_owner, slow = self.msgs.append, self._me_cache, self.by_owner, self.slow_line
        fromiso, text_kind, slow_first = datetime.fromisoformat, Kind.TEXT, _SLOW_FIRST
        special = False  # a transfer, quote or forwarded block is open: every line goes the slow way
        dirty = False    # the slow path ran: its message may need closing before the next fast one
        hot: Message | None = None  # last message made here, not yet known to the slow path
        last_time = self.last_time
        for idx, (name, ts, body) in enumerate(_ROW.findall(text)):
            if idx < i:
                continue
            if ts and not special:
                if len(ts) == 19:
                    try:
                        time = fromiso(ts)
                    except ValueError:
                        time = None
                else:
                    time = _parse_time(ts)
                kind = _classify(body) if body[:1] in slow_first or " - " in body else text_kind
                if time is not None and (kind is not Kind.MONEY or not body.startswith(_TRANSFER)):
                    if dirty:
                        self.close()
                        dirty = False
                    if last_time is None:
                        self.set_time(time)
                    last_time = time
                    mine = me_cache.get(name)
                    if mine is None:
                        mine = bool(name) and by_owner(name)
                    sid = name if name[:5] == "wxid_" and _WXID.fullmatch(name) else None
                    hot = Message(chat_id, chat_name, False, name, mine, time, kind, body, None, sid,
                                  where + str(idx + 1))
                    msgs_append(hot)
                    continue
            if hot is not None:
                self.cur, self.parts, hot = hot, None, None
            self.last_time = last_time
            special = slow(idx, f"{name} ({ts}):{body}" if ts else body)
            last_time = self.last_time
            dirty = True
        if dirty:
            self.close()
        if self.fwd:
            self.log.skip(path, self.fwd_start, "unterminated forwarded history")
        if self.pending:  # notices in a file with no timed message at all
            for p in self.pending:
                self.log.skip(path, int(p.source.rsplit(":", 1)[1]), "notice without time")
            pending = set(map(id, self.pending))
            self.msgs = [m for m in self.msgs if id(m) not in pending]
        self.set_group()
        self.attribute_quotes()
        return self.msgs

    def slow_line(self, idx: int, line: str) -> bool:
        """Everything but a plain header line. Returns whether the next line must also come here."""
        if idx < self.skip_to:
            return True
        log, path, ln, nxt = self.log, self.path, idx + 1, idx + 1
        seg: str | None = line
        while seg is not None:
            line, seg = seg, None
            if self.fwd:
                self.forwarded_line(line, ln)
                break
            if self.transfer:  # the memo line of a transfer, usually with the next message glued on
                memo, seg = self.split_glued(line, nxt)
                self.transfer = seg is None
                if memo or seg is None:
                    self.add_line(memo)
                continue
            m = _HEADER.match(line)
            if m:
                time = _parse_time(m.group(2))
                if time is None:
                    self.close()
                    log.skip(path, ln, "bad timestamp")
                    break
                self.set_time(time)
                body = line[m.end():]
                kind = _classify(body)
                if kind is Kind.MONEY and body.startswith(_TRANSFER):
                    body, seg = self.split_glued(body, nxt)
                    self.start(m.group(1), time, kind, body, ln)
                    self.transfer = seg is None
                else:
                    self.start(m.group(1), time, kind, body, ln)
                continue
            if not line.strip():
                if self.cur is not None:
                    self.add_line(line)
                break
            if line.startswith("<< ") and self.opens_forward(line[3:]):
                self.open_forward(line[3:], ln)
                break
            if line.startswith("「"):
                lines = self.lines
                end = _quote_end(line, lines, nxt)
                if end is not None:
                    name, quoted = _split_quote("\n".join([line, *lines[nxt:end]]))
                    reply = lines[end + 1] if end + 1 < len(lines) else ""
                    msg = self.start("", self.last_time, Kind.TEXT, reply, ln, quote=quoted)
                    self.quoted_names.append((msg, name))
                    self.skip_to = end + 2
                    break
            if line.startswith(_SYSMSG):
                self.notice(Kind.SYSTEM, line, ln)  # pats ("拍了拍") are the only System Message lines
                break
            nm = _NOTICE.search(line) if len(line) < 2100 else None
            if nm:
                self.group_hint |= nm.lastgroup == "group"
                self.notice(Kind.RECALL if nm.lastgroup == "recall" else Kind.SYSTEM, line, ln)
                break
            if _NEAR_HEADER.match(line):
                self.close()  # the lines after it belong to the unreadable message: each is skipped below
                log.skip(path, ln, "damaged message header")
                break
            if self.cur is None:
                log.skip(path, ln, "unrecognised line")
                break
            self.add_line(line)
        return bool(self.fwd) or self.transfer or self.skip_to > nxt

    def opens_forward(self, title: str) -> bool:
        """``<< title`` right after the one-line message carrying that title: a forwarded-history block starts.

        Checking the title keeps a user's own line starting with "<< " from swallowing the rest of the chat.
        """
        cur = self.cur
        return cur is not None and self.parts is None and cur.text.strip() == title.strip()

    def open_forward(self, title: str, ln: int) -> None:
        if self.cur is not None and self.cur.kind is Kind.TEXT:
            self.cur.kind = Kind.FORWARD  # the bundle itself is a message of this chat; its items are not
        self.close()
        self.fwd, self.fwd_item, self.fwd_start = [title], False, ln

    def forwarded_line(self, line: str, ln: int) -> None:
        if line.startswith("<< "):
            self.fwd.append(line[3:])
            self.fwd_item = False
            return
        if line.endswith(_FWD_ENDS):
            title = line[:-len(" 结束 >>")] if line.endswith(" 结束 >>") else line[:-len(" Ends >>")]
            depth = next((d for d in range(len(self.fwd) - 1, -1, -1) if self.fwd[d] == title), len(self.fwd) - 1)
            del self.fwd[depth:]
            self.fwd_item = False
            return
        if _FWD_ITEM.match(line) or (not self.fwd_item and line.strip()):
            self.log.skip(self.path, ln, "forwarded history item")
            self.fwd_item = True
        # other lines continue the item just skipped

    def set_group(self) -> None:
        # Every non-empty sender went through by_owner, so its cache holds the distinct senders; notices, pats and
        # quote replies have sender "" and never reach it.
        mine = [hit for name, hit in self._me_cache.items() if name]
        others = mine.count(False)
        has_me = others < len(mine)
        if self.group_hint or "," in self.chat_name or others > 2 or (has_me and others >= 2):
            for m in self.msgs:
                m.is_group = True


    def attribute_quotes(self) -> None:
        """Quote replies print no sender. In a private chat one usually quotes the other side, so the replier is
        the participant who is not the quoted one; in groups (or if the quoted name is neither) it stays unknown."""
        if not self.quoted_names or (self.msgs and self.msgs[0].is_group):
            return
        people = {name: hit for name, hit in self._me_cache.items() if name}
        mine = [n for n, hit in people.items() if hit]
        others = [n for n, hit in people.items() if not hit]
        if len(mine) != 1 or len(others) != 1:
            return
        for msg, quoted in self.quoted_names:
            if quoted in (mine[0], others[0]):
                msg.sender = others[0] if quoted == mine[0] else mine[0]
                msg.by_owner = msg.sender == mine[0]


def parse(path: Path, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    text = read_text(path)
    # Building ~1M small objects with the cyclic GC on costs more than parsing them; nothing here makes cycles.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        msgs = _Parser(path, log, me, text).run()
    finally:
        if gc_was_on:
            gc.enable()
    yield from msgs


FORMAT = SimpleFormat("wechatexporter", sniff, parse)
