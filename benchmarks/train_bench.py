"""Training throughput: our LoRA step vs a stock HF+PEFT padded step, in the same run, on chat-shaped samples.

Both setups train on the same samples in the same order (``--batch`` samples per optimizer step, so both see
the same real tokens per step) with the same LoRA (r16, alpha 32, every linear layer, dropout 0), the same
initial weights and AdamW, in a plain loop: forward, backward, optimizer step. Warm-up steps are not timed.

- ours: the project's step — training.train.peft_wrap, training.train.collator(packing=True) (one packed row,
  position ids restarting per sample, no attention mask), use_cache off; flex_attention on a GPU.
- stock: what a typical tutorial does — get_peft_model, DataCollatorForSeq2Seq with right padding and an
  attention mask, sdpa.

Shapes: ``tiny`` (default, CPU) is the embedded tiny base on the real dataset's samples (data/dataset/train.jsonl
through core.chat_format.encode; synthetic lengths when it is missing). ``qwen2.5-1.5b`` / ``qwen2.5-7b`` are
random-init models with the real Qwen2.5 dimensions (no download), bf16 with gradient checkpointing on a CUDA GPU,
on synthetic lognormal lengths (median 80 tokens, clipped to 12..1024) — the setting of the H100 anchors in
shared/reference/performance-anchors.md (stock 2,473 real tok/s on the 1.5B shape).

Each setup runs in its own child process, so peak memory is its own: torch.cuda.max_memory_allocated on a GPU
(weights included); on the CPU the peak RSS of the process and its rise over the RSS just before the first step
(Linux: the high-water mark is reset there through /proc/self/clear_refs). Collating is done before timing.
Target (issue): on the 1.5B shape ours ≥ 10x stock real tok/s at ≤ 8 GiB peak.

    python benchmarks/train_bench.py [--shape tiny|qwen2.5-1.5b|qwen2.5-7b] [--steps 20] [--batch 16] [--json F]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Dimensions of the hub models' config.json; the weights are random since only speed and memory are measured.
SHAPES = {
    "qwen2.5-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, tie_word_embeddings=True),
    "qwen2.5-1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                         num_key_value_heads=2, tie_word_embeddings=True),
    "qwen2.5-7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                       num_key_value_heads=4, tie_word_embeddings=False),
}
QWEN_VOCAB = 151936
SETUPS = ("stock", "ours")
TARGET_SHAPE, TARGET_SPEEDUP, TARGET_GIB = "qwen2.5-1.5b", 10.0, 8.0


def bench_config(shape: str):
    """Pinned here rather than read from config.toml so runs stay comparable. Dropout 0 (as in the anchors) makes
    both setups compute the same losses, which the report checks."""
    from core.config import Config

    return Config.model_validate({"train": {"lora_dropout": 0.0, "gradient_checkpointing": shape != "tiny"}})


def chat_lengths(n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [min(1024, max(12, round(rng.lognormvariate(math.log(80), 0.9)))) for _ in range(n)]


def synthetic_samples(n: int, vocab: int, seed: int) -> list[dict]:
    rng = random.Random(seed + 1)
    out = []
    for length in chat_lengths(n, seed):
        ids = [rng.randrange(vocab) for _ in range(length)]
        out.append({"input_ids": ids, "labels": list(ids)})
    return out


def dataset_samples(cfg, tokenizer, n: int, seed: int) -> list[dict] | None:
    """n samples from train.jsonl, encoded as training encodes them, reshuffled every pass; None if it is missing."""
    from training.data import encode_file

    path = cfg.path(cfg.dataset.out_dir) / "train.jsonl"
    if not path.exists():
        return None
    rows, _ = encode_file(tokenizer, path, cfg.train.cutoff_len)
    rng, out = random.Random(seed), []
    while rows and len(out) < n:
        order = rows[:]
        rng.shuffle(order)
        out += order
    return out[:n] or None


def build_model(cfg, shape: str, attn: str, device: str):
    import torch
    from runtime.models import load_model, torch_dtype
    from training.prerequisites import ensure_base

    if shape == "tiny":
        model = load_model(ensure_base(cfg, progress=False), cfg.model.dtype)
        model.set_attn_implementation(attn)
        return model.to(device)
    from transformers import AutoModelForCausalLM, Qwen2Config

    config = Qwen2Config(vocab_size=QWEN_VOCAB, max_position_embeddings=32768,
                         rope_parameters={"rope_type": "default", "rope_theta": 1e6}, **SHAPES[shape])
    with torch.device(device):  # initialise on the GPU: a 7B fp32 init on the CPU would take minutes
        return AutoModelForCausalLM.from_config(config, dtype=torch_dtype(cfg.model.dtype), attn_implementation=attn)


def wrap(setup: str, cfg, model, tokenizer, seed: int):
    """The LoRA model and collator of one setup."""
    import torch

    torch.manual_seed(seed)  # same LoRA init in both setups
    if setup == "ours":
        from training.train import collator, peft_wrap

        model.config.use_cache = False  # as train.train(): with a cache the packed samples attend to each other
        model, collate = peft_wrap(cfg, model), collator(tokenizer, packing=True)
    else:
        # Spelt out instead of borrowed from training/, so a change to our step never moves the baseline.
        from peft import LoraConfig, get_peft_model
        from transformers import DataCollatorForSeq2Seq

        t = cfg.train
        model = get_peft_model(model, LoraConfig(r=t.lora_r, lora_alpha=t.lora_alpha, lora_dropout=t.lora_dropout,
                                                 target_modules=t.target_modules, task_type="CAUSAL_LM"))
        tokenizer.padding_side = "right"
        collate = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    if cfg.train.gradient_checkpointing:  # both, as train.train() does
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    return model, collate


def _rss_kib(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def run_setup(args) -> dict:
    """Child process: build one setup, train warmup + steps, return its measurements."""
    import torch
    from runtime.models import load_tokenizer
    from training.prerequisites import ensure_base
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)  # library deprecation notes would bury the table
    cuda = torch.cuda.is_available()
    if args.shape != "tiny" and not cuda:
        raise SystemExit(f"--shape {args.shape}: needs a CUDA GPU (random-init {args.shape} in bf16); "
                         "use --shape tiny on the CPU")
    device = "cuda" if cuda else "cpu"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    cfg = bench_config(args.shape)
    tokenizer = load_tokenizer(ensure_base(cfg, progress=False))  # real ids for tiny; only padding for the others
    n = (args.warmup + args.steps) * args.batch
    samples = dataset_samples(cfg, tokenizer, n, args.seed) if args.shape == "tiny" else None
    source = f"{cfg.dataset.out_dir / 'train.jsonl'}" if samples else "synthetic lognormal, median 80, 12..1024"
    if samples is None:
        samples = synthetic_samples(n, len(tokenizer) if args.shape == "tiny" else QWEN_VOCAB, args.seed)

    torch.manual_seed(args.seed)
    attn = args.attn if args.setup == "ours" else "sdpa"
    model, collate = wrap(args.setup, cfg, build_model(cfg, args.shape, attn, device), tokenizer, args.seed)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.train.learning_rate)
    chunks = [samples[i:i + args.batch] for i in range(0, n, args.batch)]
    batches = [collate(chunk) for chunk in chunks]

    def sync():
        if cuda:
            torch.cuda.synchronize()

    rss_before = None
    if not cuda:
        try:
            Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS, so the peak is the loop's
            rss_before = _rss_kib("VmRSS")
        except OSError:
            pass  # not Linux: the peak below then includes loading
    losses, real, slots = [], 0, 0
    for step, (chunk, batch) in enumerate(zip(chunks, batches)):
        if step == args.warmup:
            sync()
            t0, real, slots = time.perf_counter(), 0, 0
        batch = {k: v.to(device) for k, v in batch.items()}
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.detach())
        real += sum(len(s["input_ids"]) for s in chunk)
        slots += batch["input_ids"].numel()
    sync()
    seconds = time.perf_counter() - t0
    out = {"setup": args.setup, "attn": attn, "real_tok_s": round(real / seconds, 1),
           "padding_share": round(1 - real / slots, 3), "ms_per_step": round(1000 * seconds / args.steps, 2),
           "real_tokens_per_step": round(real / args.steps, 1), "losses": [round(x.item(), 6) for x in losses],
           "samples": source, "device": torch.cuda.get_device_name() if cuda else f"cpu x{torch.get_num_threads()}",
           "params": sum(p.numel() for p in model.parameters()),
           "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad)}
    if cuda:
        out["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    else:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out["peak_rss_mib"] = round(peak_kib / 1024, 1)
        out["step_rss_rise_mib"] = None if rss_before is None else round((peak_kib - rss_before) / 1024, 1)
    return out


def child(args, setup: str) -> dict:
    cmd = [sys.executable, __file__, "--setup", setup, "--shape", args.shape, "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--batch", str(args.batch), "--seed", str(args.seed), "--attn", args.attn]
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if proc.returncode:
        raise SystemExit(f"train_bench: the {setup} setup failed (exit {proc.returncode}); see its output above")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def memory(r: dict) -> str:
    if "peak_gib" in r:
        return f"{r['peak_gib']:.2f} GiB"
    rise = r["step_rss_rise_mib"]
    return f"{r['peak_rss_mib']:.0f} MiB" + ("" if rise is None else f" (+{rise:.1f} in steps)")


def mem_value(r: dict) -> float | None:
    return r["peak_gib"] if "peak_gib" in r else r["step_rss_rise_mib"]


def report(args, results: dict[str, dict]) -> dict:
    stock, ours = results["stock"], results["ours"]
    speedup = ours["real_tok_s"] / stock["real_tok_s"]
    m_stock, m_ours = mem_value(stock), mem_value(ours)
    mem_ratio = m_ours / m_stock if m_stock and m_ours is not None else None
    loss_diff = max(abs(a - b) for a, b in zip(stock["losses"], ours["losses"]))
    print(f"\nshape {args.shape} ({ours['params']:,} params, {ours['trainable']:,} LoRA) on {ours['device']}; "
          f"samples: {ours['samples']}; {args.batch} samples/step, {args.steps} timed steps after {args.warmup} "
          f"warm-up\n")
    print("| setup | attention | real tok/s | padding | ms/step | real tokens/step | peak memory | loss first→last |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in (("stock HF+PEFT, padded", stock), ("ours (packed)", ours)):
        print(f"| {name} | {r['attn']} | {r['real_tok_s']:,.0f} | {r['padding_share']:.1%} | {r['ms_per_step']:.1f} "
              f"| {r['real_tokens_per_step']:,.0f} | {memory(r)} | {r['losses'][0]:.4f}→{r['losses'][-1]:.4f} |")
    mem_text = "" if mem_ratio is None else f", {mem_ratio:.2f}x the {'peak' if 'peak_gib' in ours else 'step'} memory"
    print(f"\nours / stock: {speedup:.2f}x real tok/s{mem_text}; max |loss difference| over all "
          f"{len(ours['losses'])} steps: {loss_diff:.2e} (same samples, same init: both train the same thing)")
    summary = {"shape": args.shape, "batch": args.batch, "steps": args.steps, "warmup": args.warmup,
               "seed": args.seed, "setups": results, "speedup": round(speedup, 3),
               "memory_ratio": None if mem_ratio is None else round(mem_ratio, 3),
               "max_abs_loss_diff": loss_diff}
    if args.shape == TARGET_SHAPE:
        met = speedup >= TARGET_SPEEDUP and ours["peak_gib"] <= TARGET_GIB
        summary["target_met"] = met
        print(f"target: ours ≥ {TARGET_SPEEDUP:.0f}x stock at ≤ {TARGET_GIB:.0f} GiB peak: "
              f"{'met' if met else 'MISSED'} ({speedup:.2f}x, {ours['peak_gib']:.2f} GiB)")
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=["tiny", *SHAPES], default="tiny")
    ap.add_argument("--steps", type=int, default=20, help="timed optimizer steps per setup")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (flex_attention compiles here)")
    ap.add_argument("--batch", type=int, default=16, help="samples per step, packed (ours) or padded (stock)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--attn", default=None, help="our attention kernel (default: flex_attention for the GPU shapes, "
                    "sdpa for tiny: flex_attention has no backward on the CPU); stock always uses sdpa")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--setup", choices=SETUPS, help=argparse.SUPPRESS)  # internal: run one setup in this process
    args = ap.parse_args()
    if args.steps < 1 or args.batch < 1 or args.warmup < 0:
        ap.error("--steps and --batch must be ≥ 1, --warmup ≥ 0")
    if args.setup:
        print(json.dumps(run_setup(args)), flush=True)
        return
    if args.attn is None:
        args.attn = "flex_attention" if args.shape != "tiny" else "sdpa"
    results = {setup: child(args, setup) for setup in SETUPS}
    summary = report(args, results) | {"load_average": os.getloadavg()[0], "cpu_cores": os.cpu_count()}
    if summary["load_average"] > os.cpu_count():
        print(f"note: load average {summary['load_average']:.1f} on {os.cpu_count()} cores: other work shared the "
              "CPU during this run, so the timings are contended")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
