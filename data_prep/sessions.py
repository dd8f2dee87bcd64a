"""Messages → conversations, by the rules in core.conversation (the bot applies the same ones to live chats)."""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from core.chat_format import OWNER, USER
from core.conversation import Conversation, Rules, Said, seconds, split

from .records import Message


@dataclass(slots=True)
class Session:
    chat_id: str
    start: datetime  # the first message's time, as exported
    conversation: Conversation


@dataclass
class SessionStats:
    duplicates: int = 0
    trimmed_lines: int = 0
    sessions: Counter = field(default_factory=Counter)  # chat name -> sessions
    messages: Counter = field(default_factory=Counter)  # chat name -> kept messages
    mine: Counter = field(default_factory=Counter)      # chat name -> kept owner messages


def by_chat(messages: Iterable[Message], stats: SessionStats) -> dict[str, list[Message]]:
    """Messages grouped per chat, in time order, exact duplicates (same export read twice) removed."""
    chats: dict[str, list[Message]] = defaultdict(list)
    for m in messages:
        chats[m.chat_id].append(m)
    for chat_id, msgs in chats.items():
        msgs.sort(key=lambda m: m.time)  # stable: equal times keep file order
        seen: set[tuple] = set()
        unique = []
        for m in msgs:
            key = (m.time, m.sender, m.text)
            if key in seen:
                stats.duplicates += 1
                continue
            seen.add(key)
            unique.append(m)
        chats[chat_id] = unique
    return chats


def split_sessions(msgs: list[Message], rules: Rules, stats: SessionStats) -> list[Session]:
    """One chat's messages (time order) as its sessions."""
    if not msgs:
        return []
    first = msgs[0]
    said = [Said(OWNER if m.by_owner else USER, m.sender, m.text, seconds(m.time)) for m in msgs]
    # the first message at each time
    exported = {s.time: m.time for s, m in zip(reversed(said), reversed(msgs), strict=True)}
    sessions = [Session(first.chat_id, exported[c.start], c) for c in split(said, first.chat_name, first.is_group,
                                                                             rules)]
    stats.sessions[first.chat_name] += len(sessions)
    stats.trimmed_lines += sum(s.conversation.trimmed_lines for s in sessions)
    stats.messages[first.chat_name] += len(msgs)
    stats.mine[first.chat_name] += sum(m.by_owner for m in msgs)
    return sessions
