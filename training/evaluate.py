"""`make eval`: base vs clone on the held-out dev set — perplexity, ROUGE, BLEU and style fidelity.

Every owner turn of every dev sample is a target; its prompt is the conversation before it. Base and clone reply
with the same decoding settings ([eval] in config.toml). Their replies are scored against the owner's real replies
(ROUGE-1/2/L F on jieba words, character BLEU-4) and against the owner's style profile from `make dataset`
(length distribution, emoji / WeChat-code / punctuation / catchphrase rates); the owner's real dev replies get the
same style scores, as the ceiling. Writes eval.json and eval.md next to the adapter.
"""
from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from core.chat_format import BURST_SEPARATOR, IGNORE_INDEX, split_reply
from core.config import Config, ConfigError
from core.conversation import trained_prompt_budget
from data_prep.profile import style_stats
from runtime.decoding import Decoding, generate_replies
from runtime.manifest import reconcile
from runtime.models import adapter_dir, load_for_generation

from .data import encode_file, read_jsonl

PROFILE_CATCHPHRASES = 10  # data_prep.build rates the profile's catchphrase_rate on its top 10 catchphrases
SYSTEMS = ("base", "clone")


@dataclass(frozen=True)
class Target:
    chat: str
    prompt: list[dict]  # the conversation before the owner turn; ends on a user turn
    reply: str          # what the owner really answered


def spread(items: list, n: int) -> list:
    """At most n items, evenly spaced, so every part of the dev set (the latest chat of each friend) is scored."""
    if len(items) <= n:
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]


def dev_targets(rows: list[dict], n: int) -> list[Target]:
    """Up to n (conversation so far, owner reply) pairs, one per owner turn of the dev samples."""
    targets = [Target(r.get("chat", ""), r["messages"][:i], m["content"])
               for r in rows for i, m in enumerate(r["messages"])
               if m["role"] == "assistant" and i and r["messages"][i - 1]["role"] == "user"]
    return spread(targets, n)


# ---- reference metrics: the generated reply against the owner's real one ----

def _ngrams(text: str, n: int) -> Counter:
    return Counter(text[i:i + n] for i in range(len(text) - n + 1))


def char_bleu4(hyps: list[str], refs: list[str]) -> float:
    """Corpus BLEU-4 on characters (whitespace ignored), 0–100. Own implementation: add-one smoothing on the 2- to
    4-gram precisions (as in BLEU+1), because chat replies are short and often share no 4-gram at all."""
    matches, totals = [0] * 4, [0] * 4
    hyp_len = ref_len = 0
    for h, r in zip(hyps, refs, strict=True):
        h, r = "".join(h.split()), "".join(r.split())
        hyp_len, ref_len = hyp_len + len(h), ref_len + len(r)
        for n in range(1, 5):
            matches[n - 1] += sum((_ngrams(h, n) & _ngrams(r, n)).values())
            totals[n - 1] += max(0, len(h) - n + 1)
    if not matches[0]:
        return 0.0
    log_precision = sum(math.log((m + (n > 0)) / (t + (n > 0)))
                        for n, (m, t) in enumerate(zip(matches, totals, strict=True))) / 4
    brevity = min(0.0, 1 - ref_len / hyp_len)
    return 100 * math.exp(log_precision + brevity)


