"""Messages → conversations (sessions) of alternating turns.

Rules, mirrored by the bot on live chats:
- a silence longer than ``session_gap_s`` starts a new session;
- consecutive messages of one side (a friend's burst, the owner's burst; in groups all friends together) form one
  turn; if that side goes on after more than ``burst_gap_s`` with no answer, the conversation stalled and the new
  message opens a new session;
- a user turn keeps at most ``max_turn_lines`` lines (the newest), so busy group chats do not make giant prompts.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from core.chat_format import Line, Turn

from .records import Message


@dataclass(slots=True)
class Session:
    chat_id: str
    chat_name: str
    is_group: bool
    start: datetime
    turns: list[Turn] = field(default_factory=list)


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


def split_sessions(msgs: list[Message], burst_gap_s: int, session_gap_s: int, max_turn_lines: int,
                   stats: SessionStats) -> list[Session]:
    sessions: list[Session] = []
    cur: Session | None = None
    last_time: datetime | None = None
    for m in msgs:
        role = "assistant" if m.is_me else "user"
        gap = (m.time - last_time).total_seconds() if last_time else None
        same_side = cur is not None and cur.turns[-1].role == role
        if cur is None or gap > session_gap_s or (same_side and gap > burst_gap_s):
            cur = Session(m.chat_id, m.chat_name, m.is_group, m.time)
            sessions.append(cur)
            same_side = False
        if not same_side:
            cur.turns.append(Turn(role))
        cur.turns[-1].lines.append(Line(m.sender, m.text))
        last_time = m.time
        stats.messages[m.chat_name] += 1
        stats.mine[m.chat_name] += m.is_me
    for s in sessions:
        for t in s.turns:
            if t.role == "user" and len(t.lines) > max_turn_lines:
                stats.trimmed_lines += len(t.lines) - max_turn_lines
                del t.lines[: len(t.lines) - max_turn_lines]
        stats.sessions[s.chat_name] += 1
    return sessions
