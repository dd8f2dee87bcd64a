"""The training contract on the tiny base: packing changes no loss, an adapter survives save/load, the exported
merged model computes what base + adapter computed, and an interrupted run resumes exactly where it stopped."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import ConfigError, load

ROOT = Path(__file__).resolve().parents[1]
# cutoff_len 128 leaves serving's prompt budget (128 - max_new_tokens 64) room for every prompt: one training sequence
# per chat
TRAIN = {"batch_size": 2, "epochs": 3, "lora_r": 4, "lora_alpha": 8, "cutoff_len": 128, "learning_rate": 1e-2,
         "seed": 3}
N_TRAIN = 8  # 4 optimizer steps per epoch; checkpoints (save_strategy=epoch) at steps 4, 8, 12


def conversation(i: int) -> list[dict]:
    """Small varied chats (different lengths, so the padded batch really pads)."""
    return [{"role": "system", "content": "你是林小夏，一个住在杭州的插画师。"},
            {"role": "user", "content": f"今天{i}点去吃火锅吗"},
            {"role": "assistant", "content": f"好啊 {i * 7 % 13} 冲鸭"},
            {"role": "user", "content": "哈哈哈 好的" * (1 + i % 2)},
            {"role": "assistant", "content": "晚上见[旺柴]" * (1 + i % 3)}]


def write_run(root: Path, base_dir: Path, **train) -> Path:
    """A config.toml for a small run in `root` (data in root/data, output in root/run); returns its path."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    for name, ids in (("train.jsonl", range(N_TRAIN)), ("dev.jsonl", range(20, 22))):
        (data / name).write_text("".join(json.dumps({"messages": conversation(i)}, ensure_ascii=False) + "\n"
                                         for i in ids), encoding="utf-8")
    values = {**TRAIN, **train}
    toml = [f'[dataset]\nout_dir = "data"\n[model]\ncache_dir = {json.dumps(str(base_dir.parent))}\n'
            '[train]\noutput_dir = "run"'] + [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path = root / "config.toml"
    path.write_text("\n".join(toml) + "\n", encoding="utf-8")
    return path


def logits(model, ids):
    import torch

    with torch.no_grad():
        return model(torch.tensor([ids])).logits


@pytest.fixture(scope="module")
def ids(tok) -> list[int]:
    from core.chat_format import encode

    return encode(tok, conversation(5), 64).input_ids


# ---- packing ----

def test_packed_loss_equals_padded_loss(tok, model):
    import torch

    from core.chat_format import encode
    from training.train import collator

    rows = [encode(tok, conversation(i), 64) for i in range(6)]
    features = lambda: [{"input_ids": r.input_ids, "labels": r.labels} for r in rows]  # noqa: E731 - collators mutate
    packed = collator(tok, packing=True)(features())
    padded = collator(tok, packing=False)(features())
    assert "attention_mask" not in packed and packed["input_ids"].shape[0] == 1
    assert (padded["attention_mask"] == 0).any(), "samples of one length would not test padding"
    with torch.no_grad():
        # the models' loss is the mean over all trained tokens of the batch: token-weighted in both layouts
        loss_packed = model(**packed, use_cache=False).loss.item()
        loss_padded = model(**padded, use_cache=False).loss.item()
        # negative controls: a KV cache, or an explicit all-ones mask, disables the packed-sequence detection and
        # lets each sample attend to the samples before it
        with_cache = model(**packed, use_cache=True).loss.item()
        ones = model(**packed, attention_mask=torch.ones_like(packed["input_ids"]), use_cache=False).loss.item()
    assert abs(loss_packed - loss_padded) < 1e-5
    assert abs(with_cache - loss_padded) > 1e-3 and abs(ones - loss_padded) > 1e-3


# ---- adapter save/load and export ----

@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, base_dir, tok):
    """A saved adapter with non-zero LoRA B (an untrained one is a no-op and would prove nothing), and the
    in-memory PeftModel it came from."""
    import torch

    from runtime.manifest import Manifest, write_manifest
    from runtime.models import load_model
    from training.train import peft_wrap

    cfg = load(write_run(tmp_path_factory.mktemp("lora"), base_dir))
    model = peft_wrap(cfg, load_model(str(base_dir)))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.05)
    adapter = cfg.path(cfg.train.output_dir) / "adapter"
    model.save_pretrained(str(adapter))
    tok.save_pretrained(str(adapter))
    write_manifest(adapter, Manifest(base=str(base_dir), base_path=str(base_dir), method="lora"))
    return cfg, model.eval()


