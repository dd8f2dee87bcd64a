"""Training throughput and memory: our LoRA step vs a stock HF+PEFT padded step, measured in the same run.

Both setups train on the same samples in the same order (``--batch`` samples per optimizer step, so both see the
same real tokens per step) with the same LoRA (the base's preset: rank, alpha, target modules; dropout 0), the same
initial weights and AdamW, in a plain loop: forward, loss, backward, optimizer step. Warm-up steps are not timed.

- ours: the project's step — training.train.peft_wrap, training.train.collator(packing=True) (one packed row,
  position ids restarting per sample, no attention mask), attention within each sample only
  (training.train.packed_attention: flex_attention on a GPU, sdpa per sample elsewhere), the loss computed at the
  labelled positions only, chunk by chunk (training.loss.labelled_loss, what LabelledLossTrainer calls).
- stock: what a typical tutorial does — get_peft_model, DataCollatorForSeq2Seq with right padding and an
  attention mask, sdpa, the model's own loss (logits for every position, padding included).

What is trained:
- ``--shape tiny`` (default): the embedded tiny base.
- ``--model PATH``: a local model folder (a real base, or one built by scripts/make_shrunk_base.py), with the
  settings training would resolve for it (core/presets.toml).
- ``--shape qwen2.5-0.5b|qwen2.5-1.5b|qwen2.5-7b``: random-init models with the published Qwen2.5 dimensions and
  vocabulary (151,936 rows; the 7B's 152,064; no download); ``--layers N`` keeps only N decoder layers (the output
  layer and loss, whose cost is what grows with the vocabulary, stay whole). On a CUDA GPU they run in bf16.

``--method qlora``: both setups load the base in 4 bits (NF4, bitsandbytes, as training.train loads it; a random-init
shape is saved to a temporary folder first) and prepare it for k-bit training as peft's QLoRA recipe does; the
stock setup is that recipe with padding, ours the project's step on top of it.

Samples (``--samples chat``, default): the chat dataset (data/dataset/train.jsonl; the bundled persona's when it is
missing, built into a temporary folder), encoded as training encodes it with the trained model's tokenizer and
chat template, so the labelled share and the lengths are those of real training (the shapes use the real Qwen2.5
tokenizer of the shrunk qwen2.5-instruct base). ``--samples synthetic``: lognormal lengths (median 80, 12..1024),
every token labelled, as in the H100 anchors of shared/reference/performance-anchors.md.

Each setup runs in its own child process, so memory is its own: torch.cuda.max_memory_allocated on a GPU (weights
included); on the CPU the rise of the resident set over its size just before the first step (the step's own
memory: activations, logits, gradients, optimizer state; Linux resets the high-water mark there through
/proc/self/clear_refs). ``--repeat N`` runs the pair N times, alternating which goes first, and prints every
pair's ratios and their spread, since other work on a shared machine moves the timings. On a shared CPU, run it
with OMP_WAIT_POLICY=PASSIVE (or ``--threads 1``): OpenMP threads that spin while waiting for a descheduled
partner cost the many small operations of a packed step several times their work.

    python benchmarks/train_bench.py [--shape tiny|qwen2.5-0.5b|... | --model PATH] [--layers N] [--steps 20]
                                     [--batch 16] [--repeat 3] [--method lora|qlora] [--json F]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Dimensions of the hub models' config.json (the 7B's embedding has 152,064 rows, the smaller ones' 151,936); the
# weights are random since only speed and memory are measured.
SHAPES = {
    "qwen2.5-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, tie_word_embeddings=True, vocab_size=151936),
    "qwen2.5-1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                         num_key_value_heads=2, tie_word_embeddings=True, vocab_size=151936),
    "qwen2.5-7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                       num_key_value_heads=4, tie_word_embeddings=False, vocab_size=152064),
}
SETUPS = ("stock", "ours")
# (device, shape, method) -> (min ours/stock real tok/s, max ours/stock memory, min ours real tok/s, max ours GiB)
TARGETS = {
    ("cpu", "tiny", "lora"): (2.0, None, None, None),
    ("cpu", "qwen2.5-0.5b", "lora"): (4.0, 0.3, None, None),
    ("cuda", "qwen2.5-1.5b", "lora"): (10.0, None, 25_000, 8.0),
    ("cuda", "qwen2.5-7b", "lora"): (None, None, 10_000, 24.0),
    ("cuda", "qwen2.5-7b", "qlora"): (None, None, None, 12.0),
}


# ---- the parent: what to train and on which samples ----

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


def chat_samples(cfg, tokenizer, n: int, seed: int, scratch: Path) -> tuple[list[dict], str]:
    """n samples of the chat dataset encoded as training encodes them, reshuffled every pass."""
    from core.config import load
    from data_prep.build import build
    from training.data import encode_file

    path = cfg.path(cfg.dataset.out_dir) / "train.jsonl"
    source = str(cfg.dataset.out_dir / "train.jsonl")
    if not path.exists():  # the bundled persona's dataset, as `make dataset` builds it on a fresh clone
        bundled = load(overrides={"dataset.out_dir": str(scratch / "dataset")})
        build(bundled, progress=False)
        path, source = scratch / "dataset" / "train.jsonl", "the bundled persona's dataset"
    rows, _ = encode_file(tokenizer, path, cfg.train.cutoff_len)
    rng, out = random.Random(seed), []
    while rows and len(out) < n:
        order = rows[:]
        rng.shuffle(order)
        out += order
    return out[:n], source


def plan(args, scratch: Path) -> dict:
    """Everything both children need, so they build the same model and see the same samples."""
    import torch
    from transformers.utils import logging as hf_logging

    from core.config import Config
    from core.presets import resolve
    from runtime.models import load_tokenizer
    from training.prerequisites import ensure_base

    hf_logging.disable_progress_bar()
    cuda = torch.cuda.is_available()
    # dropout 0: both setups compute the same losses
    cfg = Config.model_validate({"train": {"lora_dropout": 0.0, "method": args.method}})
    if args.model:
        path = str(Path(args.model).resolve())
        cfg.model.base = path
        from training.preflight import model_config

        config = model_config(path)
        name = Path(path).name
    elif args.shape == "tiny":
        path = ensure_base(cfg, progress=False)
        config, name = json.loads((Path(path) / "config.json").read_text()), "tiny"
    else:
        path = None
        config = dict(SHAPES[args.shape], model_type="qwen2")
        name = args.shape
    if args.layers:
        config = dict(config, num_hidden_layers=args.layers)
    resolve(cfg.train, "tiny" if name == "tiny" else cfg.model.base if args.model else name, config)
    if args.gradient_checkpointing is not None:
        cfg.train.gradient_checkpointing = args.gradient_checkpointing == "on"
    elif path is None and cuda:
        cfg.train.gradient_checkpointing = True  # as the GPU anchors ran the 1.5B / 7B shapes

    n = (args.warmup + args.steps) * args.batch
    weights = path
    if args.method == "qlora":
        from runtime.models import four_bit_unavailable

        if why := four_bit_unavailable():
            raise SystemExit(f"train_bench --method qlora: {why}")
        if path is None or config.get("num_hidden_layers") != _saved_layers(path):
            weights = str(save_random(config, path, cfg.model.dtype, scratch / "weights"))
    if path is None:  # the real Qwen2.5 tokenizer and chat template, from the shrunk base
        from scripts.make_shrunk_base import build as build_shrunk

        tokenizer_path = str(build_shrunk("qwen2.5-instruct", scratch / "qwen2.5-tokenizer"))
    else:
        tokenizer_path = path
    tokenizer = load_tokenizer(tokenizer_path)
    if args.samples == "chat":
        samples, source = chat_samples(cfg, tokenizer, n, args.seed, scratch)
    else:
        samples = synthetic_samples(n, config["vocab_size"], args.seed)
        source = "synthetic lognormal lengths (median 80, 12..1024), every token labelled"
    return {"name": name, "path": path, "weights": weights, "config": config, "dtype": cfg.model.dtype,
            "tokenizer": tokenizer_path, "method": args.method,
            "train": cfg.train.model_dump(mode="json"), "samples": samples, "source": source,
            "steps": args.steps, "warmup": args.warmup, "batch": args.batch, "seed": args.seed,
            "attn": args.attn, "cuda": cuda, "threads": args.threads}


# ---- a child: one setup ----

def build_model(spec: dict, attn: str, device: str):
    import torch

    from runtime.models import load_model

    if spec["method"] == "qlora":  # loaded as training loads it: quantized on its way in, on its device
        model = load_model(spec["weights"], spec["dtype"], quantize_4bit=True)
        model.set_attn_implementation(attn)
        return model
    if spec["path"] is not None and spec["config"].get("num_hidden_layers") == _saved_layers(spec["path"]):
        model = load_model(spec["path"], spec["dtype"])
        model.set_attn_implementation(attn)
        return model.to(device)
    with torch.device(device):  # initialise on the GPU: a 7B fp32 init on the CPU would take minutes
        return random_model(spec["config"], spec["path"], spec["dtype"], attn)


def random_model(config: dict, path: str | None, dtype: str, attn: str = "sdpa"):
    """Random weights in the shape of ``config``: a folder's own config with fewer layers, or a Qwen2.5 shape."""
    from transformers import AutoModelForCausalLM, Qwen2Config

    from runtime.models import torch_dtype

    if path is not None:
        from transformers import AutoConfig

        model_config = AutoConfig.from_pretrained(path, num_hidden_layers=config["num_hidden_layers"])
    else:
        model_config = Qwen2Config(max_position_embeddings=32768,
                                   rope_parameters={"rope_type": "default", "rope_theta": 1e6},
                                   **{k: v for k, v in config.items() if k != "model_type"})
    return AutoModelForCausalLM.from_config(model_config, dtype=torch_dtype(dtype), attn_implementation=attn)


