"""Telegram Desktop "Export chat history" → machine-readable JSON (result.json).

Two layouts share one parser: a single-chat export, where the file *is* the chat object
(``{"name", "type", "id", "messages": [...]}``), and a whole-account export, where chats sit in
``chats.list`` / ``left_chats.list`` next to ``personal_information`` (which tells us who "me" is).
"""
from __future__ import annotations

import contextlib
import gc
import itertools
import json
import operator
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from ..records import Kind, Message
from ..sources import ExportError, ParseLog, read_text
from . import SimpleFormat

GROUP_TYPES = frozenset({"private_group", "private_supergroup", "public_supergroup"})
_PEER_CHAT_TYPES = frozenset({"personal_chat", "bot_chat"})  # the chat id is the other person
_CHAT_TYPES = ("personal_chat|bot_chat|saved_messages|replies|private_group|private_supergroup|"
               "public_supergroup|private_channel|public_channel")
_DEFAULT_NAMES = {"saved_messages": "Saved Messages", "replies": "Replies"}
DELETED = "Deleted Account"  # what Telegram shows for a sender whose name is empty (deleted accounts)

# --- sniffing -------------------------------------------------------------------------------------------------
_SNIFF_MESSAGES = re.compile(r'"messages"\s*:\s*\[')
_SNIFF_CHAT_TYPE = re.compile(rf'"type"\s*:\s*"(?:{_CHAT_TYPES})"')
_SNIFF_MESSAGE_KEYS = re.compile(r'"(?:from_id|date_unixtime|text_entities)"\s*:')
_SNIFF_ACCOUNT = re.compile(r'"personal_information"\s*:\s*\{|"about"\s*:\s*"Here is the data you requested')


def sniff(path: Path, head: str) -> bool:
    if not head.lstrip().startswith("{"):
        return False
    if _SNIFF_ACCOUNT.search(head):
        return True
    return bool(_SNIFF_MESSAGES.search(head)) and bool(
        _SNIFF_CHAT_TYPE.search(head) or _SNIFF_MESSAGE_KEYS.search(head))


# --- loading --------------------------------------------------------------------------------------------------
# Telegram Desktop escapes control characters as "\x0C", which is not JSON. Only a backslash that is itself not
# escaped starts an escape, so count the run of backslashes before the "x": an odd run is the bad escape.
_BAD_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\x([0-9A-Fa-f]{2})")


def repair_escapes(raw: str) -> str:
    if "\\x" not in raw:  # the common case costs one substring scan
        return raw
    return _BAD_ESCAPE.sub(r"\1\\u00\2", raw)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Bulk building millions of containers: the collector would walk the growing heap again and again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load(path: Path, raw: str) -> object:
    try:
        with _no_gc():
            try:
                return json.loads(raw)
            except json.JSONDecodeError:
                fixed = repair_escapes(raw)  # rare, so not paid for up front
                if fixed is raw:
                    raise
                return json.loads(fixed)
    except json.JSONDecodeError as e:  # repairs never add lines, so e.lineno is the line in the file
        raise ExportError(path, e.lineno, f"invalid JSON ({e.msg}, column {e.colno}); is the export truncated?") \
            from None
    except RecursionError:
        raise ExportError(path, None, "invalid JSON: nested too deeply") from None


# Every message object opens with "id" then "type"; text can never match because its quotes are escaped.
# Any type word is accepted so unknown message types get a line too; stray matches are stepped over by id.
_MESSAGE_START = re.compile(r'\{\s*"id"\s*:\s*(-?\d+)\s*,\s*"type"\s*:\s*"[a-z_]*"')
_RESYNC = 8  # how many stray matches _Lines.take steps over


def message_lines(raw: str) -> tuple[list[int], list[int]]:
    """Ids and line numbers of every message object, in document order.

    Built with map() over C functions: a Python loop here cost as much as json.loads itself.
    """
    with _no_gc():
        found = list(_MESSAGE_START.finditer(raw))
    starts = list(map(re.Match.start, found))
    ids = list(map(int, map(operator.itemgetter(1), found)))
    gaps = map(raw.count, itertools.repeat("\n"), itertools.chain((0,), starts), starts)
    lines = list(itertools.accumulate(gaps, initial=1))[1:]
    return ids, lines


class _Lines:
    """Hands out line numbers to messages as they are visited in document order, checked against the id."""

    def __init__(self, found: tuple[list[int], list[int]]):
        self.ids, self.lines = found
        self.i = 0

    def take(self, msg_id: object) -> int | None:
        i, ids = self.i, self.ids
        if i < len(ids) and ids[i] == msg_id:
            self.i = i + 1
            return self.lines[i]
        # A stray match (some other object shaped like a message) is stepped over; a message the scan missed
        # (unusual key order) gets no line and leaves the position for the next one.
        for j in range(i + 1, min(i + 1 + _RESYNC, len(ids))):
            if ids[j] == msg_id:
                self.i = j + 1
                return self.lines[j]
        return None


