"""Bot throughput and latency: chats arriving at random times, answered by the local engine with continuous
batching (``max_batch`` = the number of chats) vs one reply at a time (max_batch 1), in the same run.

Every chat is a friend whose first message arrives at a seeded Poisson time (``--load`` new chats per idle reply
time, so with the default 8 one-at-a-time is overloaded many times over), then sends ``--turns`` messages one after
another (the next once the reply arrived), each through the whole responder (allowlist, history in sqlite, the
conversation rules and the training chat format) into the local engine. Prompts are the friend turns of dev.jsonl,
so lengths are the dataset's. Both modes use the same model, greedy decoding, max_new_tokens and arrival times.

Reported per mode: replies/s (replies over first arrival to last reply), p50/p95 latency (message handed to the
responder to the reply's first message; also counted on the engine worker's CPU clock, which leaves out the time
other processes of a shared machine took its core), model calls, prompt tokens and how many of them were reused
from the chat's earlier turns, and the engine worker's CPU seconds. The idle single reply: two chats of ``--turns``
messages answered while nothing else runs, the median of their latencies; it is the time unit of ``--load`` and the
reference of the latency target. With ``--repeat N`` the whole set (idle, one-at-a-time, batched) runs N times and
the ratios are given as median and range, since a shared machine's load moves every timing.
Targets: on the tiny clone, batched >= 4x the replies/s of one-at-a-time; on the qwen2.5-0.5b shape, batched p95
latency under the arrival load <= 1.5x the idle single reply.

Shapes: ``tiny`` (default) is the trained embedded clone, LoRA merged in as the bot serves it (``--adapter``, or
the config's, trained first if missing as `python -m training prepare` does). ``qwen2.5-0.5b`` is a random-init
model with the real Qwen2.5-0.5B dimensions and vocabulary (151,936; no download; ``--layers`` fewer than its 24 to
shorten the run); prompts still come from the tiny tokenizer, whose ids are a subset. Random weights rarely emit
the end-of-turn token, so every reply runs to max_new_tokens in both modes alike.

Engine settings (defaults: the config's ``bot.engine`` ones): ``--prefill-chunk N`` prompt tokens prefilled per
decoding step (0: a joining prompt is prefilled at once), ``--prefix-tokens N`` tokens of prompts' and replies' keys
and values kept for the chats' next messages (0: none kept, every prompt prefilled whole).

``--prefill-only``: time and peak memory of prefilling 16 prompts x 448 tokens on the chosen shape, computing the
logits of every position (what a plain forward does) vs the last position only (runtime.decoding.Decoder).
``--join-only``: 15 replies decoding while a 448-token prompt joins: the longest wait between two of their tokens
and the newcomer's wait for its first token, prefilled at once vs a slice per step.
``--pick-only``: the time to pick the next token of 16 rows from the model's logits for 16 of the dataset's prompts
with the config's sampling settings (repetition penalty, temperature, top-p), the decoder's way vs transformers'
logits processors and ``torch.multinomial`` (what ``generate`` does).

    python benchmarks/bot_bench.py [--config config.toml] [--adapter DIR] [--shape tiny|qwen2.5-0.5b] [--layers N]
                                   [--chats 16] [--turns 3] [--max-new-tokens 32] [--load 8] [--seed 0]
                                   [--repeat 1] [--no-baseline] [--prefill-chunk N] [--prefix-tokens N]
                                   [--prefill-only | --join-only | --pick-only]
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


def worker_clock(engine) -> float:
    """CPU seconds the engine's worker thread has run so far: latencies on this clock leave out the time other
    processes on a shared machine took the core away from it."""
    worker = engine._worker
    if worker is None or worker.ident is None or not worker.is_alive():
        return engine.worker_cpu_s
    return time.clock_gettime(time.pthread_getcpuclockid(worker.ident))


class Timed:
    """A chat writer that records when the first message of each answer arrived: (wall, worker CPU) seconds."""

    def __init__(self, engine):
        self.engine = engine
        self.arrived: list[tuple[float, float]] = []

    async def typing(self) -> None:
        pass

    async def send(self, text: str) -> None:
        self.arrived.append((time.perf_counter(), worker_clock(self.engine)))


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
                   *, one_by_one: bool = False) -> dict:
    """Chat c starts at arrivals[c] and sends ``turns`` messages in a row; ``one_by_one``: each chat starts once
    the one before it is done (the idle engine)."""
    from bot.chat import Incoming
    from bot.history import History
    from bot.responder import Responder
    from core.conversation import Rules
    from runtime.engine import LocalEngine, batching, decoding, prompt_budget

    engine = LocalEngine(model, tokenizer, decoding(cfg), max_prompt_tokens=prompt_budget(cfg),
                         **{**batching(cfg.bot.engine), "max_batch": max_batch})
    latencies: list[float] = []
    cpu_latencies: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg.bot.data_dir = Path(tmp)
        history = History(Path(tmp), Rules.from_config(cfg))
        responder = Responder(cfg, engine, history)

        async def say(chat: str, text: str, writer: Timed) -> None:
            msg = Incoming("bench", chat, f"friend {chat}", False, chat, f"friend {chat}", text)
            sent, t0, c0 = len(writer.arrived), time.perf_counter(), worker_clock(engine)
            await responder.on_message(msg, writer)
            await responder.settle(msg.chat_key)
            if len(writer.arrived) > sent:
                t1, c1 = writer.arrived[sent]
                latencies.append(t1 - t0)
                cpu_latencies.append(c1 - c0)

        start = time.perf_counter()

        async def chat(c: int) -> None:
            await asyncio.sleep(max(0.0, start + arrivals[c] - time.perf_counter()))
            writer = Timed(engine)
            for t in range(turns):
                await say(str(c), lines[(c * turns + t) % len(lines)], writer)

        if one_by_one:
            for c in range(len(arrivals)):
                await chat(c)
        else:
            await asyncio.gather(*(chat(c) for c in range(len(arrivals))))
        wall = time.perf_counter() - start
        await engine.aclose()
        history.close()
    out = {"max_batch": max_batch, "replies": len(latencies), "seconds": round(wall, 2),
           "prefill_calls": engine.prefills, "steps": engine.steps, "prompt_tokens": engine.prompt_tokens,
           "reused_tokens": engine.reused_tokens, "worker_cpu_s": round(engine.worker_cpu_s, 2)}
    if latencies:
        out.update(replies_per_s=round(len(latencies) / wall, 3), p50_s=round(statistics.median(latencies), 3),
                   p95_s=round(percentile(latencies, 0.95), 3), max_s=round(max(latencies), 3),
                   cpu_p50_s=round(statistics.median(cpu_latencies), 3),
                   cpu_p95_s=round(percentile(cpu_latencies, 0.95), 3))
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
    """(model, tokenizer, description) for ``args.shape``; the config then serves the clone as it was trained."""
    import torch

    from runtime.manifest import MANIFEST, reconcile
    from runtime.models import adapter_dir, load_for_generation
    from training.prerequisites import ensure_adapter

    adapter = args.adapter if args.adapter else ensure_adapter(cfg)
    if (adapter / MANIFEST).exists():
        reconcile(cfg, adapter)
    model, tokenizer = load_for_generation(adapter_dir(cfg, adapter))
    if args.shape == "tiny":
        return model, tokenizer, "clone tiny + merged adapter"
    from train_bench import SHAPES
    from transformers import Qwen2Config, Qwen2ForCausalLM

    dims = {**SHAPES[args.shape], **({"num_hidden_layers": args.layers} if args.layers else {})}
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(pad_token_id=tokenizer.pad_token_id,
                                         eos_token_id=tokenizer.eos_token_id, **dims)).eval()
    if torch.cuda.is_available():
        model = model.to("cuda")
    label = f"random-init {args.shape} shape, {dims['num_hidden_layers']} layers, vocab {dims['vocab_size']}"
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
    """Peak memory rise and time of one prefill of ``prompts`` x ``length`` random ids, both ways (the times of
    every repeat, the largest memory rise)."""
    import torch
    from transformers import DynamicCache

    from runtime.decoding import Decoder, Decoding

    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (prompts, length), generator=gen)
    cache_arg = _cache_argument(model)

    def full_logits():  # every position's logits, then the last one kept: a plain forward
        batch = ids.to(device)
        with torch.inference_mode():
            return model(input_ids=batch, attention_mask=torch.ones_like(batch), use_cache=True,
                         **{cache_arg: DynamicCache()}).logits[:, -1, :]

    def last_only():  # the decoder's own prefill (and the pick of one token)
        decoder = Decoder(model, Decoding(max_new_tokens=1), stop_ids={0})
        decoder.add(ids.tolist(), list(range(prompts)))
        decoder.step()

    out = {}
    for _ in range(repeats):  # alternated, so a change in the machine's load touches both alike
        for name, run in (("last_position", last_only), ("full_logits", full_logits)):
            base = _memory_mark()
            t0 = time.perf_counter()
            run()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            seconds, rise = time.perf_counter() - t0, _memory_peak() - base
            entry = out.setdefault(name, {"seconds": [], "peak_rise_gib": 0.0})
            entry["seconds"].append(round(seconds, 3))
            entry["peak_rise_gib"] = round(max(entry["peak_rise_gib"], rise / 2**30), 3)
    full, last = out["full_logits"], out["last_position"]
    out["time_ratio"] = round(statistics.median(full["seconds"]) / statistics.median(last["seconds"]), 2)
    out["memory_ratio"] = round(full["peak_rise_gib"] / max(last["peak_rise_gib"], 1e-6), 1)
    return out


def _cache_argument(model) -> str:
    """transformers 5.24 renamed forward's ``past_key_values`` to ``cache`` (the old name warns); earlier 5.x
    releases only know the old one."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def join_only(model, running: int, length: int, chunks: list[int | None], repeats: int) -> dict:
    """``running`` replies decode; a ``length``-token prompt joins. Per prefill_chunk: the longest wait between two
    tokens of the running replies while it joins, their usual wait (median step before it), and the newcomer's
    wait from being added to its first token (medians over the repeats)."""
    import torch

    from runtime.decoding import Decoder, Decoding

    gen = torch.Generator().manual_seed(1)
    short = torch.randint(0, model.config.vocab_size, (running, 32), generator=gen).tolist()
    long = torch.randint(0, model.config.vocab_size, (length,), generator=gen).tolist()
    out = {}
    for _ in range(repeats):
        for chunk in chunks:
            decoder = Decoder(model, Decoding(max_new_tokens=10_000), stop_ids={-1}, prefill_chunk=chunk)
            decoder.add(short, list(range(running)))
            while decoder.joining or not decoder.tags:
                decoder.step()
            before, last = [], time.perf_counter()
            for _ in range(4):
                decoder.step()
                before.append(time.perf_counter() - last)
                last = time.perf_counter()
            gaps, t_add = [], last
            decoder.add([long], ["new"])
            while True:  # until the step it joins in, which gives it its first token
                decoder.step()
                gaps.append(time.perf_counter() - last)
                last = time.perf_counter()
                if "new" in decoder.tags:
                    break
            entry = out.setdefault(str(chunk or "at once"), {"step_s": [], "longest_wait_s": [], "newcomer_s": []})
            entry["step_s"].append(statistics.median(before))
            entry["longest_wait_s"].append(max(gaps))
            entry["newcomer_s"].append(last - t_add)
    return {name: {k: round(statistics.median(v), 3) for k, v in e.items()} for name, e in out.items()}


