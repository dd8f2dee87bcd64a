"""The neutral message record every export parser produces."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    STICKER = "sticker"
    VOICE = "voice"
    VIDEO = "video"
    FILE = "file"
    LINK = "link"
    LOCATION = "location"
    CALL = "call"
    CARD = "card"          # contact / channel cards
    MONEY = "money"        # transfers, red packets
    SYSTEM = "system"      # notices: joins, pats, recalls, "you are now friends"
    RECALL = "recall"
    FORWARD = "forward"    # a forwarded chat-history bundle (its contents are not the chat's messages)
    OTHER = "other"


@dataclass(slots=True)
class Message:
    chat_id: str            # stable within one export: folder name, talker wxid, Telegram chat id, ...
    chat_name: str          # display name of the chat
    is_group: bool
    sender: str             # display name as the export shows it (may be a raw wxid)
    by_owner: bool          # the owner (the person cloned) wrote it; `is_me` in the neutral format
    time: datetime          # naive local time unless the export carries an absolute one
    kind: Kind
    text: str               # for non-text kinds: the placeholder or caption the export shows
    quote: str | None = None    # quoted text of a quote reply
    sender_id: str | None = None
    source: str = ""        # "path:line" where the message starts, for error messages and inspect

    def to_json(self) -> dict:
        return {
            "chat": self.chat_name,
            "chat_id": self.chat_id,
            "is_group": self.is_group,
            "sender": self.sender,
            "sender_id": self.sender_id,
            "is_me": self.by_owner,
            "time": self.time.isoformat(),
            "kind": str(self.kind),
            "text": self.text,
            "quote": self.quote,
            "source": self.source,
        }