# --- field helpers --------------------------------------------------------------------------------------------
def peer_id(value: object) -> str | None:
    """"user123"/"channel123"/"chat123" as is; old exports' bare numbers are user ids."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"user{value}"
    return str(value) or None


def _bare(pid: str) -> str:
    return pid.lstrip("abcdefghijklmnopqrstuvwxyz")


def join_text(value: object) -> str:
    """`text` is a plain string, or a list mixing strings and entity objects {"type", "text", ...}."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) if isinstance(p, dict) else ""
                       for p in value)
    return ""


def message_time(m: dict) -> datetime | None:
    """`date` is the exporting machine's local time, like every other format's naive times, so it wins;
    date_unixtime (absolute) converted on *this* machine would shift chats by the time-zone difference."""
    date = m.get("date")
    if isinstance(date, str):
        try:
            return datetime.fromisoformat(date)
        except ValueError:
            pass
    ts = m.get("date_unixtime")
    if ts is not None:
        try:
            return datetime.fromtimestamp(int(ts))
        except (ValueError, TypeError, OverflowError, OSError):
            return None
    return None


_MEDIA_TYPES: dict[str, tuple[Kind, str]] = {
    "sticker": (Kind.STICKER, "[sticker]"),
    "animation": (Kind.STICKER, "[GIF]"),          # GIFs are used as reaction stickers
    "voice_message": (Kind.VOICE, "[voice message]"),
    "video_message": (Kind.VIDEO, "[video message]"),
    "video_file": (Kind.VIDEO, "[video]"),
    "audio_file": (Kind.FILE, "[audio]"),
}


_MEDIA_KEYS = frozenset({
    "photo", "media_type", "file", "contact_information", "contact_vcard", "location_information", "place_name",
    "poll", "invoice_information", "paid_stars_amount", "game_title", "giveaway_information", "giveaway_results",
    "todo_list"})
_NO_TEXT = object()


def media_kind(m: dict) -> tuple[Kind, str] | None:
    """Kind and placeholder of a media message, None for plain text."""
    if "photo" in m:
        return Kind.IMAGE, "[photo]"
    media_type = m.get("media_type")
    if media_type is not None:
        kind, placeholder = _MEDIA_TYPES.get(media_type, (Kind.FILE, "[file]"))
        emoji = m.get("sticker_emoji")
        if kind is Kind.STICKER and isinstance(emoji, str) and emoji:
            placeholder = f"[sticker {emoji}]"
        return kind, placeholder
    if "file" in m:
        return Kind.FILE, "[file]"
    if "contact_information" in m or "contact_vcard" in m:
        return Kind.CARD, "[contact]"
    if "location_information" in m or "place_name" in m:
        return Kind.LOCATION, "[location]"
    if "poll" in m:
        poll = m["poll"]
        question = join_text(poll.get("question")) if isinstance(poll, dict) else ""
        return Kind.OTHER, f"[poll] {question}".rstrip()
    if "invoice_information" in m or "paid_stars_amount" in m:
        return Kind.MONEY, "[payment]"
    if "game_title" in m:
        return Kind.OTHER, "[game]"
    if "giveaway_information" in m or "giveaway_results" in m:
        return Kind.OTHER, "[giveaway]"
    if "todo_list" in m:
        return Kind.OTHER, "[to-do list]"
    return None


# --- me -------------------------------------------------------------------------------------------------------
def _matches_me(name: str, pid: str | None, me: frozenset[str]) -> bool:
    return name in me or (pid is not None and (pid in me or _bare(pid) in me))


def _senders(messages: list) -> dict[str, set[str]]:
    """from_id/actor_id → every display name it had (people rename themselves), for the senders of a chat."""
    out: dict[str, set[str]] = {}
    for m in messages:
        if isinstance(m, dict):
            pid = peer_id(m.get("from_id", m.get("actor_id")))
            if pid is not None:
                name = m.get("from", m.get("actor"))
                out.setdefault(pid, set()).add(name if isinstance(name, str) and name else DELETED)
    return out


def _sender_ids(messages: list) -> set[str]:
    """The normalised sender ids of a chat (a cheap pass: no names)."""
    raw = {m.get("from_id", m.get("actor_id")) for m in messages if isinstance(m, dict)}
    return {pid for pid in map(peer_id, raw) if pid is not None}


def me_ids(chat: dict, messages: list, my_id: str | None, me: frozenset[str]) -> frozenset[str] | None:
    """The sender ids that are me in this chat, or None if every message is mine (saved messages).

    Uses the export's own facts first: the account owner's id (whole export), then the peer's id (a one-to-one
    chat's id is the other person). Only without those does ``me`` (names/ids given by the user) decide.
    """
    ctype = chat.get("type")
    if ctype == "saved_messages":
        return None
    if my_id is not None:
        return frozenset({my_id})
    chat_id = chat.get("id")
    if ctype in _PEER_CHAT_TYPES and chat_id is not None:
        peer = f"user{_bare(str(chat_id))}"
        ids = _sender_ids(messages)
        if peer in ids:
            return frozenset(ids - {peer})
    senders = _senders(messages)
    mine = frozenset(pid for pid, names in senders.items() if any(_matches_me(n, pid, me) for n in names))
    if mine or ctype not in _PEER_CHAT_TYPES:
        return mine
    # One-to-one chat whose id matches no sender (anonymised or edited exports): the chat is named after the peer.
    chat_name = chat.get("name")
    if isinstance(chat_name, str) and chat_name:
        peers = {pid for pid, names in senders.items()
                 if any(n == chat_name or n.startswith(chat_name + " ") for n in names)}
        if peers:
            return frozenset(senders) - peers
    return frozenset()