def pick_only(model, tokenizer, cfg, lines: list[str], repeats: int) -> dict:
    """Seconds to pick one token for each of ``lines``' prompts (a batch of rows), both ways: the decoder's
    ``pick`` and transformers' processors. The logits are the model's own for those prompts."""
    import torch
    from transformers import (
        LogitsProcessorList,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopPLogitsWarper,
    )

    from core.chat_format import prompt_ids
    from runtime.decoding import pick
    from runtime.engine import decoding, prompt_budget

    settings = decoding(cfg)
    prompts = [prompt_ids(tokenizer, [{"role": "user", "content": line}], prompt_budget(cfg))[0] for line in lines]
    device = next(model.parameters()).device
    with torch.inference_mode():
        logits = torch.cat([model(input_ids=torch.tensor([p], device=device), logits_to_keep=1).logits[:, -1].float()
                            for p in prompts])
        seen = torch.zeros_like(logits, dtype=torch.bool)
        for row, p in enumerate(prompts):
            seen[row, p] = True
        width = max(map(len, prompts))
        ids = torch.tensor([p + p[:1] * (width - len(p)) for p in prompts], device=device)
        processors = LogitsProcessorList([RepetitionPenaltyLogitsProcessor(settings.repetition_penalty),
                                          TemperatureLogitsWarper(settings.temperature),
                                          TopPLogitsWarper(settings.top_p)])
        generators = [torch.Generator(device=device).manual_seed(i) for i in range(len(prompts))]

        def ours():
            return pick(logits, seen, settings, generators)

        def transformers_way():
            return torch.multinomial(processors(ids, logits.clone()).softmax(-1), 1)

        times: dict[str, list[float]] = {"decoder": [], "transformers": []}
        for _ in range(repeats):
            for name, run in (("decoder", ours), ("transformers", transformers_way)):
                t0 = time.perf_counter()
                run()
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                times[name].append(round(time.perf_counter() - t0, 4))
    return {"rows": len(prompts), "vocab": logits.shape[-1], "settings": settings.__dict__, "seconds": times,
            "ratio": round(statistics.median(times["transformers"]) / statistics.median(times["decoder"]), 1)}


