"""The owner's style profile: what evaluation compares the clone's replies against.

``style_stats`` is a pure function over a list of texts, so the same numbers can be computed for the owner's real
messages, for the clone's generated replies and for the base model's.
"""
from __future__ import annotations

import logging
import math
import random
import re
from collections import Counter
from itertools import pairwise

EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u3297\u3299]")
WECHAT_CODE = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,6}\]")
PUNCT = ["~", "～", "!", "！", "?", "？", "…", "...", "。", "，", ",", "哈哈", "😂", "."]
LENGTH_BUCKETS = [0, 3, 6, 10, 15, 20, 30, 50, 80, 10**9]
_WORD = re.compile(r"[\w\u4e00-\u9fff]")
_STYLE_TOKEN = re.compile(f"{WECHAT_CODE.pattern}|{EMOJI.pattern}+")
PROFILE_SAMPLE = 6000  # jieba is slow: catchphrases come from a fixed-seed sample this large


def _is_word(token: str) -> bool:
    """Words, emoji, WeChat codes and the tilde count as style tokens; other punctuation does not."""
    return bool(_WORD.search(token) or EMOJI.search(token)) or token in ("~", "～")


def _percentile(sorted_vals: list[int], q: float) -> float:
    if not sorted_vals:
        return 0.0
    return float(sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))])


def length_histogram(lengths: list[int]) -> list[float]:
    counts = [0] * (len(LENGTH_BUCKETS) - 1)
    for n in lengths:
        for i in range(len(counts)):
            if n < LENGTH_BUCKETS[i + 1]:
                counts[i] += 1
                break
    total = max(1, len(lengths))
    return [c / total for c in counts]


def style_stats(texts: list[str], catchphrases: list[str] | None = None) -> dict:
    n = len(texts)
    lengths = sorted(len(t) for t in texts)
    emoji: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    endings: Counter[str] = Counter()
    with_emoji = with_code = with_phrase = 0
    punct: Counter[str] = Counter()
    for t in texts:
        found = EMOJI.findall(t)
        emoji.update(found)
        with_emoji += bool(found)
        found = WECHAT_CODE.findall(t)
        codes.update(found)
        with_code += bool(found)
        for p in PUNCT:
            if p in t:
                punct[p] += 1
        if t:
            endings[t[-1]] += 1
        if catchphrases and any(c in t for c in catchphrases):
            with_phrase += 1
    share = (lambda c: c / n) if n else (lambda c: 0.0)
    return {
        "messages": n,
        "length": {"mean": sum(lengths) / n if n else 0.0, **{f"p{q}": _percentile(lengths, q / 100)
                                                              for q in (10, 25, 50, 75, 90)}},
        "length_hist": length_histogram(lengths),
        "emoji_rate": share(with_emoji),
        "top_emoji": emoji.most_common(10),
        "wechat_code_rate": share(with_code),
        "top_wechat_codes": codes.most_common(10),
        "punctuation_rate": {p: share(punct[p]) for p in PUNCT},
        "top_endings": [(ch, share(c)) for ch, c in endings.most_common(10)],
        "catchphrase_rate": share(with_phrase),
    }


def catchphrases(mine: list[str], others: list[str], k: int = 20, min_count: int = 5) -> list[tuple[str, float]]:
    """Words and word pairs the owner uses far more than their friends (smoothed log-odds, jieba words)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    rng = random.Random(0)
    mine = rng.sample(mine, min(len(mine), PROFILE_SAMPLE))
    others = rng.sample(others, min(len(others), PROFILE_SAMPLE))

    def words(text: str) -> list[str]:
        # WeChat codes and emoji are single style tokens; jieba would split "[旺柴]" into "[", "旺柴", "]".
        out, pos = [], 0
        for m in _STYLE_TOKEN.finditer(text):
            out += jieba.lcut(text[pos : m.start()])
            out.append(m.group())
            pos = m.end()
        out += jieba.lcut(text[pos:])
        return [w for w in out if w.strip()]

    def grams(texts: list[str]) -> Counter:
        c: Counter = Counter()
        for t in texts:
            ws = words(t)
            c.update(set(ws))
            c.update({a + b for a, b in pairwise(ws) if _is_word(a) and _is_word(b)})
        return c

    a, b = grams(mine), grams(others)
    na, nb = max(1, len(mine)), max(1, len(others))
    scored = []
    for g, ca in a.items():
        if ca < min_count or not _is_word(g) or (g.isascii() and g.isalpha() and len(g) < 3):
            continue
        score = math.log((ca + 0.5) / na) - math.log((b.get(g, 0) + 0.5) / nb)
        scored.append((g, round(score, 3), ca))
    scored.sort(key=lambda x: (-x[1], -x[2], x[0]))
    positive = [(g, sc, n) for g, sc, n in scored if sc > 0]
    out: list[tuple[str, float]] = []
    for g, score, n in positive:
        # prefer the phrase over its part when the part mostly occurs inside it ("冲" inside "冲鸭")
        if any(g != h and g in h and nh >= 0.6 * n for h, _, nh in positive):
            continue
        out.append((g, score))
        if len(out) == k:
            break
    return out

