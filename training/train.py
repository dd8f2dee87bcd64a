"""`make train`: LoRA / QLoRA / full fine-tuning of the base model on train.jsonl, dev loss every epoch.

Output (train.output_dir): adapter/ (PEFT format, or a full model for method=full) with the tokenizer,
checkpoints/ (resumed automatically), loss.png and metrics.json.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

from core.chat_format import FORMAT_VERSION
from core.config import Config, ConfigError
from core.conversation import trained_prompt_budget
from runtime.manifest import Manifest, fingerprint, write_manifest
from runtime.models import four_bit_unavailable, load_model, load_tokenizer

from .data import encode_file
from .preflight import preflight, report
from .prerequisites import ensure_base


def peft_wrap(cfg: Config, model):
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    t = cfg.train
    if t.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=t.gradient_checkpointing)
    lora = LoraConfig(r=t.lora_r, lora_alpha=t.lora_alpha, lora_dropout=t.lora_dropout,
                      target_modules=t.target_modules, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def collator(tokenizer, packing: bool):
    from transformers import DataCollatorForSeq2Seq, DataCollatorWithFlattening

    if packing:
        # One row per batch, position ids restarting at each sample and no attention mask: the attention kernels
        # then keep samples apart (with use_cache=False, which Trainer sets).
        return DataCollatorWithFlattening(return_position_ids=True)
    return DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)


PACKED_SDPA = "chatclone_packed_sdpa"


def packed_sdpa(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None,
                position_ids=None, **kwargs):
    """Attention for packed rows, as a transformers attention function: causal sdpa over each sample of the row on
    its own (a sample starts wherever the position ids do not go on by one), so the cost is the sum of the squared
    sample lengths, where sdpa with a block-diagonal mask computes the whole row × row square."""
    import torch
    import torch.nn.functional as F
    from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward

    if attention_mask is not None:  # a mask made elsewhere: it says what may be attended, sdpa applies it
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    if query.shape[2] != key.shape[2]:
        raise ValueError(f"{PACKED_SDPA} is for training (no cache): {query.shape[2]} queries, {key.shape[2]} keys")
    groups = getattr(module, "num_key_value_groups", 1)
    if groups > 1:
        key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    length = query.shape[2]
    rows = []
    for b in range(query.shape[0]):
        starts = [0]
        if position_ids is not None:
            pos = position_ids[min(b, position_ids.shape[0] - 1)]
            starts += ((pos[1:] - pos[:-1]) != 1).nonzero().flatten().add(1).tolist()
        lengths = [e - s for s, e in pairwise(starts + [length])]
        # split, not slices: its backward joins the samples' gradients in one copy instead of one row-sized
        # zero tensor per sample
        parts = zip(*(x[b].split(lengths, dim=1) for x in (query, key, value)), strict=True)
        rows.append(torch.cat([F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True,
                                                              scale=scaling) for q, k, v in parts], dim=1))
    return torch.stack(rows).transpose(1, 2).contiguous(), None


def packed_attention(model) -> str:
    """Switch ``model`` to the attention kernel for packed rows (no attention mask, position ids restarting at
    each sample) and return its name: flex_attention on a CUDA GPU (it builds the block mask from the position ids
    and skips the masked blocks), else packed_sdpa. Models with sliding-window or soft-capped attention keep
    their own kernel, which builds the per-sample mask itself."""
    import torch
    from transformers import AttentionInterface

    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    if any(kind != "full_attention" for kind in getattr(config, "layer_types", None) or ()) \
            or getattr(config, "use_sliding_window", False) or getattr(config, "attn_logit_softcapping", None):
        return model.config._attn_implementation
    if torch.cuda.is_available():  # Trainer moves the model there
        try:
            model.set_attn_implementation("flex_attention")
            return "flex_attention"
        except (ImportError, ValueError) as e:
            print(f"train: flex_attention unavailable ({e}); using {PACKED_SDPA}", file=sys.stderr)
    AttentionInterface.register(PACKED_SDPA, packed_sdpa)
    model.set_attn_implementation(PACKED_SDPA)
    return PACKED_SDPA


def _tokens_per_second_callback():
    from transformers import TrainerCallback

    class TokensPerSecond(TrainerCallback):
        """Adds real (non-pad) tokens/s to every log line, so the progress output shows throughput."""

        def on_train_begin(self, args, state, control, **kw):
            self.t, self.seen = time.perf_counter(), state.num_input_tokens_seen

        def on_log(self, args, state, control, logs=None, **kw):
            now = time.perf_counter()
            if logs is not None and "loss" in logs and now > self.t:
                logs["tok/s"] = round((state.num_input_tokens_seen - self.seen) / (now - self.t))
                self.t, self.seen = now, state.num_input_tokens_seen

    return TokensPerSecond()


def train(cfg: Config, fresh: bool = False, progress: bool = True) -> dict:
    import torch
    from transformers import Trainer, TrainingArguments, set_seed

    from .loss import LabelledLossTrainer, labelled_loss_unsupported

    t = cfg.train
    if t.method == "qlora" and (why := four_bit_unavailable()):
        raise ConfigError(f"{cfg.source}: train.method: qlora loads the base in 4 bits, which this machine cannot: "
                          f"{why}; or use method = \"lora\"")
    data_dir = cfg.path(cfg.dataset.out_dir)
    for name in ("train.jsonl", "dev.jsonl"):
        if not (data_dir / name).exists():
            raise ConfigError(f"{data_dir / name} not found: run `make dataset` first")
    out = cfg.path(t.output_dir)
    ckpt_dir = out / "checkpoints"
    state = _distributed_state()  # under `accelerate launch`: one of several processes
    main_process = state is None or state.is_main_process
    processes = 1 if state is None else state.num_processes  # each takes its own batch_size samples per step
    set_seed(t.seed)

    with _main_process_first(state):  # what every process reads is made once, by the main process
        if fresh and main_process and ckpt_dir.exists():
            shutil.rmtree(ckpt_dir)
        path = ensure_base(cfg, progress)
    tokenizer = load_tokenizer(path)
    plan = preflight(cfg, path, tokenizer)  # resolves cfg.train (presets) and refuses what cannot work, up front
    if main_process:
        report(cfg, plan, out)
    budget = trained_prompt_budget(cfg)
    train_rows, train_stats = encode_file(tokenizer, data_dir / "train.jsonl", t.cutoff_len, budget)
    dev_rows, dev_stats = encode_file(tokenizer, data_dir / "dev.jsonl", t.cutoff_len, budget)
    if not train_rows:
        raise ConfigError(f"{data_dir / 'train.jsonl'} has no trainable sample; see {data_dir / 'report.md'}")

    model = load_model(path, cfg.model.dtype, quantize_4bit=t.method == "qlora")
    model.config.use_cache = False
    if t.packing:
        # packed rows have no attention mask: attend within each sample only, without computing the row × row
        # square that sdpa with a block-diagonal mask would (about 2x on the 1.5B shape: performance anchors)
        packed_attention(model)
    if t.method != "full":
        model = peft_wrap(cfg, model)
    if t.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if t.method != "full":
            model.enable_input_require_grads()

    has_dev = bool(dev_rows)
    args = TrainingArguments(
        output_dir=str(ckpt_dir), num_train_epochs=t.epochs, max_steps=t.max_steps or -1,
        per_device_train_batch_size=t.batch_size, per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum, learning_rate=t.learning_rate,
        warmup_steps=t.warmup_ratio,  # a float < 1 is a ratio in v5
        lr_scheduler_type="cosine", weight_decay=0.0, seed=t.seed, data_seed=t.seed,
        eval_strategy="epoch" if has_dev else "no", save_strategy="epoch", save_total_limit=2,
        load_best_model_at_end=has_dev, metric_for_best_model="eval_loss", greater_is_better=False,
        logging_steps=max(1, min(50, len(train_rows) // (t.batch_size * t.grad_accum * processes) // 4 or 1)),
        logging_first_step=True, include_num_input_tokens_seen="non_padding", report_to="none",
        bf16=torch_bf16(model), disable_tqdm=not progress, remove_unused_columns=False, use_cache=False,
        dataloader_num_workers=0, dataloader_pin_memory=torch.cuda.is_available(),
    )
    # the loss over labelled positions only, chunked (training/loss.py); models whose logits are more than the
    # output layer's keep their own
    unsupported = labelled_loss_unsupported(model)
    if unsupported:
        print(f"train: using the model's own loss ({unsupported})", file=sys.stderr)
    trainer_class = Trainer if unsupported else LabelledLossTrainer
    trainer = trainer_class(model=model, args=args, train_dataset=train_rows, eval_dataset=dev_rows or None,
                            data_collator=collator(tokenizer, t.packing), processing_class=tokenizer,
                            callbacks=[_tokens_per_second_callback()])
    with _main_process_first(state):  # the main process removes half-written checkpoints, then all agree
        last = last_complete_checkpoint(ckpt_dir)
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - t0

    adapter = out / "adapter"
    if main_process:  # under `accelerate launch` only one process writes outputs
        if adapter.exists():
            shutil.rmtree(adapter)
        trained: Any = trainer.model  # typed nn.Module | None: here the PeftModel, or the base for full fine-tuning
        trained.save_pretrained(str(adapter))
        tokenizer.save_pretrained(str(adapter))
        d = cfg.dataset
        write_manifest(adapter, Manifest(
            base=cfg.model.base, base_path=path, method=t.method, base_revision=plan.base_revision,
            persona_prompt=cfg.persona.system_prompt, cutoff_len=t.cutoff_len, burst_gap_s=d.burst_gap_s,
            session_gap_s=d.session_gap_s, max_turn_lines=d.max_turn_lines, max_turns=d.max_turns,
            chat_format=FORMAT_VERSION, end_of_turn=plan.end_of_turn,
            template_kwargs=plan.template_kwargs, preset=plan.preset.preset, train=t.model_dump(mode="json"),
            dataset=fingerprint(data_dir / "train.jsonl", data_dir / "dev.jsonl"), warnings=plan.warnings))
    metrics = {
        "base": cfg.model.base, "base_path": path, "method": t.method, "preset": plan.preset.preset,
        "resumed_from": last, "warnings": plan.warnings, "processes": trainer.args.world_size,
        "steps": trainer.state.global_step, "train_seconds": round(seconds, 2),
        "train_loss": round(result.training_loss, 4),
        "train_samples": train_stats.samples, "train_tokens": train_stats.tokens,
        "trained_tokens": train_stats.trained_tokens, "dropped_turns": train_stats.dropped_turns,
        "samples_without_trainable_tokens": train_stats.empty + dev_stats.empty,
        "tokens_per_second": round(train_stats.tokens * trainer.state.epoch / seconds) if seconds else None,
    }
    if has_dev:
        dev_loss = trainer.evaluate()["eval_loss"]
        metrics |= {"dev_samples": dev_stats.samples, "dev_loss": round(dev_loss, 4),
                    "dev_perplexity": round(math.exp(min(dev_loss, 50)), 3)}
    metrics["epochs"] = [{k: v for k, v in h.items()} for h in trainer.state.log_history if "eval_loss" in h]
    if main_process:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
        _plot_loss(trainer.state.log_history, out / "loss.png")
    return metrics


def _distributed_state():
    """accelerate's process state when this is one of several processes (`accelerate launch`, torchrun), else
    None: a single process never sets up a process group. Without a GPU the processes run on the CPU (gloo), for
    Trainer too (it reads ACCELERATE_USE_CPU)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch
    from accelerate import PartialState

    if not torch.cuda.is_available():
        os.environ.setdefault("ACCELERATE_USE_CPU", "true")
    return PartialState(cpu=os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes", "on"))


def _main_process_first(state):
    return state.main_process_first() if state is not None else contextlib.nullcontext()


def last_complete_checkpoint(ckpt_dir: Path) -> str | None:
    """The newest checkpoint a run can resume from: one whose trainer_state.json (written last by Trainer) exists.

    A kill while saving leaves a newer folder without it; such half-written folders are removed, so the resumed
    run saves that step afresh instead of resuming from (or rotating around) a broken checkpoint."""
    if not ckpt_dir.is_dir():
        return None
    found = []
    for d in ckpt_dir.glob("checkpoint-*"):
        suffix = d.name.rsplit("-", 1)[1]
        if d.is_dir() and suffix.isdigit():
            found.append((int(suffix), d))
    found.sort(reverse=True)
    for i, (_, d) in enumerate(found):
        if (d / "trainer_state.json").is_file():
            for _, broken in found[:i]:
                shutil.rmtree(broken, ignore_errors=True)
            return str(d)
    return None


def torch_bf16(model) -> bool:
    import torch

    return next(model.parameters()).dtype == torch.bfloat16 and torch.cuda.is_available()


def _plot_loss(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(h["step"], h["loss"]) for h in history if "loss" in h]
    dev = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    if train:
        ax.plot(*zip(*train, strict=True), label="train")
    if dev:
        ax.plot(*zip(*dev, strict=True), marker="o", label="dev")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
