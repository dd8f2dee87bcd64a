"""`make eval`: base vs clone on the held-out dev set — perplexity, ROUGE, BLEU and style fidelity.

Every owner turn of every dev sample is a target; its prompt is the conversation before it. Base and clone reply
with the same decoding settings, and their replies are scored against the owner's real replies (ROUGE-1/2/L on
jieba words, character BLEU-4) and against the owner's style profile from `make dataset` (length distribution,
emoji / WeChat-code / punctuation rates, catchphrase rate). Writes eval.json and eval.md next to the adapter.
"""
from __future__ import annotations

import json
import math
import sys
from collections import Counter
from pathlib import Path

from core.config import Config, ConfigError
from core.generation import Decoding, generate_replies
from data_prep.profile import style_stats

from .base import base_path, load_clone, load_model, load_tokenizer
from .data import encode_file, read_jsonl

MAX_PROMPTS = 200
EXAMPLES = 8


def dev_prompts(rows: list[dict], limit: int) -> list[tuple[list[dict], str]]:
    """(conversation up to an owner turn, that owner turn) for every owner turn in the dev samples."""
    pairs = [(r["messages"][:i], m["content"]) for r in rows for i, m in enumerate(r["messages"])
             if m["role"] == "assistant"]
    return pairs[:limit]


def char_bleu4(hyps: list[str], refs: list[str]) -> float:
    """Corpus BLEU-4 over characters (add-one smoothing for n > 1), 0-100."""
    match, total = [0] * 4, [0] * 4
    hyp_len = ref_len = 0
    for h, r in zip(hyps, refs):
        h, r = h.replace(" ", ""), r.replace(" ", "")
        hyp_len, ref_len = hyp_len + len(h), ref_len + len(r)
        for n in range(4):
            hn = Counter(h[i:i + n + 1] for i in range(len(h) - n))
            rn = Counter(r[i:i + n + 1] for i in range(len(r) - n))
            match[n] += sum((hn & rn).values())
            total[n] += max(0, len(h) - n)
    if not hyp_len or not match[0]:
        return 0.0
    logp = sum(math.log((match[n] + (n > 0)) / (total[n] + (n > 0))) for n in range(4)) / 4
    brevity = min(0.0, 1 - ref_len / hyp_len)
    return 100 * math.exp(logp + brevity)


