"""The thin training path: embedded dataset → LoRA on the tiny base → a loadable PEFT adapter."""
import json

import pytest

from core.config import load
from data_prep.build import build


@pytest.fixture(scope="module")
def trained(tmp_path_factory, base_dir):
    root = tmp_path_factory.mktemp("train")
    cfg = load(overrides={"dataset.out_dir": str(root / "data"), "model.cache_dir": str(base_dir.parent),
                          "train.output_dir": str(root / "run"), "train.max_steps": 30})
    build(cfg, progress=False)
    from training.train import train

    return cfg, train(cfg, progress=False)


def test_writes_adapter_plots_and_metrics(trained):
    cfg, metrics = trained
    out = cfg.path(cfg.train.output_dir)
    assert (out / "adapter" / "adapter_config.json").exists()
    assert (out / "loss.png").stat().st_size > 0
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["steps"] == 30 and saved["dev_loss"] > 0 and saved["dev_perplexity"] > 1


def test_loss_decreases(trained):
    cfg, _ = trained
    state = json.loads(next(cfg.path(cfg.train.output_dir).glob("checkpoints/checkpoint-*/trainer_state.json"))
                       .read_text())
    losses = [h["loss"] for h in state["log_history"] if "loss" in h]
    assert losses[-1] < losses[0]


def test_adapter_reloads_with_peft(trained, base_dir):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cfg, _ = trained
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    ids = torch.tensor([[1, 20, 30, 40, 2]])
    before = base(ids).logits
    clone = PeftModel.from_pretrained(base, str(cfg.path(cfg.train.output_dir) / "adapter"))
    assert not torch.allclose(clone(ids).logits, before), "the adapter changes the model"


def _first_loss(cfg) -> float:
    state = next(cfg.path(cfg.train.output_dir).glob("checkpoints/checkpoint-*/trainer_state.json"))
    return next(h["loss"] for h in json.loads(state.read_text())["log_history"] if "loss" in h)


def _qlora_clone(lora_cfg, tmp_path, steps: int, base: str | None = None):
    """A QLoRA clone trained like ``lora_cfg``'s LoRA one (on ``base`` if given; bitsandbytes' CPU backend here),
    checked for what any QLoRA clone must be: recorded as qlora, served merged into the full-precision base, and
    different from that base. Returns its config, training metrics and (model, tokenizer) as served."""
    pytest.importorskip("bitsandbytes")
    import torch

    from runtime.manifest import read_manifest
    from runtime.models import adapter_dir, four_bit_unavailable, load_for_generation
    from training.train import train

    if why := four_bit_unavailable():
        pytest.skip(why)
    model = {"model": lora_cfg.model.model_copy(update={"base": base})} if base else {}
    cfg = lora_cfg.model_copy(update={**model, "train": lora_cfg.train.model_copy(
        update={"method": "qlora", "output_dir": tmp_path / "run", "max_steps": steps})})
    metrics = train(cfg, progress=False)
    adapter = adapter_dir(cfg)
    assert read_manifest(adapter).method == "qlora"
    clone, tok = load_for_generation(adapter)
    assert not any("4bit" in type(m).__name__ for m in clone.modules())  # merged into the full-precision base
    plain, _ = load_for_generation(adapter, base_only=True)
    ids = torch.tensor([tok("在干嘛呢", add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        assert not torch.allclose(clone(ids).logits, plain(ids).logits)  # what was trained in 4 bits is served
    return cfg, metrics, (clone, tok)


def test_qlora_trains_on_a_4bit_base_and_the_clone_loads_unquantized(trained, tmp_path):
    """The QLoRA path (4-bit base, k-bit preparation, LoRA on Linear4bit) on the tiny base."""
    lora_cfg, _ = trained
    cfg, _, _ = _qlora_clone(lora_cfg, tmp_path, steps=4)
    # same samples, same LoRA init, same seed: only the 4-bit base makes the first loss differ from LoRA's
    assert abs(_first_loss(cfg) - _first_loss(lora_cfg)) > 1e-3


def test_qlora_on_a_real_family_base_trains_and_serves(trained, shrunk, tmp_path):
    """The shrunk Qwen3 base (its real tokenizer, chat template and 152k vocabulary) in 4 bits: trained, then
    served merged into the full-precision base through the chat format."""
    from runtime.decoding import Decoding, generate_replies

    _, metrics, (model, tok) = _qlora_clone(trained[0], tmp_path, steps=3, base=str(shrunk("qwen3")))
    assert metrics["steps"] == 3 and metrics["dev_loss"] > 0
    reply, = generate_replies(model, tok, [[{"role": "user", "content": "在吗"}]], Decoding(max_new_tokens=6),
                              max_prompt_tokens=200)
    assert isinstance(reply, str)


def test_qlora_without_4bit_support_is_a_clear_error(tmp_path, monkeypatch):
    import sys

    from core.config import ConfigError
    from training.train import train

    monkeypatch.setitem(sys.modules, "bitsandbytes.functional", None)  # as if bitsandbytes were not installed
    cfg = load(overrides={"train.method": "qlora", "dataset.out_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="qlora loads the base in 4 bits.*bitsandbytes is not installed"):
        train(cfg, progress=False)


def test_load_clone_gives_the_trained_logits_and_export_merges_them(trained, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from runtime.models import adapter_dir, load_clone
    from training.export import export_merged

    cfg, _ = trained
    ids = torch.tensor([[1, 20, 30, 40, 50, 2]])
    a, _ = load_clone(adapter_dir(cfg))
    b, _ = load_clone(adapter_dir(cfg))
    with torch.no_grad():
        clone = a(ids).logits
        assert torch.equal(clone, b(ids).logits)  # save → load is exact
        merged_dir = export_merged(cfg, out=tmp_path / "merged", progress=False)
        assert (merged_dir / "model.safetensors").exists() and not (merged_dir / "adapter_config.json").exists()
        merged = AutoModelForCausalLM.from_pretrained(merged_dir)(ids).logits
    assert torch.allclose(merged, clone, atol=1e-4)
    assert not list(tmp_path.glob(".merged.tmp-*"))


def test_packed_loss_equals_unpacked_loss(trained, tok, model):
    import torch

    from training.data import encode_file
    from training.train import collator

    cfg, _ = trained
    rows, _ = encode_file(tok, cfg.path(cfg.dataset.out_dir) / "dev.jsonl", 256)
    rows = rows[:6]
    model.config.use_cache = False

    def token_loss(batch, **kw):
        logits = model(**batch, **kw).logits[:, :-1]
        labels = batch["labels"][:, 1:]
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                                 ignore_index=-100, reduction="sum") / (labels != -100).sum()

    with torch.no_grad():
        packed_batch = collator(tok, packing=True)([dict(r) for r in rows])
        assert "attention_mask" not in packed_batch and packed_batch["input_ids"].shape[0] == 1
        padded = token_loss(collator(tok, packing=False)([dict(r) for r in rows]))
        packed = token_loss(packed_batch, use_cache=False)
        # negative control: one causal sequence over all samples lets them attend to each other
        leaked = token_loss({k: v for k, v in packed_batch.items() if k != "position_ids"}, use_cache=False)
    assert abs(packed.item() - padded.item()) < 1e-4
    assert abs(leaked.item() - padded.item()) > 1e-3