def test_adapter_save_load_gives_identical_logits(lora_run, model, tok, ids):
    from runtime.models import adapter_dir, load_clone

    cfg, peft_model = lora_run
    clone, clone_tok = load_clone(adapter_dir(cfg))
    expected = logits(peft_model, ids)
    assert (logits(clone, ids) - expected).abs().max().item() < 1e-6
    assert (logits(model, ids) - expected).abs().max().item() > 1e-3, "the adapter must change the model"
    assert clone_tok.chat_template == tok.chat_template


def test_export_merges_into_a_standalone_model(lora_run, tok, ids):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.export import NOTE, export_merged

    cfg, peft_model = lora_run
    out = export_merged(cfg, progress=False)
    assert out == cfg.path(cfg.train.output_dir) / "merged"
    names = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "README.md", NOTE} <= names
    assert not names & {"adapter_config.json", "adapter_model.safetensors"}
    assert not list(out.parent.glob(".merged.*")), "no temporary folder is left behind"

    merged = AutoModelForCausalLM.from_pretrained(out)
    assert merged.config.use_cache
    assert (logits(merged, ids) - logits(peft_model, ids)).abs().max().item() < 1e-4
    merged_tok = AutoTokenizer.from_pretrained(out)
    chat = conversation(1)
    assert merged_tok.apply_chat_template(chat, tokenize=False) == tok.apply_chat_template(chat, tokenize=False)
    assert json.loads((out / NOTE).read_text())["method"] == "lora"


def test_failed_export_keeps_the_previous_one(lora_run, monkeypatch, tmp_path):
    from transformers import PreTrainedModel

    from training.export import NOTE, export_merged

    cfg, _ = lora_run
    out = export_merged(cfg, out=tmp_path / "m", progress=False)
    before = (out / NOTE).read_text()

    def disk_full(self, path, *a, **kw):
        Path(path).mkdir(parents=True)
        (Path(path) / "model.safetensors").write_bytes(b"half")
        raise OSError("No space left on device")

    monkeypatch.setattr(PreTrainedModel, "save_pretrained", disk_full)
    with pytest.raises(OSError, match="No space"):
        export_merged(cfg, out=out, progress=False)
    assert (out / NOTE).read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_export_never_replaces_a_foreign_folder(lora_run, tmp_path):
    from training.export import export_merged

    cfg, _ = lora_run
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a chatclone export"):
        export_merged(cfg, out=tmp_path, progress=False)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_export_of_a_qlora_adapter_merges_into_the_unquantized_base(lora_run, ids, tmp_path):
    """Same adapter format: export needs no GPU or bitsandbytes, the base is loaded unquantized."""
    from transformers import AutoModelForCausalLM

    from training.export import NOTE, export_merged

    cfg, peft_model = lora_run
    cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"method": "qlora"})})
    out = export_merged(cfg, out=tmp_path / "q", progress=False)
    assert (logits(AutoModelForCausalLM.from_pretrained(out), ids) - logits(peft_model, ids)).abs().max() < 1e-4
    assert json.loads((out / NOTE).read_text())["method"] == "qlora"
    assert "unquantized base" in (out / "README.md").read_text()


def test_export_of_a_full_fine_tune_copies_the_model(tmp_path, base_dir, model, ids):
    from transformers import AutoModelForCausalLM

    from training.export import NOTE, export_merged

    cfg = load(write_run(tmp_path, base_dir, method="full"))
    from runtime.manifest import Manifest, write_manifest

    adapter = cfg.path(cfg.train.output_dir) / "adapter"
    shutil.copytree(base_dir, adapter)  # method=full saves a whole model there
    write_manifest(adapter, Manifest(base=str(base_dir), base_path=str(base_dir), method="full"))
    out = export_merged(cfg, progress=False)
    assert (logits(AutoModelForCausalLM.from_pretrained(out), ids) - logits(model, ids)).abs().max() == 0
    assert json.loads((out / NOTE).read_text())["method"] == "full"


# ---- resuming ----
# A run killed with SIGKILL right after its first checkpoint (step 4 of 12) must, when started again with the same
# config, continue from that checkpoint and end with exactly the adapter of an uninterrupted run: that is only
# possible if weights, optimizer, LR schedule, RNG (LoRA dropout) and data order are all restored. The kill comes
# from a callback inside the child, so it lands at the same point on every machine; a kill timed from outside
# would race the tiny base's millisecond steps.

KILL_AFTER_FIRST_CHECKPOINT = """
import os, signal, sys
import torch
from transformers import Trainer, TrainerCallback

torch.set_num_threads(int(sys.argv[2]))  # the test process's: float sums split over threads round differently

class Kill(TrainerCallback):
    def on_save(self, args, state, control, **kw):  # the checkpoint folder is complete when on_save runs
        os.kill(os.getpid(), signal.SIGKILL)

init = Trainer.__init__
def patched(self, *a, **kw):
    init(self, *a, **kw)
    self.add_callback(Kill())
Trainer.__init__ = patched

from training.__main__ import main
sys.exit(main(["train", "--quiet", "--config", sys.argv[1]]))
"""


