"""Bot throughput and latency: chats arriving at random times, answered by the local engine with continuous
batching (``bot.engine.max_batch`` 16) vs one reply at a time (max_batch 1), in the same run.

Every chat is a friend whose first message arrives at a seeded Poisson time (``--load`` new chats per idle reply
time, so one-at-a-time is overloaded that many times over), then sends ``--turns`` messages one after another
(the next once the reply arrived), each through the whole responder (allowlist, history in sqlite, trimming to the
token budget, the training chat format) into the local engine. Prompts are the friend turns of dev.jsonl, so
lengths are the dataset's. Both modes use the same model, greedy decoding, max_new_tokens and arrival times.
Reported per mode: replies/s (replies over first arrival to last reply), p50/p95 latency (message handed to the
responder to the reply's first message), and the idle single reply: one message while nothing else runs.
Targets: on the tiny clone, batched >= 4x the replies/s of one-at-a-time; on the qwen2.5-0.5b shape, batched p95
latency under this load <= 1.5x the idle single reply.

Shapes: ``tiny`` (default) is the trained embedded clone, LoRA merged in as the bot serves it (built first if
missing, as `python -m training prepare` does). ``qwen2.5-0.5b`` is a random-init model with the real Qwen2.5-0.5B
dimensions and vocabulary (151,936; no download; ``--layers`` fewer than its 24 to shorten the run); prompts still
come from the tiny tokenizer, whose ids are a subset. Random weights rarely emit the end-of-turn token, so every
reply runs to max_new_tokens in both modes alike.

``--prefill-only``: time and peak memory of prefilling 16 prompts x 448 tokens on the chosen shape, computing the
logits of every position (what a plain forward does) vs the last position only (runtime.decoding.Decoder.add).

    python benchmarks/bot_bench.py [--config config.toml] [--shape tiny|qwen2.5-0.5b] [--layers N] [--chats 16]
                                   [--turns 3] [--max-new-tokens 32] [--load 8] [--seed 0] [--prefill-only]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Timed:
    """A Reply that records when the first message of each answer arrived."""

    def __init__(self):
        self.arrived: list[float] = []

    async def typing(self) -> None:
        pass

    async def send(self, text: str) -> None:
        self.arrived.append(time.perf_counter())


def friend_lines(dev: Path, n: int) -> list[str]:
    lines = [m["content"].split("\n")[-1] for line in dev.read_text(encoding="utf-8").splitlines()
             for m in json.loads(line)["messages"] if m["role"] == "user"]
    return [lines[i % len(lines)] for i in range(n)]


def poisson_arrivals(n: int, rate: float, seed: int) -> list[float]:
    """Seconds from the start at which each chat's first message arrives; the first at 0."""
    rng, t, out = random.Random(seed), 0.0, []
    for _ in range(n):
        out.append(t)
        t += rng.expovariate(rate)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_mode(cfg, model, tokenizer, max_batch: int, arrivals: list[float], turns: int, lines: list[str],
                   idle_replies: int = 0) -> dict:
    """Chat c starts at arrivals[c] and sends ``turns`` messages in a row; with ``idle_replies``, that many single
    messages are first answered one by one on the idle engine."""
    from bot.chat import Incoming
    from bot.history import History
    from bot.responder import Responder
    from core.conversation import Rules
    from runtime.engine import LocalEngine, decoding, prompt_budget

    engine = LocalEngine(model, tokenizer, decoding(cfg), max_prompt_tokens=prompt_budget(cfg),
                         max_batch=max_batch, batch_wait_s=cfg.bot.engine.batch_wait_ms / 1000)
    with tempfile.TemporaryDirectory() as tmp:
        cfg.bot.data_dir = Path(tmp)
        history = History(Path(tmp), Rules.from_config(cfg))
        responder = Responder(cfg, engine, history)

        async def say(chat: str, text: str, reply: Timed) -> float | None:
            msg = Incoming("bench", chat, f"friend {chat}", False, chat, f"friend {chat}", text)
            sent, t0 = len(reply.arrived), time.perf_counter()
            await responder.on_message(msg, reply)
            await responder.settle(msg.chat_key)
            return reply.arrived[sent] - t0 if len(reply.arrived) > sent else None

        idle = [await say(f"idle{i}", lines[i % len(lines)], Timed()) for i in range(idle_replies)]
        latencies: list[float] = []
        start = time.perf_counter()

        async def chat(c: int) -> None:
            await asyncio.sleep(max(0.0, start + arrivals[c] - time.perf_counter()))
            reply = Timed()
            for t in range(turns):
                if (latency := await say(str(c), lines[(c * turns + t) % len(lines)], reply)) is not None:
                    latencies.append(latency)

        await asyncio.gather(*(chat(c) for c in range(len(arrivals))))
        wall = time.perf_counter() - start
        await engine.aclose()
        history.close()
    out = {"max_batch": max_batch, "replies": len(latencies), "seconds": round(wall, 2),
           "prefills": engine.prefills, "steps": engine.steps}
    if latencies:
        out.update(replies_per_s=round(len(latencies) / wall, 3), p50_s=round(statistics.median(latencies), 3),
                   p95_s=round(percentile(latencies, 0.95), 3))
    if idle:
        out["idle_single_s"] = round(statistics.median(t for t in idle if t is not None), 3)
    return out


