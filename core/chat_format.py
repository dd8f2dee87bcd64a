"""The one chat format shared by training and serving.

A conversation is a list of turns; a turn is one or more messages by one side (a friend's burst is one user turn,
the owner's burst one assistant turn). This module decides how turns become chat messages, so the bot renders a live
chat exactly as training rendered the exported ones:
- messages of one turn are joined with BURST_SEPARATOR; the bot splits a generated reply on it to send several
  messages;
- in group chats each user-turn line carries its speaker ("name：text"), the owner's own lines do not;
- the system turn is the persona prompt, plus the group's name in group chats.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

BURST_SEPARATOR = "\n"
SPEAKER_SEPARATOR = "："


@dataclass(slots=True)
class Line:
    speaker: str
    text: str


@dataclass(slots=True)
class Turn:
    role: str  # "user" (friends) or "assistant" (the owner)
    lines: list[Line] = field(default_factory=list)


def render_turn(turn: Turn, is_group: bool) -> str:
    if turn.role == "user" and is_group:
        return BURST_SEPARATOR.join(f"{ln.speaker}{SPEAKER_SEPARATOR}{ln.text}" for ln in turn.lines)
    return BURST_SEPARATOR.join(ln.text for ln in turn.lines)


def system_prompt(persona: str, chat_name: str, is_group: bool) -> str:
    if is_group:
        return f"{persona}\n（群聊：{chat_name}）" if persona else f"（群聊：{chat_name}）"
    return persona


def to_messages(turns: Sequence[Turn], persona: str, chat_name: str, is_group: bool) -> list[dict[str, str]]:
    """Chat-messages form: an optional system turn, then the turns in order."""
    msgs = []
    system = system_prompt(persona, chat_name, is_group)
    if system:
        msgs.append({"role": "system", "content": system})
    msgs.extend({"role": t.role, "content": render_turn(t, is_group)} for t in turns)
    return msgs


def split_reply(reply: str) -> list[str]:
    """A generated assistant turn as the separate chat messages to send."""
    return [part.strip() for part in reply.split(BURST_SEPARATOR) if part.strip()]