def save_random(config: dict, path: str | None, dtype: str, folder: Path) -> Path:
    """A random-init model saved to ``folder``, for loading in 4 bits (bitsandbytes quantizes while loading)."""
    import torch

    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = random_model(config, path, dtype)
    model.save_pretrained(folder)
    del model
    return folder


def _saved_layers(path: str) -> int:
    config = json.loads((Path(path) / "config.json").read_text())
    return (config.get("text_config") or config)["num_hidden_layers"]


def wrap(setup: str, spec: dict, model):
    """The LoRA model, collator and loss of one setup."""
    import torch

    from core.config import Config

    cfg = Config.model_validate({"train": spec["train"]})
    t = cfg.train
    torch.manual_seed(spec["seed"])  # same LoRA init in both setups
    if setup == "ours":
        from training.loss import labelled_loss
        from training.train import collator, packed_attention, peft_wrap

        model.config.use_cache = False  # as train.train(): with a cache the packed samples attend to each other
        if spec["attn"]:
            model.set_attn_implementation(spec["attn"])
        else:
            packed_attention(model)
        model, collate = peft_wrap(cfg, model), collator(None, packing=True)
        loss_of = lambda m, batch: labelled_loss(m, batch)[0]  # noqa: E731
    else:
        # Spelt out instead of borrowed from training/, so a change to our step never moves the baseline.
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
        from transformers import DataCollatorForSeq2Seq

        if t.method == "qlora":
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=t.gradient_checkpointing)
        model = get_peft_model(model, LoraConfig(r=t.lora_r, lora_alpha=t.lora_alpha, lora_dropout=t.lora_dropout,
                                                 target_modules=t.target_modules, task_type="CAUSAL_LM"))
        from runtime.models import load_tokenizer

        tokenizer = load_tokenizer(spec["tokenizer"])
        tokenizer.padding_side = "right"
        collate = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
        loss_of = lambda m, batch: m(**batch).loss  # noqa: E731
    if t.gradient_checkpointing:  # both, as train.train() does
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    return model, collate, loss_of


