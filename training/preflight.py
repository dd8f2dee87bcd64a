"""Before any tokenization or model loading: resolve the training settings for the base (core/presets.toml) and
refuse what cannot work, from the base's config.json and tokenizer alone — seconds, where finding out after
tokenizing the dataset and loading a real model costs minutes.

Refused: LoRA on the embeddings of a model that ties them (cannot be merged or served), an adapter whose estimated
size means full matrices in every checkpoint, a chat template without an end-of-turn token, or one whose owner
turns cannot be labelled on the prompt serving will use. Warned: an empty persona prompt (the clone then trains
under whatever identity the template inserts by default).
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from core.chat_format import (
    IGNORE_INDEX,
    TemplateError,
    _render,
    control_pattern,
    encode_sample,
    end_of_turn,
    template_kwargs,
)
from core.config import Config, ConfigError
from core.presets import Resolved, max_adapter_gb, param_count, resolve, text_config

EMBEDDINGS = ("embed_tokens", "lm_head")  # peft saves these whole, in every checkpoint, when they are targeted
ROLE_WORDS = re.compile(r"\b(system|user|assistant)\b")
PROBE = [{"role": "user", "content": "在吗"}, {"role": "assistant", "content": "在的"},
         {"role": "user", "content": "吃了吗"}, {"role": "assistant", "content": "吃了"}]


@dataclass
class Plan:
    preset: Resolved
    params: int                       # parameter count from config.json
    adapter_bytes: int | None         # estimated adapter size (LoRA methods)
    base_revision: str | None
    end_of_turn: str
    template_kwargs: dict
    warnings: list[str] = field(default_factory=list)


def model_config(path: str) -> dict:
    """The base's config.json (a hub id: only that file is fetched or read from the cache)."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as e:
        raise ConfigError(f"model.base: cannot read the config.json of {path} ({e})") from None
    return config.to_dict() | {"_commit_hash": getattr(config, "_commit_hash", None)}


def lora_shapes(config: dict) -> dict[str, tuple[int, int]]:
    """(in, out) features of each linear layer of one decoder block (the names Qwen, Llama, Mistral use)."""
    c = text_config(config)
    hidden, heads = c["hidden_size"], c["num_attention_heads"]
    kv, head_dim = c.get("num_key_value_heads") or heads, c.get("head_dim") or hidden // heads
    inter = c["intermediate_size"]
    return {"q_proj": (hidden, heads * head_dim), "k_proj": (hidden, kv * head_dim),
            "v_proj": (hidden, kv * head_dim), "o_proj": (heads * head_dim, hidden),
            "gate_proj": (hidden, inter), "up_proj": (hidden, inter), "down_proj": (inter, hidden)}


def adapter_bytes(config: dict, targets, r: int, bytes_per_param: int) -> int:
    """The saved adapter's size: LoRA A/B of each targeted layer, plus the whole embedding and output matrices
    that peft stores next to them when either is targeted."""
    c = text_config(config)
    shapes = lora_shapes(config)
    names = list(shapes) if targets == "all-linear" else [t for t in targets if t in shapes]
    params = c["num_hidden_layers"] * sum(r * sum(shapes[n]) for n in names)
    vocab, hidden = c["vocab_size"], c["hidden_size"]
    if targets != "all-linear":
        params += sum(r * (vocab + hidden) + vocab * hidden for t in EMBEDDINGS if t in targets)
    return params * bytes_per_param


def default_system_text(tokenizer) -> str:
    """What the template puts before a conversation that has no system turn (Qwen2.5: "You are Qwen, created by
    Alibaba Cloud…"), control strings and role names left out; '' if nothing."""
    probe = "chatclone probe"
    text = _render(tokenizer, [{"role": "user", "content": probe}], False)
    before = text[:text.index(probe)]
    pattern = control_pattern(tokenizer)
    return ROLE_WORDS.sub(" ", pattern.sub(" ", before) if pattern else before).strip()


def _check_template(cfg: Config, tokenizer) -> str:
    try:
        eot = end_of_turn(tokenizer)
        sequences = encode_sample(tokenizer, PROBE, 4096)
    except TemplateError as e:
        raise ConfigError(f"{cfg.source}: model.base: {cfg.model.base}: {e}") from None
    runs = sum(1 for enc in sequences for k, lab in enumerate(enc.labels)
               if lab != IGNORE_INDEX and (k == 0 or enc.labels[k - 1] == IGNORE_INDEX))
    if runs != sum(m["role"] == "assistant" for m in PROBE):
        raise ConfigError(f"{cfg.source}: model.base: the chat template of {cfg.model.base} does not render owner "
                          "turns so that they can be labelled on the serving prompt; choose another instruct model")
    return eot