# --- parsing --------------------------------------------------------------------------------------------------
def _chats(path: Path, data: object) -> tuple[list[dict], str | None]:
    """The chat objects in document order, and the account owner's id when the export has one."""
    if not isinstance(data, dict):
        raise ExportError(path, 1, "not a Telegram export: the top level is not a JSON object")
    if "messages" in data:
        if not isinstance(data["messages"], list):
            raise ExportError(path, None, "not a Telegram export: 'messages' is not a list")
        return [data], None
    if not any(k in data for k in ("chats", "left_chats", "personal_information")):
        raise ExportError(path, 1, "not a Telegram export: no 'messages', 'chats' or 'personal_information'")
    info = data.get("personal_information")
    user_id = info.get("user_id") if isinstance(info, dict) else None
    my_id = f"user{_bare(str(user_id))}" if user_id not in (None, "") else None
    chats = []
    for key, section in data.items():  # dicts keep document order, which the line numbering relies on
        if key in ("chats", "left_chats") and isinstance(section, dict) and isinstance(section.get("list"), list):
            chats.extend(section["list"])
    return chats, my_id


def parse(path: Path, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    raw = read_text(path)
    data = load(path, raw)
    chats, my_id = _chats(path, data)
    lines = _Lines(message_lines(raw))
    del raw, data  # the chats keep what we need; the text can go before the messages are built
    for chat in chats:
        if not isinstance(chat, dict) or not isinstance(chat.get("messages"), list):
            log.skip(path, None, "telegram: chat without a message list")
            continue
        yield from _parse_chat(path, log, me, chat, my_id, lines)


def _parse_chat(path: Path, log: ParseLog, me: frozenset[str], chat: dict, my_id: str | None,
                lines: _Lines) -> Iterator[Message]:
    messages: list = chat["messages"]
    ctype = chat.get("type") or ""
    raw_id = chat.get("id")
    name = chat.get("name") or _DEFAULT_NAMES.get(ctype) or str(raw_id or "")
    chat_id = str(raw_id) if raw_id is not None else name
    is_group = ctype in GROUP_TYPES
    mine = me_ids(chat, messages, my_id, me)
    texts: dict[object, str] = {}  # message id → text, for replies (a reply always follows what it answers)
    prefix = f"{path}:"
    take, fromiso, no_media = lines.take, datetime.fromisoformat, _MEDIA_KEYS.isdisjoint
    for m in messages:
        if type(m) is not dict:
            log.skip(path, None, "telegram: message is not an object")
            continue
        msg_id = m.get("id")
        line = take(msg_id)
        mtype = m.get("type")
        if mtype != "message" and mtype != "service":
            log.skip(path, line, "telegram: unsupported message" if mtype == "unsupported"
                     else "telegram: unknown message type")
            continue
        try:  # the common case inline; anything unusual goes through message_time
            time = fromiso(m["date"])
        except (KeyError, ValueError, TypeError, OverflowError, OSError):
            parsed = message_time(m)
            if parsed is None:
                log.skip(path, line, "telegram: bad date")
                continue
            time = parsed
        text = m.get("text", _NO_TEXT)
        if type(text) is not str:
            text = join_text(text) if text is not _NO_TEXT else join_text(m.get("text_entities"))
        if mtype == "service":
            kind = Kind.SYSTEM
            sender, pid = m.get("actor"), m.get("actor_id")
            if not text:
                action = m.get("action")
                text = f"[{action}]" if isinstance(action, str) and action else "[service message]"
        else:
            sender, pid = m.get("from"), m.get("from_id")
            media = None if no_media(m) else media_kind(m)
            if media is not None:
                kind = media[0]
                text = text or media[1]
            elif text:
                kind = Kind.TEXT
            else:
                kind, text = Kind.OTHER, "[empty message]"
        if type(pid) is not str or not pid:  # old exports: bare numbers; "" is no id
            pid = peer_id(pid)
        if type(sender) is not str or not sender:
            sender = DELETED
        by_owner = True if mine is None else (pid in mine if pid is not None else _matches_me(sender, None, me))
        quote = None
        reply_to = m.get("reply_to_message_id")
        if reply_to is not None and _same_chat(m.get("reply_to_peer_id"), raw_id):
            quote = texts.get(reply_to)
        texts[msg_id] = text
        yield Message(chat_id, name, is_group, sender, by_owner, time, kind, text, quote, pid,
                      f"{prefix}{line}" if line else str(path))


def _same_chat(reply_peer: object, chat_id: object) -> bool:
    """reply_to_peer_id marks a reply to a message of another chat, whose text this file may not have."""
    if reply_peer is None:
        return True
    return chat_id is not None and _bare(str(reply_peer)) == _bare(str(chat_id))


FORMAT = SimpleFormat("telegram", sniff, parse)