class FoldedVocab:
    """The tiny tokenizer for a model with the real 152k vocabulary: ids past its own vocabulary are folded into it
    when decoding, so a random model's reply is still text the responder sends (its content does not matter)."""

    def __init__(self, tokenizer):
        self._tokenizer, self._size = tokenizer, len(tokenizer)

    def __getattr__(self, name):
        return getattr(self._tokenizer, name)

    def __call__(self, *args, **kwargs):
        return self._tokenizer(*args, **kwargs)

    def __len__(self) -> int:
        return self._size

    def decode(self, ids, **kwargs) -> str:
        return self._tokenizer.decode([i % self._size for i in ids], **kwargs)


def build(args, cfg):
    """(model, tokenizer, description) for ``args.shape``."""
    import torch

    from runtime.models import adapter_dir, load_for_generation
    from training.prerequisites import ensure_adapter

    ensure_adapter(cfg)
    model, tokenizer = load_for_generation(adapter_dir(cfg))
    if args.shape == "tiny":
        return model, tokenizer, "clone tiny + merged adapter"
    from train_bench import QWEN_VOCAB, SHAPES
    from transformers import Qwen2Config, Qwen2ForCausalLM

    dims = {**SHAPES[args.shape], **({"num_hidden_layers": args.layers} if args.layers else {})}
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(vocab_size=QWEN_VOCAB, pad_token_id=tokenizer.pad_token_id,
                                         eos_token_id=tokenizer.eos_token_id, **dims)).eval()
    if torch.cuda.is_available():
        model = model.to("cuda")
    label = f"random-init {args.shape} shape, {dims['num_hidden_layers']} layers, vocab {QWEN_VOCAB}"
    return model, FoldedVocab(tokenizer), label


# ---- --prefill-only ----

