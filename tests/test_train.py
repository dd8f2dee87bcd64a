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


def test_qlora_on_cpu_is_a_clear_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("has a GPU")
    from core.config import ConfigError
    from training.train import train

    cfg = load(overrides={"train.method": "qlora", "dataset.out_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="qlora needs an NVIDIA GPU"):
        train(cfg, progress=False)
