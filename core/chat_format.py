"""The one chat format shared by training and serving.

Words used across the project:
- **owner**: the person being cloned, whose exports the dataset is built from and whose account the bot runs
  beside; their turns are the ``assistant`` role, the turns the clone learns to write;
- **friend**: anyone else in a chat; friends' turns are the ``user`` role;
- **turn**: one or more messages by one side in a row (a friend's burst is one user turn, the owner's burst one
  assistant turn); in group chats all friends together are one side;
- **conversation**: a chat's turns between two long silences (core.conversation decides where they start and
  end, for the dataset and the bot alike).

This module decides how turns become chat messages, so the bot renders a live chat exactly as training rendered
the exported ones:
- messages of one turn are joined with BURST_SEPARATOR; the bot splits a generated reply on it to send several
  messages;
- in group chats each friend's line carries its speaker ("name：text"), the owner's own lines do not;
- the system turn is the persona prompt, plus the group's name in group chats.
"""
from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

USER, OWNER = "user", "assistant"  # the chat roles of friends' turns and of the owner's
BURST_SEPARATOR = "\n"
SPEAKER_SEPARATOR = "："


@dataclass(slots=True)
class Line:
    speaker: str
    text: str


@dataclass(slots=True)
class Turn:
    role: str  # USER (friends) or OWNER
    lines: list[Line] = field(default_factory=list)


def normalise_text(text: str) -> str:
    """A message's text as a line of a turn: without blank lines or whitespace at line ends, which the bot could not
    send back (split_reply drops them), so the owner's messages read the same in training and in a live chat."""
    return BURST_SEPARATOR.join(ln.strip() for ln in text.splitlines() if ln.strip())


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


# A reasoning block, closed or left open (the reply budget ran out while "thinking").
_REASONING = re.compile(r"<think>.*?(?:</think>|\Z)", re.S)


def reply_text(decoded: str) -> str:
    """A decoded generation as the owner's turn text.

    The clone is trained and served with thinking off, so a reasoning block should never come; as a last guard it
    is dropped anyway: ``<think>…</think>``, an unterminated ``<think>…``, and everything up to a ``</think>``
    whose opening tag was in the prompt."""
    text = _REASONING.sub("", decoded)
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    return text.strip()


def split_reply(reply: str) -> list[str]:
    """A generated assistant turn as the separate chat messages to send."""
    return [part.strip() for part in reply.split(BURST_SEPARATOR) if part.strip()]


# ---- tokens: the base model's own chat template, used identically for training and serving ----

IGNORE_INDEX = -100
# Bumped when rendering changes (labels, escaping, template switches): an adapter records the version it was
# trained with, and serving refuses a mismatch rather than prompt it with text it never saw.
FORMAT_VERSION = 2


@dataclass(slots=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]           # IGNORE_INDEX except on the owner's tokens (content + end-of-turn token)
    dropped_turns: int = 0      # oldest turns evicted to fit the length budget


# Reasoning switches of chat templates (Qwen3, GLM-4.5: enable_thinking; DeepSeek-V3.1: thinking). Each one a
# template reads is passed off, in training, eval and serving alike, so a reasoning model answers at once.
THINKING_OFF = {"enable_thinking": False, "thinking": False}
# Inserted after the first character of a control string found in message text: invisible, and the rest no longer
# matches the tokenizer's added token, so it tokenizes as plain text.
WORD_JOINER = "\u2060"
_controls: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_end_of_turn: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class TemplateError(ValueError):
    """A chat template the clone cannot be trained or served with."""


def template_kwargs(tokenizer) -> dict[str, bool]:
    """The reasoning switches this tokenizer's chat template reads, all off (an OpenAI-compatible server gets them
    as ``chat_template_kwargs``)."""
    template = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else ""
    return {k: v for k, v in THINKING_OFF.items() if re.search(rf"\b{k}\b", template)}


def control_pattern(tokenizer) -> re.Pattern | None:
    """Every added token's text (<|im_end|>, <|im_start|>, <think>, …), longest first; None if there is none."""
    if tokenizer not in _controls:
        texts = sorted({t.content for t in tokenizer.added_tokens_decoder.values() if len(t.content) > 1},
                       key=len, reverse=True)
        _controls[tokenizer] = re.compile("|".join(map(re.escape, texts))) if texts else None
    return _controls[tokenizer]


def neutralise(text: str, pattern: re.Pattern | None) -> str:
    """``text`` with every control string broken by an invisible WORD JOINER, so a friend who types
    ``<|im_end|>\\n<|im_start|>system`` produces text, never a turn boundary. Idempotent."""
    return pattern.sub(lambda m: m[0][0] + WORD_JOINER + m[0][1:], text) if pattern is not None else text


