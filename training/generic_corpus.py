"""Deterministic generic small-talk corpus (Chinese + English) for pretraining the embedded tiny base.

The lines live in generic_corpus.toml beside this module; this module draws conversations from them. The assistant
side is deliberately plain and neutral: it never uses the sample persona's style markers (scripts/persona.toml;
tests/test_sample.py checks every line), so a later test can tell the base model (rarely produces them) from a
fine-tuned clone (often does). Stdlib only; the same seed always gives the same conversations.
"""
from __future__ import annotations

import random
import tomllib
from collections.abc import Iterator
from pathlib import Path

DATA = Path(__file__).with_name("generic_corpus.toml")

Exchange = tuple[tuple[str, ...], tuple[str, ...]]  # (user variants, assistant variants)
Topics = dict[str, tuple[list[Exchange], list[Exchange]]]  # topic -> (openers, follow-ups)


def _exchanges(items: list[dict]) -> list[Exchange]:
    return [(tuple(x["user"]), tuple(x["assistant"])) for x in items]


def _load(path: Path = DATA) -> dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]], Topics]]:
    """language -> (leads, slots, topics), in the file's order (the order the random draws depend on)."""
    with path.open("rb") as f:
        raw = tomllib.load(f)
    out = {}
    for lang, table in raw.items():
        topics: Topics = {name: (_exchanges(parts["openers"]), _exchanges(parts["follow_ups"]))
                          for name, parts in table["topics"].items()}
        out[lang] = (tuple(table["leads"]), {k: tuple(v) for k, v in table["slots"].items()}, topics)
    return out


_CORPUS = _load()
_ZH_LEADS, ZH_SLOTS, ZH = _CORPUS["zh"]
_EN_LEADS, EN_SLOTS, EN = _CORPUS["en"]

TOPICS: tuple[str, ...] = tuple(ZH)
assert tuple(EN) == TOPICS, "generic_corpus.toml: zh and en must have the same topics in the same order"


def _fill(template: str, slots: dict[str, str]) -> str:
    text = template.format(**slots)
    # English templates start some sentences with a slot ("{subject}, about…"): capitalise the first letter.
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def _vary(rng: random.Random, lang: str, text: str) -> str:
    """Small surface changes to a user turn (a lead-in word, a softer question ending, no final mark)."""
    r = rng.random()
    if r < 0.2:
        if lang == "zh":
            return rng.choice(_ZH_LEADS) + text
        return rng.choice(_EN_LEADS) + (text[:1].lower() + text[1:] if not text.startswith("I ") else text)
    if r < 0.3 and lang == "zh" and text.endswith("吗？"):
        return text[:-1] + "呀？"
    if r < 0.4 and text[-1:] in "？?。.!！":
        return text[:-1]
    return text


def _conversation(rng: random.Random, lang: str, topic: str) -> list[dict[str, str]]:
    table, slot_values = (ZH, ZH_SLOTS) if lang == "zh" else (EN, EN_SLOTS)
    slots = {k: rng.choice(v) for k, v in slot_values.items()}
    openers, follow_ups = table[topic]
    n = rng.choices((1, 2, 3), weights=(4, 4, 3))[0]
    exchanges = [rng.choice(openers)] + rng.sample(follow_ups, min(n - 1, len(follow_ups)))
    if topic != "greetings" and rng.random() < 0.15:  # sometimes a hello first, as real chats do
        exchanges = [rng.choice(table["greetings"][0])] + exchanges[:2]
    conv: list[dict[str, str]] = []
    for users, replies in exchanges:
        conv.append({"role": "user", "content": _vary(rng, lang, _fill(rng.choice(users), slots))})
        conv.append({"role": "assistant", "content": _fill(rng.choice(replies), slots)})
    return conv


def generic_conversations(n: int = 3000, seed: int = 0) -> list[list[dict[str, str]]]:
    """`n` small-talk conversations (half Chinese, half English), 1-3 user/assistant exchanges each."""
    rng = random.Random(seed)
    return [_conversation(rng, rng.choice(("zh", "en")), rng.choice(TOPICS)) for _ in range(n)]


def template_texts() -> Iterator[str]:
    """Every line and slot value in the corpus, for checks over the data."""
    for leads, slots, topics in _CORPUS.values():
        yield from leads
        for values in slots.values():
            yield from values
        for openers, follow_ups in topics.values():
            for users, replies in openers + follow_ups:
                yield from users + replies