def _rss_kib(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def run_setup(spec: dict, setup: str) -> dict:
    """Child process: build one setup, train warmup + steps, return its measurements."""
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore")  # library deprecation notes would bury the table
    cuda = spec["cuda"]
    device = "cuda" if cuda else "cpu"
    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    torch.manual_seed(spec["seed"])
    model, collate, loss_of = wrap(setup, spec, build_model(spec, "sdpa", device))
    attn = model.config._attn_implementation
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=spec["train"]["learning_rate"])
    samples, b = spec["samples"], spec["batch"]
    chunks = [samples[i:i + b] for i in range(0, len(samples), b)]
    batches = [collate([dict(s) for s in chunk]) for chunk in chunks]

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
    losses, real, slots, labelled = [], 0, 0, 0
    t0, c0 = time.perf_counter(), time.process_time()
    for step, (chunk, batch) in enumerate(zip(chunks, batches, strict=True)):
        if step == spec["warmup"]:
            sync()
            t0, c0, real, slots, labelled = time.perf_counter(), time.process_time(), 0, 0, 0
        batch = {k: v.to(device) for k, v in batch.items()}
        loss = loss_of(model, batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.detach())
        real += sum(len(s["input_ids"]) for s in chunk)
        slots += batch["input_ids"].numel()
        labelled += int((batch["labels"][:, 1:] != -100).sum())
    sync()
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    out = {"setup": setup, "attn": attn, "real_tok_s": round(real / seconds, 1),
           "real_tok_per_cpu_s": round(real / cpu_seconds, 1),
           "padding_share": round(1 - real / slots, 3), "labelled_share": round(labelled / real, 3),
           "ms_per_step": round(1000 * seconds / spec["steps"], 2),
           "real_tokens_per_step": round(real / spec["steps"], 1), "losses": [round(x.item(), 6) for x in losses],
           "device": torch.cuda.get_device_name() if cuda else f"cpu x{torch.get_num_threads()}",
           "params": sum(p.numel() for p in model.parameters()),
           "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad)}
    if cuda:
        out["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    else:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out["peak_rss_mib"] = round(peak_kib / 1024, 1)
        out["step_rss_rise_mib"] = None if rss_before is None else round((peak_kib - rss_before) / 1024, 1)
    return out


def child(spec_file: Path, setup: str) -> dict:
    cmd = [sys.executable, __file__, "--child", str(spec_file), "--setup", setup]
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if proc.returncode:
        raise SystemExit(f"train_bench: the {setup} setup failed (exit {proc.returncode}); see its output above")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_child(spec: dict, setup: str) -> dict:
    """A child's measurements; the stock setup running out of GPU memory is a result too (a tutorial's recipe
    that does not fit), reported in place of its numbers."""
    import torch

    try:
        return run_setup(spec, setup)
    except torch.OutOfMemoryError:
        if setup != "stock":
            raise
        return {"setup": setup, "failed": "out of GPU memory"}


# ---- the report ----

def mem_value(r: dict) -> float | None:
    """GiB: the GPU peak, or the CPU step's resident-set rise."""
    if "peak_gib" in r:
        return r["peak_gib"]
    return None if r["step_rss_rise_mib"] is None else r["step_rss_rise_mib"] / 1024


def memory(r: dict) -> str:
    if "peak_gib" in r:
        return f"{r['peak_gib']:.2f} GiB peak"
    rise = r["step_rss_rise_mib"]
    return (f"+{rise / 1024:.2f} GiB" if rise is not None else "?") + f" (RSS {r['peak_rss_mib'] / 1024:.2f} GiB)"


def spread(values: list[float]) -> str:
    med = statistics.median(values)
    return f"{med:.2f}x" + (f" (min {min(values):.2f}, max {max(values):.2f}, n={len(values)})" if len(values) > 1
                            else "")


def report(args, spec: dict, runs: list[dict[str, dict]]) -> dict:
    pairs = [r for r in runs if "failed" not in r["stock"]]  # runs with a baseline to compare with
    speedups = [r["ours"]["real_tok_s"] / r["stock"]["real_tok_s"] for r in pairs]
    cpu_speedups = [r["ours"]["real_tok_per_cpu_s"] / r["stock"]["real_tok_per_cpu_s"] for r in pairs]
    mems = [mem_value(r["ours"]) / mem_value(r["stock"]) for r in pairs
            if mem_value(r["ours"]) is not None and mem_value(r["stock"])]
    first = runs[0]["ours"]
    loss_diff = max((abs(a - b) for r in pairs for a, b in zip(r["stock"]["losses"], r["ours"]["losses"], strict=True)),
                    default=None)
    layers = spec["config"].get("num_hidden_layers")
    vocab = spec["config"]["vocab_size"]
    print(f"\n{spec['name']}{' in 4 bits (qlora)' * (spec['method'] == 'qlora')} ({first['params']:,} params, "
          f"{layers} layers, vocabulary {vocab:,}; "
          f"{first['trainable']:,} LoRA) on {first['device']}; samples: {spec['source']}; {args.batch} samples/step, "
          f"{args.steps} timed steps after {args.warmup} warm-up; labelled share "
          f"{first['labelled_share']:.0%}\n")
    print("| run | setup | attention | real tok/s | padding | ms/step | real tokens/step | step memory | "
          "loss first→last |")
    print("|---|---|---|---|---|---|---|---|---|")
    for i, r in enumerate(runs, 1):
        for name, x in (("stock HF+PEFT, padded", r["stock"]), ("ours (packed, labelled-only loss)", r["ours"])):
            if "failed" in x:
                print(f"| {i} | {name} | failed: {x['failed']} | | | | | | |")
                continue
            print(f"| {i} | {name} | {x['attn']} | {x['real_tok_s']:,.0f} | {x['padding_share']:.1%} | "
                  f"{x['ms_per_step']:.1f} | {x['real_tokens_per_step']:,.0f} | {memory(x)} | "
                  f"{x['losses'][0]:.4f}→{x['losses'][-1]:.4f} |")
    kind = "peak" if "peak_gib" in first else "step"
    if pairs:
        print(f"\nours / stock: {spread(speedups)} real tok/s" + (f", {spread(mems)} the {kind} memory" if mems else "")
              + f"; max |loss difference| over all steps: {loss_diff:.2e} (same samples, same init: both train the "
              "same thing)")
    else:
        print("\nno ratio: the stock setup failed in every run")
    if not spec["cuda"] and pairs:
        print(f"real tokens per CPU-second of the process: {spread(cpu_speedups)} (less moved by other work on the "
              "machine than wall time, with one thread)")
    summary = {"model": spec["name"], "method": spec["method"], "layers": layers, "batch": args.batch,
               "steps": args.steps, "warmup": args.warmup, "seed": args.seed, "samples": spec["source"], "runs": runs,
               "speedup": round(statistics.median(speedups), 3) if speedups else None,
               "speedups": [round(x, 3) for x in speedups],
               "cpu_time_speedups": [round(x, 3) for x in cpu_speedups],
               "memory_ratio": round(statistics.median(mems), 3) if mems else None,
               "memory_ratios": [round(x, 3) for x in mems], "max_abs_loss_diff": loss_diff}
    target = TARGETS.get(("cuda" if spec["cuda"] else "cpu", spec["name"], spec["method"]))
    if target and args.samples == "chat" and not args.model:
        min_speed, max_mem, min_tok_s, max_gib = target
        ours_tok_s = statistics.median(r["ours"]["real_tok_s"] for r in runs)
        ours_gib = statistics.median(mem_value(r["ours"]) for r in runs)
        checks = []
        if min_speed:
            checks.append((f"≥ {min_speed:g}x stock real tok/s", (summary["speedup"] or 0) >= min_speed,
                           f"{summary['speedup']}x"))
        if max_mem:
            checks.append((f"≤ {max_mem:g}x stock step memory", summary["memory_ratio"] is not None
                           and summary["memory_ratio"] <= max_mem, f"{summary['memory_ratio']}x"))
        if min_tok_s:
            checks.append((f"≥ {min_tok_s:,} real tok/s", ours_tok_s >= min_tok_s, f"{ours_tok_s:,.0f}"))
        if max_gib:
            checks.append((f"≤ {max_gib:g} GiB", ours_gib is not None and ours_gib <= max_gib, f"{ours_gib:.2f} GiB"))
        summary["target_met"] = all(ok for _, ok, _ in checks)
        print("target: " + "; ".join(f"{what}: {'met' if ok else 'MISSED'} ({got})" for what, ok, got in checks)
              + " (medians)")
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = ap.add_mutually_exclusive_group()
    what.add_argument("--shape", choices=["tiny", *SHAPES], default="tiny")
    what.add_argument("--model", type=Path, help="a local model folder (e.g. from scripts/make_shrunk_base.py)")
    ap.add_argument("--layers", type=int, default=None, help="keep this many decoder layers (random weights when "
                    "fewer than a --model folder has)")
    ap.add_argument("--samples", choices=["chat", "synthetic"], default="chat")
    ap.add_argument("--steps", type=int, default=20, help="timed optimizer steps per setup")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (flex_attention compiles here)")
    ap.add_argument("--batch", type=int, default=16, help="samples per step, packed (ours) or padded (stock)")
    ap.add_argument("--repeat", type=int, default=1, help="run the pair this many times and report the spread")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gradient-checkpointing", choices=["on", "off"], default=None,
                    help="both setups (default: the preset's; on for the real shapes on a GPU)")
    ap.add_argument("--attn", default=None, help="our attention kernel (default: training.train.packed_attention's "
                    "choice: flex_attention on a GPU, per-sample sdpa on the CPU); stock always uses sdpa")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads in each setup (default: torch's "
                    "choice, one per core); 1 keeps timings steadier on a machine other work shares, where threads "
                    "that wait for each other lose whole time slices")
    ap.add_argument("--method", choices=["lora", "qlora"], default="lora", help="qlora: the base in 4 bits "
                    "(bitsandbytes) in both setups")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # internal: run one setup of a plan
    ap.add_argument("--setup", choices=SETUPS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_child(json.loads(args.child.read_text()), args.setup)), flush=True)
        return
    if args.steps < 1 or args.batch < 1 or args.warmup < 0 or args.repeat < 1 or (args.layers or 1) < 1:
        ap.error("--steps, --batch, --repeat and --layers must be ≥ 1, --warmup ≥ 0")
    if args.model and not (args.model / "config.json").is_file():
        ap.error(f"--model {args.model}: no config.json there")
    with tempfile.TemporaryDirectory(prefix="train_bench-") as tmp:
        scratch = Path(tmp)
        spec = plan(args, scratch)
        spec_file = scratch / "plan.json"
        spec_file.write_text(json.dumps(spec), encoding="utf-8")
        runs = []
        for i in range(args.repeat):
            order = SETUPS if i % 2 == 0 else SETUPS[::-1]
            runs.append({setup: child(spec_file, setup) for setup in order})
    summary = report(args, spec, runs) | {"load_average": os.getloadavg()[0], "cpu_cores": os.cpu_count(),
                                          "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}
    if summary["load_average"] > os.cpu_count():
        print(f"note: load average {summary['load_average']:.1f} on {os.cpu_count()} cores: other work shared the "
              "CPU during this run, so the timings are contended"
              + ("" if summary["omp_wait_policy"] or args.threads == 1 else "; with several threads, "
                 "OMP_WAIT_POLICY=PASSIVE keeps waiting threads from spinning on cores the others need"))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
