"""Keep what shows how the owner writes; drop and count everything else; mask personal data."""
from __future__ import annotations

import fnmatch
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from core.config import Dataset

from .pii import mask
from .records import Kind, Message

# Chats that are not conversations with people: WeChat system/official accounts, file helpers, Telegram's service.
_SERVICE_IDS = {"filehelper", "weixin", "fmessage", "medianote", "floatbottle", "newsapp", "qqmail", "tmessage",
                "qqsafe", "notifymessage", "777000", "user777000"}
_SERVICE_NAMES = {"文件传输助手", "微信团队", "微信支付", "腾讯新闻", "服务通知", "Telegram", "Saved Messages",
                  "我的电脑", "QQ邮箱提醒"}

# Text that is only a media placeholder (some exporters put these in plain text messages).
_PLACEHOLDER_ONLY = re.compile(
    r"^\s*(?:\[(?:图片|表情|动画表情|视频|语音[^\]]*|文件[^\]]*|链接|位置[^\]]*|红包|名片|Photo|Video|Sticker|Emoji|Audio"
    r"[^\]]*|File[^\]]*|Link|Location[^\]]*)\]|<Media omitted>|<媒体文件已省略>|image omitted|video omitted"
    r"|sticker omitted|audio omitted|GIF omitted)\s*$"
)


@dataclass
class CleanStats:
    kinds: Counter = field(default_factory=Counter)      # every message seen, by kind
    dropped: Counter = field(default_factory=Counter)    # reason -> messages
    pii: Counter = field(default_factory=Counter)        # type -> masked items
    chats_dropped: dict[str, str] = field(default_factory=dict)  # chat name -> reason
    kept: int = 0


def _matches(patterns: list[str], msg: Message) -> bool:
    return any(fnmatch.fnmatchcase(msg.chat_name, p) or fnmatch.fnmatchcase(msg.chat_id, p) for p in patterns)


def chat_rejection(msg: Message, ds: Dataset) -> str | None:
    """Why a whole chat is left out, or None to keep it. Same answer for every message of a chat."""
    if msg.chat_id in _SERVICE_IDS or msg.chat_id.startswith("gh_") or msg.chat_name in _SERVICE_NAMES:
        return "service/official account chat"
    if ds.include_chats and not _matches(ds.include_chats, msg):
        return "chat not in dataset.include_chats"
    if ds.exclude_chats and _matches(ds.exclude_chats, msg):
        return "chat in dataset.exclude_chats"
    if msg.is_group and not ds.groups:
        return "group chat (dataset.groups = false)"
    return None


def clean(messages: Iterable[Message], ds: Dataset, stats: CleanStats) -> Iterator[Message]:
    """Text messages of selected chats, PII masked; each dropped message is counted under its reason."""
    verdicts: dict[str, str | None] = {}
    blocklist = [w.lower() for w in ds.blocklist]
    for msg in messages:
        stats.kinds[msg.kind] += 1
        if msg.chat_id not in verdicts:
            verdicts[msg.chat_id] = reason = chat_rejection(msg, ds)
            if reason:
                stats.chats_dropped[msg.chat_name] = reason
        reason = verdicts[msg.chat_id]
        if reason is None:
            reason = _message_rejection(msg, ds, blocklist)
        if reason:
            stats.dropped[reason] += 1
            continue
        text = msg.text.strip()
        if ds.mask_pii:
            text = mask(text, stats.pii)
        msg.text = text
        stats.kept += 1
        yield msg


def _message_rejection(msg: Message, ds: Dataset, blocklist: list[str]) -> str | None:
    if msg.kind is not Kind.TEXT:
        return f"not text: {msg.kind}"
    text = msg.text.strip()
    if not text:
        return "empty text"
    if not msg.sender and not msg.by_owner:
        return "sender unknown (e.g. a quote reply in a group)"
    if _PLACEHOLDER_ONLY.match(text):
        return "media placeholder only"
    if len(text) > ds.max_message_chars:
        return "longer than dataset.max_message_chars"
    if msg.by_owner and len(text) < ds.min_reply_chars:
        return "owner message shorter than dataset.min_reply_chars"
    if blocklist:
        low = text.lower()
        if any(w in low for w in blocklist):
            return "contains a dataset.blocklist word"
    return None
