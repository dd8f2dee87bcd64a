"""The point of the project, on the embedded persona: a briefly trained clone writes like her, the base does not.

The bundled fictional persona (林小夏) marks almost every message (samples/persona/markers.json: a tilde at the
end, 冲鸭, 绝了, 🐱, [旺柴], 哈哈哈, haha); her friends and the tiny base's generic corpus never do. So the share of
greedy replies to held-out dev prompts that carry a marker tells a clone that learnt her style from one that did not.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
N_PROMPTS = 40


@pytest.fixture(scope="module")
def persona_run(persona_clone, base_dir):
    from runtime.decoding import Decoding, generate_replies
    from runtime.models import adapter_dir, load_clone, load_model, load_tokenizer
    from training.data import read_jsonl
    from training.evaluate import dev_targets

    cfg, metrics = persona_clone.cfg, persona_clone.metrics
    targets = dev_targets(read_jsonl(cfg.path(cfg.dataset.out_dir) / "dev.jsonl"), N_PROMPTS)
    prompts = [t.prompt for t in targets]
    decoding = Decoding(max_new_tokens=48)  # greedy
    clone, clone_tok = load_clone(adapter_dir(cfg))
    base, base_tok = load_model(str(base_dir)).eval(), load_tokenizer(str(base_dir))
    replies = {name: generate_replies(m, t, prompts, decoding, max_prompt_tokens=256, batch_size=N_PROMPTS)
               for name, (m, t) in {"clone": (clone, clone_tok), "base": (base, base_tok)}.items()}
    return metrics, targets, replies


def marker_share(replies: list[str]) -> float:
    markers = json.loads((ROOT / "samples" / "persona" / "markers.json").read_text(encoding="utf-8"))
    any_marker = re.compile(markers["any_marker_regex"])
    return sum(bool(any_marker.search(r)) for r in replies) / len(replies)


def test_held_out_prompts_are_enough_and_unseen(persona_run):
    _, targets, _ = persona_run
    assert len(targets) == N_PROMPTS
    # the owner's real dev replies are marked: the target is reachable
    assert marker_share([t.reply for t in targets]) >= 0.9


def test_clone_shows_the_persona_markers_and_the_base_does_not(persona_run):
    _, targets, replies = persona_run
    clone, base = marker_share(replies["clone"]), marker_share(replies["base"])
    examples = "\n".join(f"{t.prompt[-1]['content']!r} -> clone {c!r} | base {b!r}"
                         for t, c, b in list(zip(targets, replies["clone"], replies["base"], strict=True))[:8])
    assert clone >= 0.9, f"clone marker share {clone:.0%}\n{examples}"
    assert base <= 0.15, f"base marker share {base:.0%}\n{examples}"
