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


def reply_text(decoded: str) -> str:
    """A decoded generation as the owner's turn text."""
    return decoded.strip()


def split_reply(reply: str) -> list[str]:
    """A generated assistant turn as the separate chat messages to send."""
    return [part.strip() for part in reply.split(BURST_SEPARATOR) if part.strip()]


# ---- tokens: the base model's own chat template, used identically for training and serving ----

IGNORE_INDEX = -100


@dataclass(slots=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]           # IGNORE_INDEX except on the owner's tokens (content + end-of-turn token)
    dropped_turns: int = 0      # oldest turns evicted to fit the length budget


def _render(tokenizer, messages: list[dict], generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def assistant_spans(tokenizer, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans the model must learn to write.

    Works with any template, with or without ``{% generation %}`` tags: each assistant turn's span is what rendering
    the conversation up to that turn adds after the generation prompt, up to and including the end-of-turn token.
    """
    text = _render(tokenizer, messages, False)
    eos = tokenizer.eos_token or ""
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prefix = _render(tokenizer, messages[:i], True)
        upto = _render(tokenizer, messages[: i + 1], False)
        if not (upto.startswith(prefix) and text.startswith(upto)):
            raise ValueError("the chat template does not render conversations incrementally; cannot locate "
                             "assistant turns for loss masking")
        end = upto.find(eos, len(prefix)) if eos else -1
        spans.append((len(prefix), end + len(eos) if end >= 0 else len(upto)))
    return text, spans


def _label(tokenizer, text: str, spans: list[tuple[int, int]]) -> Encoded:
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, labels, k = enc["input_ids"], [], 0
    for tok, (start, end) in zip(ids, enc["offset_mapping"]):
        while k < len(spans) and start >= spans[k][1]:
            k += 1
        inside = k < len(spans) and start >= spans[k][0] and end <= spans[k][1] and end > start
        labels.append(tok if inside else IGNORE_INDEX)
    return Encoded(list(ids), labels)


def _drop_oldest_exchange(messages: list[dict]) -> list[dict] | None:
    """Evict the oldest whole user+assistant exchange, keeping the system turn; None if only one is left."""
    head = 1 if messages and messages[0]["role"] == "system" else 0
    body = messages[head:]
    # the first assistant turn after the first user turn ends the oldest exchange
    try:
        cut = next(i for i, m in enumerate(body) if m["role"] == "assistant") + 1
    except StopIteration:
        return None
    while cut < len(body) and body[cut]["role"] != "user":
        cut += 1
    if cut >= len(body):
        return None
    return messages[:head] + body[cut:]


def encode(tokenizer, messages: list[dict], max_len: int) -> Encoded:
    """Tokens and labels for one training sample, at most ``max_len`` tokens.

    Too long: the oldest exchanges go first (the system turn stays, the rest still starts on a user turn); the last
    owner turn is never cut — if it alone does not fit, the prompt before it is cut from the left.
    """
    dropped = 0
    while True:
        text, spans = assistant_spans(tokenizer, messages)
        enc = _label(tokenizer, text, spans)
        if len(enc.input_ids) <= max_len:
            enc.dropped_turns = dropped
            return enc
        shorter = _drop_oldest_exchange(messages)
        if shorter is None:
            enc.input_ids, enc.labels = enc.input_ids[-max_len:], enc.labels[-max_len:]
            enc.dropped_turns = dropped
            return enc
        dropped += len(messages) - len(shorter)
        messages = shorter


def prompt_ids(tokenizer, messages: list[dict], max_len: int) -> tuple[list[int], int]:
    """Serving: the prompt for the next owner turn within ``max_len`` tokens, and how many turns were evicted.

    The same eviction as training: system turn pinned, whole oldest exchanges dropped, starting on a user turn.
    """
    dropped = 0
    while True:
        ids = tokenizer(_render(tokenizer, messages, True), add_special_tokens=False)["input_ids"]
        shorter = _drop_oldest_exchange(messages) if len(ids) > max_len else None
        if shorter is None:
            return list(ids[-max_len:]), dropped
        dropped += len(messages) - len(shorter)
        messages = shorter