def adapter_weights(cfg):
    from safetensors.torch import load_file

    return load_file(str(cfg.path(cfg.train.output_dir) / "adapter" / "adapter_model.safetensors"))


def logged_losses(cfg) -> dict[int, float]:
    state = json.loads((cfg.path(cfg.train.output_dir) / "checkpoints" / "checkpoint-12" / "trainer_state.json")
                       .read_text())
    return {h["step"]: h["loss"] for h in state["log_history"] if "loss" in h}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, base_dir):
    from training.train import train

    cfg = load(write_run(tmp_path_factory.mktemp("ref"), base_dir))
    return cfg, train(cfg, progress=False)


@pytest.fixture(scope="module")
def killed(tmp_path_factory, base_dir):
    """The config and checkpoints of a `python -m training train` killed after its first checkpoint."""
    import torch

    config = write_run(tmp_path_factory.mktemp("killed"), base_dir)
    threads = str(torch.get_num_threads())  # an engine test earlier in this process may have left fewer
    proc = subprocess.run([sys.executable, "-c", KILL_AFTER_FIRST_CHECKPOINT, str(config), threads], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    cfg = load(config)
    checkpoints = cfg.path(cfg.train.output_dir) / "checkpoints"
    assert [p.name for p in checkpoints.iterdir()] == ["checkpoint-4"]
    assert (checkpoints / "checkpoint-4" / "optimizer.pt").is_file()
    assert not (cfg.path(cfg.train.output_dir) / "adapter").exists()
    return config


def test_killed_run_resumes_to_the_uninterrupted_result(killed, uninterrupted, tmp_path):
    from training.train import train

    config = shutil.copytree(killed.parent, tmp_path / "run") / "config.toml"  # other tests reuse the killed run
    cfg = load(config)
    ref_cfg, ref = uninterrupted
    metrics = train(cfg, progress=False)
    assert metrics["resumed_from"] == str(cfg.path(cfg.train.output_dir) / "checkpoints" / "checkpoint-4")
    assert metrics["steps"] == ref["steps"] == 12
    assert ref["resumed_from"] is None
    losses, ref_losses = logged_losses(cfg), logged_losses(ref_cfg)
    assert losses.keys() == ref_losses.keys() and max(losses) == 12
    assert all(abs(losses[s] - ref_losses[s]) < 1e-4 for s in losses)
    a, b = adapter_weights(cfg), adapter_weights(ref_cfg)
    assert a.keys() == b.keys() and all((a[k] - b[k]).abs().max() < 1e-6 for k in a)
    assert metrics["dev_loss"] == pytest.approx(ref["dev_loss"], abs=1e-4)


def test_fresh_ignores_checkpoints(killed, uninterrupted, tmp_path):
    from training.train import train

    cfg = load(shutil.copytree(killed.parent, tmp_path / "run") / "config.toml")
    metrics = train(cfg, fresh=True, progress=False)
    assert metrics["resumed_from"] is None and metrics["steps"] == 12
    ref_cfg, _ = uninterrupted
    a, b = adapter_weights(cfg), adapter_weights(ref_cfg)
    assert all((a[k] - b[k]).abs().max() < 1e-6 for k in a), "a fresh run is the uninterrupted run"


def test_raising_max_steps_continues_the_step_count(tmp_path, base_dir):
    from training.train import train

    first = load(write_run(tmp_path, base_dir, max_steps=4))
    assert train(first, progress=False)["steps"] == 4
    second = load(write_run(tmp_path, base_dir, max_steps=8))
    metrics = train(second, progress=False)
    assert metrics["resumed_from"].endswith("checkpoint-4") and metrics["steps"] == 8  # not 4 + 8


def test_half_written_checkpoint_is_skipped(killed, uninterrupted, tmp_path):
    from training.train import train

    cfg = load(shutil.copytree(killed.parent, tmp_path / "run") / "config.toml")
    checkpoints = cfg.path(cfg.train.output_dir) / "checkpoints"
    # killed while saving step 8: weights written, optimizer and trainer state not yet
    partial = checkpoints / "checkpoint-8"
    shutil.copytree(checkpoints / "checkpoint-4", partial)
    for name in ("optimizer.pt", "trainer_state.json"):
        (partial / name).unlink()
    metrics = train(cfg, progress=False)
    assert metrics["resumed_from"] == str(checkpoints / "checkpoint-4") and metrics["steps"] == 12