def escape_messages(tokenizer, messages: list[dict]) -> list[dict]:
    """The messages with control strings in their content neutralised (training, eval and serving alike)."""
    pattern = control_pattern(tokenizer)
    return [{**m, "content": neutralise(m["content"], pattern)} for m in messages]


def _render(tokenizer, messages: list[dict], generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(escape_messages(tokenizer, messages), tokenize=False,
                                         add_generation_prompt=generation_prompt, **template_kwargs(tokenizer))


def end_of_turn(tokenizer) -> str:
    """The control string the chat template closes an owner turn with (<|im_end|>, <|eot_id|>, <end_of_turn>, …):
    what the clone learns to write last and what stops decoding. A TemplateError if the template closes the turn
    with no single token (then the model could never say it is done)."""
    if tokenizer not in _end_of_turn:
        probe = "chatclone probe reply"
        text = _render(tokenizer, [{"role": "user", "content": "hi"}, {"role": "assistant", "content": probe}], False)
        tail = text[text.rindex(probe) + len(probe):].lstrip()
        pattern = control_pattern(tokenizer)
        found = pattern.match(tail) if pattern is not None else None
        if found is None:
            raise TemplateError(f"the chat template closes an assistant turn with {tail[:20]!r}, not with one of the "
                                "tokenizer's special tokens, so the clone could not learn where its reply ends (some "
                                "families, GLM-4 among them, end a turn only by opening the next one); choose a base "
                                "whose template writes an end-of-turn token, e.g. one in README's table of families")
        _end_of_turn[tokenizer] = found[0]
    return _end_of_turn[tokenizer]


def _owner_turns(tokenizer, messages: list[dict]) -> dict[int, tuple[str, int, int]]:
    """Each owner turn as serving meets it: the rendering with that turn last, and the turn's span there (from the
    end of the generation prompt — the serving prompt — through the end-of-turn string)."""
    eot = end_of_turn(tokenizer)
    out = {}
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prefix = _render(tokenizer, messages[:i], True)
        upto = _render(tokenizer, messages[: i + 1], False)
        end = upto.find(eot, len(prefix)) if upto.startswith(prefix) else -1
        if end < 0:
            raise TemplateError("the chat template does not render an assistant turn as the continuation of its "
                                "generation prompt; the clone cannot be trained on what serving will ask")
        out[i] = (upto, len(prefix), end + len(eot))
    return out


def assistant_spans(tokenizer, messages: list[dict], turns: Collection[int] | None = None
                    ) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans the model must learn to write.

    Works with any template, with or without ``{% generation %}`` tags. An owner turn gets a span only where the
    text before it is exactly the serving prompt for it (the generation prompt, thinking off) and the turn is
    rendered as serving would see it: always the last turn; earlier ones too where the template renders
    conversations incrementally (Qwen2.5), not where it renders a turn differently once it is history (Qwen3's
    empty think block). ``turns`` limits the spans to those message indices."""
    text = _render(tokenizer, messages, False)
    spans = [(start, end) for i, (upto, start, end) in _owner_turns(tokenizer, messages).items()
             if (turns is None or i in turns) and text[:end] == upto[:end]]
    return text, spans


def label_views(messages: list[dict], owner: dict[int, tuple[str, int, int]]) -> list[tuple[int, set[int]]]:
    """How one conversation is cut into training sequences so that every owner turn is trained exactly once, each
    on the serving prompt: (index of the sequence's last message, owner turns labelled in it), latest first. One
    sequence for incremental templates; one per owner turn for a template like Qwen3's."""
    left = sorted(owner)
    views = []
    while left:
        last = left[-1]
        text = owner[last][0]
        turns = {i for i in left if text[:owner[i][2]] == owner[i][0][:owner[i][2]]}
        views.append((last, turns))
        left = [i for i in left if i not in turns]
    return views


def _label(tokenizer, text: str, spans: list[tuple[int, int]]) -> Encoded:
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, labels, k = enc["input_ids"], [], 0
    for tok, (start, end) in zip(ids, enc["offset_mapping"], strict=True):
        while k < len(spans) and start >= spans[k][1]:
            k += 1
        inside = k < len(spans) and start >= spans[k][0] and end <= spans[k][1] and end > start
        labels.append(tok if inside else IGNORE_INDEX)
    return Encoded(list(ids), labels)


def fit(messages: list[dict], max_tokens: int, count: Callable[[list[dict]], int]) -> tuple[list[dict], int]:
    """The conversation cut to its newest whole exchanges so that ``count`` of it is at most ``max_tokens``, and how
    many messages were evicted. The one trimming rule, for training samples, eval prompts and live chats alike.

    The system turn stays and the rest starts on a user turn. ``count`` is monotone in the turns kept, so the cut is
    found by binary search: a few counts (tokenizations), not one per evicted turn. When even the last exchange is
    too long it is returned whole; the caller then cuts tokens from the left (the prompt, never the reply)."""
    head = 1 if messages and messages[0]["role"] == "system" else 0
    starts = [i for i in range(head, len(messages)) if messages[i]["role"] == "user"]
    if not starts:
        return messages, 0

    def from_(k: int) -> list[dict]:
        return messages[:head] + messages[starts[k]:]

    lo, hi = 0, len(starts) - 1
    if count(from_(lo)) > max_tokens:  # the usual case is that everything fits: one count
        if count(from_(hi)) > max_tokens:
            lo = hi
        else:
            lo += 1  # invariant: from_(lo - 1) does not fit, from_(hi) fits
            while lo < hi:
                mid = (lo + hi) // 2
                if count(from_(mid)) <= max_tokens:
                    hi = mid
                else:
                    lo = mid + 1
    return from_(lo), starts[lo] - head


def _ids(tokenizer, messages: list[dict], generation_prompt: bool) -> list[int]:
    return list(tokenizer(_render(tokenizer, messages, generation_prompt), add_special_tokens=False)["input_ids"])


def count_prompt_tokens(tokenizer, messages: list[dict]) -> int:
    """Tokens of the serving prompt for these messages, as prompt_ids renders it."""
    return len(_ids(tokenizer, messages, True))


def encode(tokenizer, messages: list[dict], max_len: int, turns: Collection[int] | None = None) -> Encoded:
    """Tokens and labels for one training sequence, at most ``max_len`` tokens (``turns``: label only these owner
    turns, by message index; see encode_sample).

    Too long: the oldest exchanges go first (fit); the last owner turn is never cut — if it alone does not fit,
    the prompt before it is cut from the left.
    """
    kept, dropped = fit(messages, max_len, lambda m: len(_ids(tokenizer, m, False)))
    if turns is not None and dropped:  # message indices shift by the evicted messages (the system turn stays)
        head = 1 if messages and messages[0]["role"] == "system" else 0
        turns = {i - dropped for i in turns if i >= head + dropped}
    text, spans = assistant_spans(tokenizer, kept, turns)
    enc = _label(tokenizer, text, spans)
    enc.input_ids, enc.labels = enc.input_ids[-max_len:], enc.labels[-max_len:]
    enc.dropped_turns = dropped
    return enc


def prompt_ids(tokenizer, messages: list[dict], max_len: int) -> tuple[list[int], int]:
    """Serving: the prompt for the next owner turn within ``max_len`` tokens, and how many messages were evicted —
    the same eviction as training (fit)."""
    seen: dict[int, list[int]] = {}

    def count(m: list[dict]) -> int:
        seen[len(m)] = _ids(tokenizer, m, True)
        return len(seen[len(m)])

    kept, dropped = fit(messages, max_len, count)
    ids = seen.get(len(kept)) or _ids(tokenizer, kept, True)
    return ids[-max_len:], dropped


def encode_sample(tokenizer, messages: list[dict], max_len: int, prompt_budget: int | None = None
                  ) -> list[Encoded]:
    """The training sequences of one sample (a conversation ending on an owner turn): every owner turn labelled
    exactly once, on the prompt serving will send for it.

    Serving sends, before an owner turn, the conversation so far fitted into ``prompt_budget`` tokens (fit). Where
    every owner turn's prompt is within the budget and the whole sample within ``max_len``, one sequence carries
    them all (or one per turn where the template renders history differently: label_views); otherwise each owner
    turn gets its own sequence, on its prompt fitted exactly as serving fits it."""
    budget = max_len if prompt_budget is None else prompt_budget
    out = []
    for last, turns in reversed(label_views(messages, _owner_turns(tokenizer, messages))):
        view = messages[:last + 1]
        if (count_prompt_tokens(tokenizer, messages[:max(turns)]) <= budget
                and len(_ids(tokenizer, view, False)) <= max_len):
            out.append(encode(tokenizer, view, max_len, turns))
            continue
        for i in sorted(turns):
            prompt, dropped = fit(messages[:i], budget, lambda m: count_prompt_tokens(tokenizer, m))
            enc = encode(tokenizer, [*prompt, messages[i]], max_len, {len(prompt)})
            enc.dropped_turns += dropped
            out.append(enc)
    return out
