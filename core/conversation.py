"""What a conversation is: the rules that turn a chat's messages into turns, the same for the dataset (exported
chats, in batch) and the bot (live chats, one message at a time).

Rules, applied by :meth:`Conversation.add` to every message:
- a message is one line of its side's turn (a multi-line message stays one line: its speaker is said once);
- consecutive messages of one side (a friend's burst, the owner's burst; in groups all friends together) form one
  turn;
- a silence longer than ``session_gap_s`` ends the conversation, and so does one side going on after more than
  ``burst_gap_s`` with no answer (the conversation stalled): the message opens a new one;
- a friends' turn keeps its newest ``max_turn_lines`` lines, so busy groups never make giant turns.

What the model is shown before an owner turn (:meth:`Conversation.context`) is the training window that turn falls
in: windows of ``max_turns`` turns, counted from the conversation's first friend turn. Both stages then fit that
window into the same token budget with :func:`core.chat_format.fit`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .chat_format import USER, Line, Turn, normalise_text, to_messages

_EPOCH = datetime(1970, 1, 1)


def seconds(t: datetime) -> float:
    """A message time as seconds, for gaps: aware times absolutely, naive (local) ones as they read."""
    return t.timestamp() if t.tzinfo is not None else (t - _EPOCH).total_seconds()


@dataclass(frozen=True, slots=True)
class Rules:
    burst_gap_s: float
    session_gap_s: float
    max_turn_lines: int
    max_turns: int

    @classmethod
    def from_config(cls, cfg) -> Rules:
        """From a core.config.Config (its dataset settings, which training and serving share)."""
        ds = cfg.dataset
        return cls(ds.burst_gap_s, ds.session_gap_s, ds.max_turn_lines, ds.max_turns)


@dataclass(frozen=True, slots=True)
class Said:
    """One message as a conversation sees it."""

    role: str      # USER (a friend) or OWNER
    speaker: str   # shown in group chats for friends; ignored for the owner
    text: str
    time: float    # seconds (see :func:`seconds`)


@dataclass
class Conversation:
    chat_name: str
    is_group: bool
    start: float
    last: float
    turns: list[Turn] = field(default_factory=list)
    trimmed_lines: int = 0  # friends' lines dropped by max_turn_lines

    @classmethod
    def opened_by(cls, said: Said, chat_name: str, is_group: bool, rules: Rules) -> Conversation:
        conversation = cls(chat_name, is_group, said.time, said.time)
        conversation.add(said, rules)
        return conversation

    def continues_with(self, said: Said, rules: Rules) -> bool:
        gap = said.time - self.last
        if gap > rules.session_gap_s:
            return False
        return not (self.turns and self.turns[-1].role == said.role and gap > rules.burst_gap_s)

    def add(self, said: Said, rules: Rules) -> None:
        """Append a message that continues this conversation (check :meth:`continues_with` first)."""
        line = Line(said.speaker, normalise_text(said.text))
        if not line.text:
            return
        if self.turns and self.turns[-1].role == said.role:
            self.turns[-1].lines.append(line)
        else:
            self.turns.append(Turn(said.role, [line]))
        lines = self.turns[-1].lines
        if said.role == USER and len(lines) > rules.max_turn_lines:
            self.trimmed_lines += len(lines) - rules.max_turn_lines
            del lines[: len(lines) - rules.max_turn_lines]
        self.last = max(self.last, said.time)

    def first_user_turn(self) -> int | None:
        return next((i for i, t in enumerate(self.turns) if t.role == USER), None)

    def context(self, rules: Rules) -> list[Turn]:
        """The turns the next owner turn answers: its training window up to now (empty if no friend spoke)."""
        first = self.first_user_turn()
        if first is None or self.turns[-1].role != USER:
            return []
        size = window_size(rules.max_turns)
        start = first + (len(self.turns) - first) // size * size
        return self.turns[start:]

    def prompt(self, persona: str, rules: Rules) -> list[dict[str, str]]:
        """The chat messages for the next owner turn, before token fitting."""
        return to_messages(self.context(rules), persona, self.chat_name, self.is_group)


def prompt_budget(cfg) -> int:
    """Tokens a prompt may have before an owner turn, in training, eval and serving alike: what training saw at
    most (train.cutoff_len) minus room for the reply (bot.engine.max_new_tokens)."""
    from .config import ConfigError

    budget = cfg.train.cutoff_len - cfg.bot.engine.max_new_tokens
    if budget < 16:
        raise ConfigError(f"{cfg.source}: bot.engine.max_new_tokens: must leave room for the prompt within "
                          f"train.cutoff_len ({cfg.train.cutoff_len})")
    return budget


def trained_prompt_budget(cfg) -> int | None:
    """The budget training fits prompts into: serving's, or None (prompts only within train.cutoff_len) where the
    bot's settings leave it none; serving then refuses to start with prompt_budget's error."""
    from .config import ConfigError

    try:
        return prompt_budget(cfg)
    except ConfigError:
        return None


def window_size(max_turns: int) -> int:
    """Turns per training window: whole friend/owner exchanges."""
    return max(2, max_turns - max_turns % 2)


def split(said: list[Said], chat_name: str, is_group: bool, rules: Rules) -> list[Conversation]:
    """A chat's messages, in time order, as its conversations (the batch path; the bot adds one at a time)."""
    conversations: list[Conversation] = []
    for s in said:
        if conversations and conversations[-1].continues_with(s, rules):
            conversations[-1].add(s, rules)
        else:
            conversations.append(Conversation.opened_by(s, chat_name, is_group, rules))
    return [c for c in conversations if c.turns]