def spread(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2), "max": round(max(values), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", type=Path, default=ROOT / "config.toml")
    ap.add_argument("--adapter", type=Path, help="a trained clone's folder (default: the config's)")
    ap.add_argument("--shape", choices=("tiny", "qwen2.5-0.5b"), default="tiny")
    ap.add_argument("--layers", type=int, default=0, help="qwen2.5-0.5b: decoder layers (default: the real 24)")
    ap.add_argument("--chats", type=int, default=16)
    ap.add_argument("--turns", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--load", type=float, default=8.0,
                    help="new chats per idle single-reply time (the Poisson arrival rate, in those units)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="run idle, one-at-a-time and batched this many times")
    ap.add_argument("--no-baseline", action="store_true", help="skip one-at-a-time (latency only)")
    ap.add_argument("--prefill-chunk", type=int, help="bot.engine.prefill_chunk: prompt tokens prefilled per step; "
                    "0: at once")
    ap.add_argument("--prefix-tokens", type=int, help="bot.engine.prefix_tokens: tokens of keys and values kept for "
                    "the chats' next turns; 0: none")
    ap.add_argument("--prefill-only", action="store_true")
    ap.add_argument("--join-only", action="store_true")
    ap.add_argument("--pick-only", action="store_true")
    ap.add_argument("--prefill-prompts", type=int, default=16)
    ap.add_argument("--prefill-tokens", type=int, default=448)
    args = ap.parse_args()

    import torch

    from core.config import load
    from core.quiet import quiet_libraries

    cfg = load(args.config, overrides={"bot.debounce_s": 0.0, "bot.message_pause_s": 0.0,
                                       "bot.rate_limit": 10_000, "bot.allow": ["bench:*"],
                                       "bot.engine.temperature": 0.0, "bot.engine.repetition_penalty": 1.0,
                                       "bot.engine.max_new_tokens": args.max_new_tokens,
                                       **{f"bot.engine.{k}": v for k, v in (("prefill_chunk", args.prefill_chunk),
                                                                            ("prefix_tokens", args.prefix_tokens))
                                          if v is not None}})
    quiet_libraries()
    model, tokenizer, what = build(args, cfg)
    if args.prefill_only or args.join_only or args.pick_only:  # run here as the engine's worker thread runs
        from runtime.engine import _cpu_threads

        _cpu_threads(model)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"cpu, {torch.get_num_threads()} threads"
    params = sum(p.numel() for p in model.parameters()) / 1e6
    if args.prefill_only:
        print(f"prefill of {args.prefill_prompts} prompts x {args.prefill_tokens} tokens, {what}, {params:.0f}M "
              f"params, {device}", file=sys.stderr)
        result = prefill_only(model, args.prefill_prompts, args.prefill_tokens, repeats=max(2, args.repeat))
        print(json.dumps({"prefill": result, "shape": what, "device": device}))
        for name in ("full_logits", "last_position"):
            print(f"{name:>14}: {result[name]['seconds']} s, peak +{result[name]['peak_rise_gib']:.2f} GiB",
                  file=sys.stderr)
        return 0
    if args.join_only:
        chunks = [None, args.prefill_chunk or 64]
        print(f"{args.chats - 1} replies decoding while a {args.prefill_tokens}-token prompt joins, prefilled at "
              f"once vs {chunks[1]} tokens per step; {what}, {params:.0f}M params, {device}", file=sys.stderr)
        result = join_only(model, args.chats - 1, args.prefill_tokens, chunks, repeats=args.repeat)
        print(json.dumps({"join": result, "shape": what, "device": device}))
        return 0

    if args.pick_only:
        lines = friend_lines(cfg.path(cfg.dataset.out_dir) / "dev.jsonl", args.chats)
        result = pick_only(model, tokenizer, load(args.config), lines, repeats=max(3, args.repeat))
        print(json.dumps({"pick": result, "shape": what, "device": device}))
        print(f"picking {result['rows']} rows' next tokens of a {result['vocab']}-token vocabulary, {what}, {device}: "
              f"transformers' processors / the decoder's {result['ratio']}x", file=sys.stderr)
        return 0

    from runtime.engine import batching

    settings = {k: v for k, v in batching(cfg.bot.engine).items() if k in ("prefill_chunk", "prefix_tokens")}
    lines = friend_lines(cfg.path(cfg.dataset.out_dir) / "dev.jsonl", args.chats * args.turns)
    print(f"{args.chats} chats x {args.turns} messages, Poisson arrivals at {args.load:g} per idle reply time, "
          f"{what}, {params:.1f}M params, greedy, {args.max_new_tokens} new tokens max, engine {settings}"
          f", {device}", file=sys.stderr)
    runs = []
    for rep in range(args.repeat):
        # the idle single reply sets the time unit of the arrival rate: two chats, one after the other, alone
        idle = asyncio.run(run_mode(cfg, model, tokenizer, args.chats, [0.0, 0.0], args.turns, lines,
                                    one_by_one=True))
        idle_s = idle["p50_s"]
        arrivals = poisson_arrivals(args.chats, args.load / idle_s, args.seed)
        run = {"idle_single_s": idle_s, "idle": idle, "arrival_span_s": round(arrivals[-1], 2)}
        modes = (("batched", args.chats),) if args.no_baseline else (("one-at-a-time", 1), ("batched", args.chats))
        for name, batch in modes:
            run[name] = asyncio.run(run_mode(cfg, model, tokenizer, batch, arrivals, args.turns, lines))
        batched = run["batched"]
        run["p95_over_idle"] = round(batched["p95_s"] / idle_s, 2)
        run["p50_over_idle"] = round(batched["p50_s"] / idle_s, 2)
        run["cpu_p95_over_idle"] = round(batched["cpu_p95_s"] / idle["cpu_p50_s"], 2)
        if not args.no_baseline:
            run["throughput_ratio"] = round(batched["replies_per_s"] / run["one-at-a-time"]["replies_per_s"], 2)
            run["worker_cpu_ratio"] = round(run["one-at-a-time"]["worker_cpu_s"] / batched["worker_cpu_s"], 2)
        print(f"run {rep + 1}/{args.repeat}: {json.dumps(run)}", file=sys.stderr)
        runs.append(run)
    keys = ["p95_over_idle", "p50_over_idle", "cpu_p95_over_idle"]
    if not args.no_baseline:
        keys += ["throughput_ratio", "worker_cpu_ratio"]
    summary = {"shape": what, "device": device, "settings": settings, "load": args.load, "chats": args.chats,
               "turns": args.turns, "max_new_tokens": args.max_new_tokens, "runs": runs,
               **{k: spread([r[k] for r in runs]) for k in keys},
               "idle_single_s": spread([r["idle_single_s"] for r in runs]),
               "targets": {"throughput_ratio": 4.0, "p95_over_idle": 1.5}}
    print(json.dumps(summary))
    text = [f"idle single reply {summary['idle_single_s']['median']:.3f} s"]
    if not args.no_baseline:
        t = summary["throughput_ratio"]
        text.append(f"batched / one-at-a-time throughput {t['median']:.2f}x ({t['min']:.2f}-{t['max']:.2f}; target "
                    f">= 4x on tiny)")
    p = summary["p95_over_idle"]
    c = summary["cpu_p95_over_idle"]
    text.append(f"batched p95 latency {p['median']:.2f}x idle ({p['min']:.2f}-{p['max']:.2f}; target <= 1.5x on "
                f"qwen2.5-0.5b), on the worker's CPU clock {c['median']:.2f}x ({c['min']:.2f}-{c['max']:.2f})")
    print("; ".join(text) + f" over {len(runs)} run(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
