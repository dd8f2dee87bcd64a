"""Per-model training defaults (core/presets.toml): choosing a real base is one edit, `model.base`.

A preset is picked from the base's config.json alone (nothing is loaded): its parameter count, model type, or
the embedded tiny base by name. Keys written in config.toml win over the preset.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRESETS_FILE = Path(__file__).with_name("presets.toml")
MATCH_KEYS = ("name", "base", "model_types", "max_params_b")


@dataclass(frozen=True)
class Resolved:
    preset: str                   # the preset's name
    values: dict[str, Any]        # every preset-governed [train] key, resolved
    explicit: tuple[str, ...]     # of those, the keys config.toml set itself


def _load() -> dict:
    return tomllib.loads(PRESETS_FILE.read_text(encoding="utf-8"))


def max_adapter_gb() -> float:
    return float(_load()["limits"]["max_adapter_gb"])


def text_config(config: dict) -> dict:
    """The language model's part of a config.json (multimodal checkpoints nest it)."""
    return config.get("text_config") or config


def param_count(config: dict) -> int:
    """Parameters of a decoder-only transformer, from its config.json: embeddings (twice when untied), attention
    and MLP (or MoE experts) per layer; norms and biases are noise at this scale."""
    c = text_config(config)
    hidden, layers, vocab = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"]
    heads = c["num_attention_heads"]
    kv_heads = c.get("num_key_value_heads") or heads
    head_dim = c.get("head_dim") or hidden // heads
    attention = 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim
    experts = c.get("num_experts") or c.get("n_routed_experts") or 0
    if experts:
        mlp = 3 * hidden * c.get("moe_intermediate_size", c["intermediate_size"]) * experts
    else:
        mlp = 3 * hidden * c["intermediate_size"]
    embeddings = vocab * hidden * (1 if c.get("tie_word_embeddings", config.get("tie_word_embeddings")) else 2)
    return embeddings + layers * (attention + mlp)


def pick(base: str, config: dict) -> dict:
    """The first preset matching the base."""
    billions = param_count(config) / 1e9
    model_type = text_config(config).get("model_type", config.get("model_type"))
    for p in _load()["preset"]:
        if "base" in p and p["base"] != base:
            continue
        if "model_types" in p and model_type not in p["model_types"]:
            continue
        if "max_params_b" in p and billions > p["max_params_b"]:
            continue
        return p
    raise ValueError(f"{PRESETS_FILE}: no preset matches {base} ({billions:.1f}B parameters); add a catch-all one")


def resolve(train, base: str, config: dict) -> Resolved:
    """Fill the [train] keys config.toml left unset from the base's preset, in place (``train`` is the validated
    core.config.Train section)."""
    preset = pick(base, config)
    keys = [k for k in preset if k not in MATCH_KEYS]
    explicit = tuple(k for k in keys if k in train.model_fields_set)
    for k in keys:
        if k not in explicit:
            setattr(train, k, preset[k])
    train.model_fields_set.difference_update(set(keys) - set(explicit))  # assignment marks keys as set
    return Resolved(preset["name"], {k: getattr(train, k) for k in keys}, explicit)
