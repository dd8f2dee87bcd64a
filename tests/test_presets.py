"""Per-model presets, the checks made before any tokenization or model loading, and what an adapter records."""
from __future__ import annotations

import json
import logging

import pytest

from core.config import ConfigError, load
from core.presets import param_count, resolve
from runtime.manifest import Manifest, read_manifest, reconcile, write_manifest
from training.preflight import adapter_bytes, preflight

# Qwen2.5-7B-Instruct's published config.json (the parts the estimates read)
QWEN25_7B = {"model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
             "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064, "tie_word_embeddings": False}
SHIPPED_BEFORE = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "embed_tokens",
                  "lm_head"]


def test_the_tiny_base_preset_is_what_the_demo_always_trained_with():
    cfg = load()
    resolved = resolve(cfg.train, "tiny", {"model_type": "qwen2", "hidden_size": 128, "intermediate_size": 256,
                                           "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 6144})
    assert resolved.preset == "tiny" and resolved.explicit == ()
    t = cfg.train
    assert (t.target_modules, t.learning_rate, t.epochs, t.cutoff_len) == (SHIPPED_BEFORE, 5e-3, 5, 512)


def test_a_real_base_gets_its_size_preset_and_an_explicit_value_wins():
    cfg = load(overrides={"model.base": "Qwen/Qwen2.5-7B-Instruct", "train.learning_rate": 3e-4})
    assert 7.0e9 < param_count(QWEN25_7B) < 7.7e9  # published: 7.61B (norms and biases not counted)
    resolved = resolve(cfg.train, cfg.model.base, QWEN25_7B)
    assert resolved.preset.startswith("medium") and resolved.explicit == ("learning_rate",)
    assert cfg.train.learning_rate == 3e-4 and cfg.train.target_modules == "all-linear"
    assert cfg.train.gradient_checkpointing is True and cfg.train.epochs == 2


def test_the_adapter_estimate_for_the_untied_7b_shape():
    # with the embeddings targeted peft saves both vocabulary matrices whole: ~2.27 GB in bf16, every checkpoint
    assert adapter_bytes(QWEN25_7B, SHIPPED_BEFORE, 16, 2) == 2 * (45_350_912 + 2 * 152064 * 3584)
    assert adapter_bytes(QWEN25_7B, "all-linear", 16, 2) == 2 * 40_370_176  # 81 MB


def test_the_estimate_matches_what_peft_saves(shrunk, tmp_path):
    """On the shrunk untied Qwen2.5 (real vocabulary): estimate == the saved adapter's tensor bytes."""
    from peft import LoraConfig, get_peft_model
    from safetensors import safe_open
    from transformers import AutoConfig

    from runtime.models import load_model

    path = shrunk("qwen2.5-instruct")
    for targets in (SHIPPED_BEFORE, "all-linear"):
        model = get_peft_model(load_model(str(path), "float32"), LoraConfig(r=4, target_modules=targets))
        model.save_pretrained(tmp_path / "a")
        with safe_open(tmp_path / "a" / "adapter_model.safetensors", "pt") as f:
            saved = sum(f.get_tensor(k).numel() * 4 for k in f.keys())
        assert saved == adapter_bytes(AutoConfig.from_pretrained(path).to_dict(), targets, 4, 4)


def _cfg(tmp_path, base, **train):
    return load(overrides={"model.base": str(base), "train.output_dir": str(tmp_path / "run"),
                           "dataset.out_dir": str(tmp_path / "data"), **{f"train.{k}": v for k, v in train.items()}})


def test_embeddings_on_a_tied_base_are_refused_before_any_tokenization(shrunk, tmp_path, monkeypatch):
    from training import train as train_module

    (tmp_path / "data").mkdir()
    for name in ("train.jsonl", "dev.jsonl"):
        (tmp_path / "data" / name).write_text("", encoding="utf-8")
    monkeypatch.setattr(train_module, "encode_file", lambda *a, **k: pytest.fail("tokenized before the check"))
    monkeypatch.setattr(train_module, "load_model", lambda *a, **k: pytest.fail("loaded before the check"))
    cfg = _cfg(tmp_path, shrunk("qwen3"), target_modules=SHIPPED_BEFORE)
    with pytest.raises(ConfigError, match="tied.*all-linear"):
        train_module.train(cfg, progress=False)


def test_an_adapter_full_of_vocabulary_matrices_is_refused(shrunk, tmp_path, loaded, monkeypatch):
    monkeypatch.setattr("training.preflight.max_adapter_gb", lambda: 0.01)  # the shrunk model's matrices: ~78 MB
    tok, _ = loaded("qwen2.5-instruct")
    cfg = _cfg(tmp_path, shrunk("qwen2.5-instruct"), target_modules=SHIPPED_BEFORE)
    with pytest.raises(ConfigError, match=r"about 0\.\d GB in every checkpoint \(embed_tokens/lm_head saved whole\)"):
        preflight(cfg, str(shrunk("qwen2.5-instruct")), tok)
    assert preflight(_cfg(tmp_path, shrunk("qwen2.5-instruct")), str(shrunk("qwen2.5-instruct")), tok)


def test_an_empty_persona_prompt_is_said_with_the_identity_it_trains_under(shrunk, tmp_path, loaded):
    tok, _ = loaded("qwen2.5-instruct")
    cfg = _cfg(tmp_path, shrunk("qwen2.5-instruct"))
    cfg.persona.system_prompt = ""
    plan = preflight(cfg, str(shrunk("qwen2.5-instruct")), tok)
    assert len(plan.warnings) == 1 and "You are Qwen, created by Alibaba Cloud" in plan.warnings[0]
    cfg.persona.system_prompt = "你是林小夏"
    assert preflight(cfg, str(shrunk("qwen2.5-instruct")), tok).warnings == []


def test_serving_uses_the_trained_persona_and_cutoff_and_says_so(tmp_path, caplog):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    write_manifest(adapter, Manifest(base="tiny", base_path="/x", method="lora", persona_prompt="你是林小夏",
                                     cutoff_len=512, burst_gap_s=300, session_gap_s=3600, chat_format=2))
    cfg = load(overrides={"persona.system_prompt": "你是客服"})
    with caplog.at_level(logging.INFO, logger="runtime.manifest"):
        reconcile(cfg, adapter)
    assert cfg.persona.system_prompt == "你是林小夏" and cfg.train.cutoff_len == 512
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "persona.system_prompt" in warned[0] and "trained" in warned[0]


def test_an_old_adapter_still_loads_with_a_warning(tmp_path, caplog):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "chatclone.json").write_text(json.dumps({"base": "tiny", "base_path": "/x", "method": "lora"}))
    assert read_manifest(adapter).persona_prompt is None
    cfg = load()
    with caplog.at_level(logging.WARNING, logger="runtime.manifest"):
        reconcile(cfg, adapter)
    assert cfg.persona.system_prompt == load().persona.system_prompt
    assert any("written before the training settings were recorded" in r.getMessage() for r in caplog.records)


def test_a_chat_format_change_is_refused(tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    write_manifest(adapter, Manifest(base="tiny", base_path="/x", method="lora", persona_prompt="p", chat_format=1))
    with pytest.raises(ConfigError, match="chat format 1"):
        reconcile(load(), adapter)


def test_inspect_shows_what_training_and_serving_will_do_with_a_base(shrunk, tmp_path):
    from training.preflight import inspect

    shown = inspect(_cfg(tmp_path, shrunk("qwen3")))
    assert "preset 'small (up to 2B parameters)'" in shown and "target_modules='all-linear'*" in shown
    assert "end of turn: <|im_end|>" in shown and "{'enable_thinking': False}" in shown
    assert "decoding stops on: <|endoftext|>, <|im_start|>, <|im_end|>" in shown
    # one sequence per owner turn (Qwen3 renders history without the think block), each learning its turn only
    assert shown.count("--- training sequence") == 2
    assert "<think>\n\n</think>\n\n⟦在的<|im_end|>⟧" in shown and "⟦吃了<|im_end|>⟧" in shown
    assert not (tmp_path / "run").exists()  # nothing written


def test_inspect_refuses_a_template_without_an_end_of_turn_token(shrunk, tmp_path):
    import shutil

    from training.preflight import main

    base = tmp_path / "base"
    shutil.copytree(shrunk("qwen2.5-instruct"), base)
    config = json.loads((base / "tokenizer_config.json").read_text(encoding="utf-8"))
    # a template that ends an assistant turn with nothing (the next turn's opening is its only boundary)
    config["chat_template"] = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}{% endfor %}"
                               "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    (base / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[model]\nbase = "{base}"\n[train]\noutput_dir = "{tmp_path / "run"}"\n', encoding="utf-8")
    assert main(["--config", str(cfg)]) == 2
