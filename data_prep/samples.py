"""Sessions → training samples in chat-messages form, split into train/dev by session."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from core.chat_format import OWNER, USER, Turn, to_messages
from core.conversation import window_size

from .sessions import Session


@dataclass(slots=True)
class Sample:
    id: str
    chat: str
    is_group: bool
    time: datetime
    session: int  # index into the sorted session list: the unit of the train/dev split
    messages: list[dict[str, str]]

    def to_json(self) -> dict:
        return {"id": self.id, "chat": self.chat, "is_group": self.is_group, "time": self.time.isoformat(),
                "messages": self.messages}


@dataclass
class SampleStats:
    dropped: Counter = field(default_factory=Counter)   # reason -> turns or samples
    per_chat: Counter = field(default_factory=Counter)  # chat name -> samples


def windows(turns: list[Turn], max_turns: int, stats: SampleStats) -> list[list[Turn]]:
    """Cut a session into trainable windows: each starts on a user turn and ends on an owner turn.

    A session the owner opens has no prompt for its first turn: that turn is left out (and counted), as the bot
    only ever answers. Friends' last words with no answer are left out too.
    """
    start = 0
    while start < len(turns) and turns[start].role == OWNER:
        stats.dropped["owner turns opening a conversation (no prompt)"] += 1
        start += 1
    end = len(turns)
    while end > start and turns[end - 1].role == USER:
        end -= 1
    if end <= start:
        stats.dropped["conversations with no owner reply"] += 1
        return []
    body = turns[start:end]
    size = window_size(max_turns)  # the bot shows the model the same windows (Conversation.context)
    return [body[i : i + size] for i in range(0, len(body), size)]


def build_samples(sessions: list[Session], persona: str, max_turns: int, stats: SampleStats) -> list[Sample]:
    sessions = sorted(sessions, key=lambda s: (s.start, s.chat_id))
    out: list[Sample] = []
    seen: set[tuple] = set()
    for idx, s in enumerate(sessions):
        c = s.conversation
        for w, turns in enumerate(windows(c.turns, max_turns, stats)):
            msgs = to_messages(turns, persona, c.chat_name, c.is_group)
            key = tuple((m["role"], m["content"]) for m in msgs)
            if key in seen:
                stats.dropped["duplicate samples"] += 1
                continue
            seen.add(key)
            out.append(Sample(f"{s.chat_id}/{s.start:%Y%m%d%H%M%S}/{w}", c.chat_name, c.is_group, s.start, idx, msgs))
            stats.per_chat[c.chat_name] += 1
    return out


def split(samples: list[Sample], dev_fraction: float) -> tuple[list[Sample], list[Sample]]:
    """Dev = the latest conversations, whole: no conversation appears on both sides."""
    sessions = sorted({s.session for s in samples})
    n_dev = math.ceil(len(sessions) * dev_fraction) if dev_fraction > 0 and len(sessions) > 1 else 0
    dev_ids = set(sessions[len(sessions) - n_dev :]) if n_dev else set()
    return [s for s in samples if s.session not in dev_ids], [s for s in samples if s.session in dev_ids]