def rouge_words(hyps: list[str], refs: list[str]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F-scores on jieba words (rouge_chinese); an empty reply scores 0."""
    import jieba
    from rouge_chinese import Rouge

    jieba.setLogLevel(60)
    scores = {"rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0}
    rouge = Rouge()
    for h, r in zip(hyps, refs):
        hw, rw = " ".join(jieba.lcut(h.strip())), " ".join(jieba.lcut(r.strip()))
        if not hw.strip() or not rw.strip():
            continue
        s = rouge.get_scores(hw, rw)[0]
        for k in scores:
            scores[k] += s[k]["f"]
    return {k: v / len(hyps) for k, v in scores.items()} if hyps else scores


def length_distance(hist_a: list[float], hist_b: list[float]) -> float:
    """Total-variation distance between two length histograms on the profile's buckets (0 same, 1 disjoint)."""
    return 0.5 * sum(abs(a - b) for a, b in zip(hist_a, hist_b))


def style_report(replies: list[str], profile: dict) -> dict:
    phrases = [p for p, _ in profile.get("catchphrases", [])]
    s = style_stats(replies, phrases)
    return {"length_p50": s["length"]["p50"], "length_distance": length_distance(s["length_hist"],
                                                                                 profile["length_hist"]),
            "emoji_rate": s["emoji_rate"], "wechat_code_rate": s["wechat_code_rate"],
            "catchphrase_rate": s["catchphrase_rate"],
            "punctuation_distance": sum(abs(s["punctuation_rate"][p] - profile["punctuation_rate"].get(p, 0.0))
                                        for p in s["punctuation_rate"]) / len(s["punctuation_rate"]),
            "empty_replies": sum(not r.strip() for r in replies)}


def _perplexity(model, tokenizer, dev: Path, cutoff: int) -> float:
    import torch

    rows, _ = encode_file(tokenizer, dev, cutoff)
    nll = count = 0.0
    with torch.inference_mode():
        for r in rows:
            ids = torch.tensor([r["input_ids"]], device=model.device)
            labels = torch.tensor([r["labels"]], device=model.device)
            n = int((labels[:, 1:] != -100).sum())
            nll += model(input_ids=ids, labels=labels, use_cache=False).loss.item() * n
            count += n
    return math.exp(min(nll / count, 50)) if count else float("nan")


def evaluate(cfg: Config, *, limit: int | None = None, progress: bool = True) -> dict:
    data = cfg.path(cfg.dataset.out_dir)
    dev, profile_path = data / "dev.jsonl", data / "profile.json"
    for p in (dev, profile_path):
        if not p.exists():
            raise ConfigError(f"{p} not found: run `make dataset` first")
    pairs = dev_prompts(read_jsonl(dev), limit or MAX_PROMPTS)
    if not pairs:
        raise ConfigError(f"{dev} has no owner reply to evaluate on; see {data / 'report.md'}")
    profile = json.loads(profile_path.read_text(encoding="utf-8"))
    clone, tokenizer = load_clone(cfg)
    path = base_path(cfg, progress)
    base = load_model(cfg, path).eval()
    prompts, refs = [c for c, _ in pairs], [r for _, r in pairs]
    decoding = Decoding(max_new_tokens=64)
    budget = cfg.train.cutoff_len - decoding.max_new_tokens
    result: dict = {"prompts": len(pairs), "decoding": decoding.__dict__, "systems": {}}
    replies: dict[str, list[str]] = {}
    for name, model, tok in (("base", base, load_tokenizer(path)), ("clone", clone, tokenizer)):
        if progress:
            print(f"eval: {name}: generating {len(prompts)} replies", file=sys.stderr)
        replies[name] = generate_replies(model, tok, prompts, decoding, max_prompt_tokens=budget)
        result["systems"][name] = {"dev_perplexity": _perplexity(model, tok, dev, cfg.train.cutoff_len),
                                   **rouge_words(replies[name], refs),
                                   "char_bleu4": char_bleu4(replies[name], refs),
                                   **style_report(replies[name], profile)}
    result["systems"]["owner"] = style_report(refs, profile)
    result["examples"] = [{"prompt": c[-1]["content"], "owner": r, "base": b, "clone": k}
                          for c, r, b, k in list(zip(prompts, refs, replies["base"], replies["clone"]))[:EXAMPLES]]
    out = cfg.path(cfg.train.output_dir)
    (out / "eval.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    table = _markdown(result)
    (out / "eval.md").write_text(table, encoding="utf-8")
    print(table.split("\n## Examples")[0], file=sys.stderr)
    print(f"wrote {out / 'eval.md'}, {out / 'eval.json'}", file=sys.stderr)
    return result


ROWS = ("dev_perplexity", "rouge-1", "rouge-2", "rouge-l", "char_bleu4", "length_p50", "length_distance",
        "emoji_rate", "wechat_code_rate", "catchphrase_rate", "punctuation_distance", "empty_replies")


def _markdown(result: dict) -> str:
    systems = result["systems"]
    lines = [f"# Evaluation on {result['prompts']} held-out owner replies", "",
             "Same greedy decoding for base and clone. `owner` is the owner's real replies (the target style). "
             "Distances: 0 = same as the owner's profile.", "",
             "| metric | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems)]
    for key in ROWS:
        cells = [systems[s].get(key) for s in systems]
        lines.append(f"| {key} | " + " | ".join("–" if v is None else f"{v:.3g}" for v in cells) + " |")
    lines += ["", "## Examples", ""]
    for ex in result["examples"]:
        lines += [f"- **friend:** {ex['prompt']!r}", f"  - owner: {ex['owner']!r}", f"  - base: {ex['base']!r}",
                  f"  - clone: {ex['clone']!r}"]
    return "\n".join(lines) + "\n"