def preflight(cfg: Config, path: str, tokenizer) -> Plan:
    """Resolve [train] for the base (in place: cfg.train afterwards holds the settings training uses) and check
    the combination; a ConfigError naming the fix if it cannot work."""
    from runtime.models import torch_dtype

    config = model_config(path)
    t = cfg.train
    resolved = resolve(t, cfg.model.base, config)
    params = param_count(config)
    size = None
    if t.method != "full":
        targets = t.target_modules
        tied = text_config(config).get("tie_word_embeddings", config.get("tie_word_embeddings"))
        embedding_targets = [] if targets == "all-linear" else [x for x in EMBEDDINGS if x in targets]
        if tied and embedding_targets:
            raise ConfigError(f"{cfg.source}: train.target_modules: {'/'.join(embedding_targets)} on "
                              f"{cfg.model.base}, whose input and output embeddings are tied, cannot be merged or "
                              "served; use target_modules = \"all-linear\" (or leave it out: the preset)")
        size = adapter_bytes(config, targets, t.lora_r, torch_dtype(cfg.model.dtype).itemsize)
        if size > max_adapter_gb() * 1e9:
            raise ConfigError(f"{cfg.source}: train.target_modules: the adapter for {cfg.model.base} would be about "
                              f"{size / 1e9:.1f} GB in every checkpoint ({'/'.join(embedding_targets) or 'targets'} "
                              "saved whole); use target_modules = \"all-linear\" (or leave it out: the preset)")
    warnings = []
    if not cfg.persona.system_prompt.strip():
        default = default_system_text(tokenizer)
        warnings.append("persona.system_prompt is empty: the clone is trained with no persona turn"
                        + (f", under the template's default identity ({default!r})" if default else "")
                        + "; set persona.system_prompt in config.toml to say who the clone is")
    return Plan(resolved, params, size, config.get("_commit_hash"), _check_template(cfg, tokenizer),
                template_kwargs(tokenizer), warnings)


def report(cfg: Config, plan: Plan, out: Path) -> None:
    """Print the resolved settings and warnings, and write them to <output_dir>/resolved_config.json."""
    p = plan.preset
    shown = ", ".join(f"{k}={v!r}" + ("" if k in p.explicit else "*") for k, v in p.values.items())
    print(f"train: {cfg.model.base} ({plan.params / 1e9:.2f}B parameters), preset {p.preset!r}: {shown} "
          "(* = from the preset; config.toml overrides)", file=sys.stderr)
    if plan.adapter_bytes is not None:
        print(f"train: adapter ≈ {plan.adapter_bytes / 1e6:.1f} MB", file=sys.stderr)
    for w in plan.warnings:
        print(f"warning: {w}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    resolved = {"base": cfg.model.base, "preset": p.preset, "from_config_toml": list(p.explicit),
                "params": plan.params, "adapter_bytes_estimate": plan.adapter_bytes,
                "train": cfg.train.model_dump(mode="json"), "warnings": plan.warnings,
                "end_of_turn": plan.end_of_turn, "template_kwargs": plan.template_kwargs}
    (out / "resolved_config.json").write_text(json.dumps(resolved, indent=1, ensure_ascii=False) + "\n",
                                              encoding="utf-8")



def inspect(cfg: Config) -> str:
    """What training and serving will do with the configured base, from its config.json and tokenizer alone (no
    weights loaded, nothing written but the embedded tiny base when it is missing): the resolved settings, the end
    of turn, the reasoning switches, the stop tokens, warnings, and a short conversation as trained — each training
    sequence with the tokens the clone learns to write in ⟦ ⟧. For checking a base outside the README's table before
    spending a training run on it."""
    from runtime.models import load_tokenizer
    from runtime.stops import stop_ids

    from .prerequisites import ensure_base

    path = ensure_base(cfg, progress=False)
    tokenizer = load_tokenizer(path)
    plan = preflight(cfg, path, tokenizer)
    p = plan.preset
    lines = [f"base: {cfg.model.base} ({plan.params / 1e9:.2f}B parameters), preset {p.preset!r}",
             "train: " + ", ".join(f"{k}={v!r}" + ("" if k in p.explicit else "*") for k, v in p.values.items())
             + " (* = from the preset; config.toml overrides)"]
    if plan.adapter_bytes is not None:
        lines.append(f"adapter: about {plan.adapter_bytes / 1e6:.1f} MB")
    stops = sorted(stop_ids(tokenizer))
    shown = ", ".join(tokenizer.convert_ids_to_tokens(stops[:12])) + (f", … ({len(stops)} in all)"
                                                                       if len(stops) > 12 else "")
    lines += [f"end of turn: {plan.end_of_turn}", f"template switches: {plan.template_kwargs or 'none'}",
              f"decoding stops on: {shown}"]
    lines += [f"warning: {w}" for w in plan.warnings]
    persona = cfg.persona.system_prompt.strip()
    conversation = ([{"role": "system", "content": persona}] if persona else []) + PROBE
    for k, enc in enumerate(encode_sample(tokenizer, conversation, 4096), 1):
        runs: list[tuple[bool, list[int]]] = []  # (learned, tokens): decoded a run at a time, not a token
        for token, label in zip(enc.input_ids, enc.labels, strict=True):
            learned = label != IGNORE_INDEX
            if not runs or runs[-1][0] != learned:
                runs.append((learned, []))
            runs[-1][1].append(token)
        text = "".join(f"⟦{tokenizer.decode(ids)}⟧" if learned else tokenizer.decode(ids) for learned, ids in runs)
        lines += [f"--- training sequence {k} (⟦learned⟧) ---", text]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from core.config import load

    ap = argparse.ArgumentParser(prog="python -m training.preflight", description=inspect.__doc__)
    ap.add_argument("--config", type=Path, default=None)
    args = ap.parse_args(argv)
    try:
        print(inspect(load(args.config)))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