def _memory_mark() -> float:
    """Reset the peak-memory counter; returns the current use in bytes (GPU: allocated; CPU: RSS)."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated()
    Path("/proc/self/clear_refs").write_text("5")  # Linux: peak RSS (VmHWM) := current RSS
    return _status_kib("VmRSS") * 1024


def _memory_peak() -> float:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()
    return _status_kib("VmHWM") * 1024


def _status_kib(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def prefill_only(model, prompts: int, length: int, repeats: int) -> dict:
    """Peak memory rise and time of one prefill of ``prompts`` x ``length`` random ids, both ways."""
    import torch
    from transformers import DynamicCache

    from runtime.decoding import Decoder, Decoding, _cache_argument

    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (prompts, length), generator=gen)
    cache_arg = _cache_argument(model)

    def full_logits():  # every position's logits, then the last one kept: a plain forward
        batch = ids.to(device)
        with torch.inference_mode():
            return model(input_ids=batch, attention_mask=torch.ones_like(batch), use_cache=True,
                         **{cache_arg: DynamicCache()}).logits[:, -1, :]

    def last_only():  # the decoder's own prefill
        Decoder(model, Decoding(), stop_ids={0}, pad_id=0).add(ids.tolist(), list(range(prompts)))

    out = {}
    for name, run in (("last_position", last_only), ("full_logits", full_logits)):
        times, rises = [], []
        for _ in range(repeats):
            base = _memory_mark()
            t0 = time.perf_counter()
            run()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
            rises.append(_memory_peak() - base)
        out[name] = {"seconds": round(min(times), 3), "peak_rise_gib": round(max(rises) / 2**30, 3)}
    out["time_ratio"] = round(out["full_logits"]["seconds"] / out["last_position"]["seconds"], 2)
    out["memory_ratio"] = round(out["full_logits"]["peak_rise_gib"] / max(out["last_position"]["peak_rise_gib"],
                                                                             1e-6), 1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", type=Path, default=ROOT / "config.toml")
    ap.add_argument("--shape", choices=("tiny", "qwen2.5-0.5b"), default="tiny")
    ap.add_argument("--layers", type=int, default=0, help="qwen2.5-0.5b: decoder layers (default: the real 24)")
    ap.add_argument("--chats", type=int, default=16)
    ap.add_argument("--turns", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--load", type=float, default=8.0,
                    help="new chats per idle single-reply time (the Poisson arrival rate, in those units)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prefill-only", action="store_true")
    ap.add_argument("--prefill-prompts", type=int, default=16)
    ap.add_argument("--prefill-tokens", type=int, default=448)
    args = ap.parse_args()

    import torch

    from core.config import load
    from core.quiet import quiet_libraries

    cfg = load(args.config, overrides={"bot.debounce_s": 0.0, "bot.message_pause_s": 0.0,
                                       "bot.rate_limit": 10_000, "bot.allow": ["bench:*"],
                                       "bot.engine.temperature": 0.0, "bot.engine.repetition_penalty": 1.0,
                                       "bot.engine.max_new_tokens": args.max_new_tokens})
    quiet_libraries()
    model, tokenizer, what = build(args, cfg)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"cpu, {torch.get_num_threads()} threads"
    params = sum(p.numel() for p in model.parameters()) / 1e6
    if args.prefill_only:
        print(f"prefill of {args.prefill_prompts} prompts x {args.prefill_tokens} tokens, {what}, {params:.0f}M "
              f"params, {device}", file=sys.stderr)
        result = prefill_only(model, args.prefill_prompts, args.prefill_tokens, repeats=2)
        print(json.dumps({"prefill": result, "shape": what, "device": device}))
        for name in ("full_logits", "last_position"):
            print(f"{name:>14}: {result[name]['seconds']:.2f} s, peak +{result[name]['peak_rise_gib']:.2f} GiB",
                  file=sys.stderr)
        return 0

    lines = friend_lines(cfg.path(cfg.dataset.out_dir) / "dev.jsonl", args.chats * args.turns)
    print(f"{args.chats} chats x {args.turns} messages, Poisson arrivals at {args.load:g} per idle reply time, "
          f"{what}, {params:.1f}M params, greedy, {args.max_new_tokens} new tokens max, {device}", file=sys.stderr)
    # the idle single reply sets the time unit of the arrival rate; measured on the batched engine, idle
    idle = asyncio.run(run_mode(cfg, model, tokenizer, args.chats, [], args.turns, lines, idle_replies=3))
    idle_s = idle["idle_single_s"]
    arrivals = poisson_arrivals(args.chats, args.load / idle_s, args.seed)
    results = {}
    for name, batch in (("one-at-a-time", 1), ("batched", args.chats)):
        results[name] = asyncio.run(run_mode(cfg, model, tokenizer, batch, arrivals, args.turns, lines))
        print(f"{name:>14}: {results[name]}", file=sys.stderr)
    ratio = results["batched"]["replies_per_s"] / results["one-at-a-time"]["replies_per_s"]
    p95_idle = results["batched"]["p95_s"] / idle_s
    summary = {"shape": what, "device": device, "idle_single_s": idle_s, "arrival_span_s": round(arrivals[-1], 2),
               **results, "throughput_ratio": round(ratio, 2), "p95_over_idle": round(p95_idle, 2),
               "p50_over_idle": round(results["batched"]["p50_s"] / idle_s, 2),
               "targets": {"throughput_ratio": 4.0, "p95_over_idle": 1.5}}
    print(json.dumps(summary))
    print(f"idle single reply {idle_s:.3f} s; arrivals over {arrivals[-1]:.1f} s. batched / one-at-a-time "
          f"throughput: {ratio:.2f}x (target >= 4x on tiny); batched p50 {results['batched']['p50_s']:.3f} s, "
          f"p95 {results['batched']['p95_s']:.3f} s = {p95_idle:.2f}x idle (target <= 1.5x on qwen2.5-0.5b)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