def rouge_f(hyps: list[str], refs: list[str]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F-scores over the replies, on jieba words (rouge_chinese); an empty reply scores 0."""
    import jieba
    from rouge_chinese import Rouge

    jieba.setLogLevel(logging.WARNING)
    rouge = Rouge()
    totals = dict.fromkeys(("rouge_1", "rouge_2", "rouge_l"), 0.0)
    for h, r in zip(hyps, refs, strict=True):
        hw, rw = (" ".join(w for w in jieba.lcut(t) if w.strip()) for t in (h, r))
        if hw and rw:
            scores = rouge.get_scores(hw, rw)[0]
            for key in totals:
                totals[key] += scores[key.replace("_", "-")]["f"]
    return {k: v / len(hyps) for k, v in totals.items()} if hyps else totals


# ---- style fidelity: the replies against the owner's profile ----

def length_distance(hist: list[float], target: list[float]) -> float:
    """Total-variation distance between two length histograms on the same buckets: 0 same, 1 disjoint."""
    return 0.5 * sum(abs(a - b) for a, b in zip(hist, target, strict=True))


def style_fidelity(replies: list[str], profile: dict) -> dict:
    """The profile's statistics for these replies, their distances to the profile, and the style score.

    The profile counts single chat messages, so a reply is split into the messages the bot would send; an empty
    reply counts as one empty message (the owner never sends those)."""
    phrases = [p for p, _ in profile.get("catchphrases", [])[:PROFILE_CATCHPHRASES]]
    messages = [m for r in replies for m in split_reply(r) or [""]]
    s = style_stats(messages, phrases)
    target = profile["punctuation_rate"]
    used = [p for p, rate in s["punctuation_rate"].items() if rate or target.get(p)]
    distances = {
        "length_distance": length_distance(s["length_hist"], profile["length_hist"]),
        "punctuation_distance": (sum(abs(s["punctuation_rate"][p] - target.get(p, 0.0)) for p in used) / len(used)
                                 if used else 0.0),
    }
    gaps = [abs(s[k] - profile[k]) for k in ("emoji_rate", "wechat_code_rate", "catchphrase_rate")]
    return {"messages_per_reply": len(messages) / len(replies) if replies else 0.0,
            "length_p50": s["length"]["p50"], "emoji_rate": s["emoji_rate"],
            "wechat_code_rate": s["wechat_code_rate"], "catchphrase_rate": s["catchphrase_rate"],
            "empty_replies": sum(not r.strip() for r in replies), **distances,
            "style_score": 100 * (1 - (sum(distances.values()) + sum(gaps)) / (len(distances) + len(gaps)))}


# ---- models ----

def perplexity(model, tokenizer, dev: Path, cutoff_len: int, max_samples: int, budget: int | None = None
               ) -> tuple[float | None, int]:
    """exp(mean loss per owner token) over up to max_samples dev samples, encoded exactly as for training.

    One sample per forward pass: no padding to get wrong, and memory stays that of the longest sample."""
    import torch

    rows = spread(encode_file(tokenizer, dev, cutoff_len, budget)[0], max_samples)
    device = next(model.parameters()).device
    nll, tokens = 0.0, 0
    with torch.inference_mode():
        for r in rows:
            ids = torch.tensor([r["input_ids"]], device=device)
            labels = torch.tensor([r["labels"]], device=device)
            n = int((labels[:, 1:] != IGNORE_INDEX).sum())  # the model shifts labels: token t is predicted at t-1
            nll += model(input_ids=ids, labels=labels, use_cache=False).loss.item() * n
            tokens += n
    return (math.exp(nll / tokens) if tokens else None), len(rows)


def generate(model, tokenizer, prompts: list[list[dict]], decoding: Decoding, *, max_prompt_tokens: int,
             batch_size: int, desc: str, progress: bool) -> list[str]:
    """generate_replies batch by batch behind a progress bar, prompts of similar length batched together (less
    padding to compute); replies come back in prompt order."""
    from tqdm import tqdm

    order = sorted(range(len(prompts)), key=lambda i: sum(len(m["content"]) for m in prompts[i]))
    replies = [""] * len(prompts)
    with tqdm(total=len(prompts), desc=desc, unit=" reply", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            out = generate_replies(model, tokenizer, [prompts[i] for i in batch], decoding,
                                   max_prompt_tokens=max_prompt_tokens, batch_size=batch_size)
            for i, reply in zip(batch, out, strict=True):
                replies[i] = reply
            bar.update(len(batch))
    return replies


# ---- the run ----

def evaluate(cfg: Config, *, limit: int | None = None, progress: bool = True) -> dict:
    e = cfg.eval
    data = cfg.path(cfg.dataset.out_dir)
    dev, profile_path = data / "dev.jsonl", data / "profile.json"
    for p in (dev, profile_path):
        if not p.exists():
            raise ConfigError(f"{p} not found: run `make dataset` first")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit {limit}: must be at least 1")
    # the persona prompt and cutoff_len the clone was trained with; prompts render with thinking off
    # (core.chat_format), so a reasoning base answers rather than spending the reply budget on reasoning
    reconcile(cfg, adapter_dir(cfg))
    if e.max_new_tokens >= cfg.train.cutoff_len:
        raise ConfigError(f"{cfg.source}: eval.max_new_tokens: must be below train.cutoff_len "
                          f"({cfg.train.cutoff_len}) to leave room for the prompt")
    n = min(limit or e.max_prompts, e.max_prompts)
    targets = dev_targets(read_jsonl(dev), n)
    if not targets:
        raise ConfigError(f"{dev}: no owner reply to evaluate on (empty dev set); raise dataset.dev_fraction in "
                          f"{cfg.source} or add exports, then run `make dataset`")
    profile = json.loads(profile_path.read_text(encoding="utf-8"))
    decoding = Decoding(max_new_tokens=e.max_new_tokens, temperature=e.temperature, top_p=e.top_p,
                        repetition_penalty=e.repetition_penalty)
    prompts, refs = [t.prompt for t in targets], [t.reply for t in targets]
    # the prompts the bot would send (fitted to its budget), or as long as the reply leaves room for
    trained = trained_prompt_budget(cfg)
    budget = trained or cfg.train.cutoff_len - e.max_new_tokens

    scores: dict[str, dict] = {}
    replies: dict[str, list[str]] = {}
    seconds: dict[str, float] = {}
    ppl_samples = 0
    # The clone first: a missing adapter fails before any time goes into the base. One model in memory at a time.
    for system in ("clone", "base"):
        model, tokenizer = load_for_generation(adapter_dir(cfg), base_only=system == "base", dtype=cfg.model.dtype)
        t0 = time.perf_counter()
        replies[system] = generate(model, tokenizer, prompts, decoding, batch_size=e.batch_size,
                                   max_prompt_tokens=budget,
                                   desc=f"eval {system}", progress=progress)
        seconds[system] = round(time.perf_counter() - t0, 2)
        ppl, ppl_samples = perplexity(model, tokenizer, dev, cfg.train.cutoff_len, n, trained)
        del model
        scores[system] = {"dev_perplexity": ppl, **rouge_f(replies[system], refs),
                          "char_bleu4": char_bleu4(replies[system], refs),
                          **style_fidelity(replies[system], profile)}
    scores = {"base": scores["base"], "clone": scores["clone"], "owner": style_fidelity(refs, profile)}

    result = {
        "prompts": len(targets), "perplexity_samples": ppl_samples, "dev": str(dev),
        "base": cfg.model.base, "adapter": str(cfg.path(cfg.train.output_dir) / "adapter"),
        "decoding": asdict(decoding), "generation_seconds": seconds,
        "profile": {"length_p50": profile["length"]["p50"], "emoji_rate": profile["emoji_rate"],
                    "wechat_code_rate": profile["wechat_code_rate"],
                    "catchphrase_rate": profile["catchphrase_rate"]},
        "systems": {name: {k: _round(v) for k, v in s.items()} for name, s in scores.items()},
        "examples": [{"chat": targets[i].chat,
                      "context": [m for m in targets[i].prompt if m["role"] != "system"][-3:],
                      "owner": refs[i], **{s: replies[s][i] for s in SYSTEMS}}
                     for i in spread(list(range(len(targets))), e.examples)],
    }
    out = cfg.path(cfg.train.output_dir)
    json_path, md_path = out / "eval.json", out / "eval.md"
    json_path.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    md_path.write_text(markdown(result), encoding="utf-8")
    print(summary(result), file=sys.stderr)
    print(f"wrote {md_path}, {json_path}", file=sys.stderr)
    return result


def _round(v):
    return round(v, 4) if isinstance(v, float) else v


# ---- reports ----

# (key, label, which way is better); the owner column has only the style rows, the profile column only the rates
ROWS = (
    ("dev_perplexity", "dev perplexity (owner tokens)", "lower"),
    ("rouge_1", "ROUGE-1 F (jieba words)", "higher"),
    ("rouge_2", "ROUGE-2 F", "higher"),
    ("rouge_l", "ROUGE-L F", "higher"),
    ("char_bleu4", "char BLEU-4 (0–100)", "higher"),
    ("style_score", "style score (0–100)", "higher"),
    ("length_distance", "length distance (TV, 0–1)", "lower"),
    ("length_p50", "median message length (chars)", "≈ profile"),
    ("messages_per_reply", "messages per reply", "≈ owner"),
    ("emoji_rate", "emoji rate", "≈ profile"),
    ("wechat_code_rate", "WeChat-code rate", "≈ profile"),
    ("catchphrase_rate", "catchphrase rate", "≈ profile"),
    ("punctuation_distance", "punctuation distance (0–1)", "lower"),
    ("empty_replies", "empty replies", "lower"),
)
COLUMNS = ("base", "clone", "owner", "profile")


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e6):
        return str(int(v))
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def _cells(result: dict, key: str) -> list[str]:
    return [_fmt(result["systems"][c].get(key) if c != "profile" else result["profile"].get(key)) for c in COLUMNS]


def summary(result: dict) -> str:
    """The compact side-by-side table printed at the end of `make eval`."""
    width = max(len(label) for _, label, _ in ROWS)
    lines = [f"eval on {result['prompts']} held-out owner replies (owner = the real replies, profile = "
             "your style profile)", f"{'':{width}}  " + "".join(f"{c:>10}" for c in COLUMNS)]
    lines += [f"{label:{width}}  " + "".join(f"{c:>10}" for c in _cells(result, key)) for key, label, _ in ROWS]
    return "\n".join(lines)


def _inline(text: str) -> str:
    """One table cell / quote line: bursts shown with ⏎, pipes escaped."""
    return text.replace(BURST_SEPARATOR, " ⏎ ").replace("|", "\\|") if text else "*(empty)*"


def markdown(result: dict) -> str:
    d, s = result["decoding"], result["systems"]
    how = ("greedy" if not d["temperature"] else f"sampling (temperature {d['temperature']}, top_p {d['top_p']}, "
           f"seed {d['seed']})") + f", at most {d['max_new_tokens']} new tokens"
    if d["repetition_penalty"] != 1.0:
        how += f", repetition penalty {d['repetition_penalty']}"
    lines = [
        "# Evaluation: base vs clone", "",
        f"{result['prompts']} held-out owner replies from `{result['dev']}`; base `{result['base']}`, clone = base + "
        f"`{result['adapter']}`. Both systems answer every prompt with the same decoding: {how}.", "",
        f"**Style score** (0–100, higher = closer to your style profile): base **{_fmt(s['base']['style_score'])}**, "
        f"clone **{_fmt(s['clone']['style_score'])}**; your own real dev replies score "
        f"**{_fmt(s['owner']['style_score'])}** (the ceiling).", "",
        "| metric | better | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---:|" * len(COLUMNS),
    ]
    lines += [f"| {label} | {better} | " + " | ".join(_cells(result, key)) + " |" for key, label, better in ROWS]
    lines += [
        "", "Columns: **owner** = your real replies to the same prompts (the upper bound for the style rows), "
        "**profile** = `profile.json` from `make dataset` (all your messages).", "",
        "## What the numbers mean", "",
        f"- **dev perplexity**: exp(mean loss) on your tokens only, over {result['perplexity_samples']} dev samples "
        "encoded exactly as in training (train.cutoff_len).",
        "- **ROUGE-1/2/L F**: word overlap with your real reply, words cut by jieba (rouge_chinese), averaged over "
        "replies; an empty reply scores 0.",
        "- **char BLEU-4**: corpus BLEU on characters, whitespace ignored, own implementation with add-one smoothing "
        "of the 2- to 4-gram precisions (short replies rarely share a 4-gram).",
        "- Style rows count single chat messages, like the profile: a reply is split into the messages the bot "
        "would send (an empty reply counts as one empty message).",
        "- **length distance**: total-variation distance between the message-length histogram and the profile's, "
        "on the profile's buckets (0 = same distribution, 1 = no overlap).",
        "- **emoji / WeChat-code / catchphrase rate**: share of messages with an emoji, a WeChat code such as "
        f"[旺柴], or one of your top {PROFILE_CATCHPHRASES} catchphrases from the profile.",
        "- **punctuation distance**: mean absolute difference of the per-message rates of ~ ！ ？ … ， 哈哈 etc. "
        "against the profile, over the marks either side uses.",
        "- **style score** = 100 × (1 − mean of: length distance, punctuation distance, |emoji rate − profile|, "
        "|WeChat-code rate − profile|, |catchphrase rate − profile|). 100 = indistinguishable from the profile on "
        "these statistics; it says nothing about whether the reply makes sense — read the examples.",
        "", "## Examples", "",
    ]
    names = {"user": "friend", "assistant": "you"}
    for n, ex in enumerate(result["examples"], 1):
        lines += [f"### {n}. {ex['chat']}", ""]
        lines += [f"> **{names.get(m['role'], m['role'])}:** {_inline(m['content'])}  " for m in ex["context"]]
        lines += ["", "| | reply |", "|---|---|", f"| you (real) | {_inline(ex['owner'])} |"]
        lines += [f"| {system} | {_inline(ex[system])} |" for system in SYSTEMS]
        lines.append("")
    return "\n".join(lines)
