"""Bot throughput: 16 chats talking to the clone at once, batched local engine vs one generate call at a time.

Every chat is a friend sending ``--turns`` messages one after another (the next once the reply arrived), each
through the whole responder (allowlist, history in sqlite, trimming to the token budget, the training chat
format) into the local engine. Prompts are the friend turns of dev.jsonl, so lengths are the dataset's. Both
modes use the same model, greedy decoding and max_new_tokens; only ``bot.engine.max_batch`` differs (16 vs 1),
measured in the same run. Target (issue #4): batched >= 4x the replies/s of one-at-a-time.

Shapes: ``tiny`` (default) is the trained embedded clone, LoRA merged in as the bot serves it. Its decoding step
is so cheap that per-step overhead, not the weights, dominates, so batching gains little on it. ``qwen2.5-0.5b``
is a random-init model with the real Qwen2.5-0.5B dimensions (the tiny tokenizer's vocabulary; no download): like
any real base, a decoding step there is bound by reading the weights, which a batch shares. Random weights rarely
emit the end-of-turn token, so every reply runs to max_new_tokens in both modes alike.

    python benchmarks/bot_bench.py [--config config.toml] [--shape tiny|qwen2.5-0.5b] [--chats 16] [--turns 3]
                                   [--max-new-tokens 32]
"""
from __future__ import annotations

import argparse
import asyncio
import json
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


async def run_mode(cfg, model, tokenizer, max_batch: int, chats: int, turns: int, lines: list[str]) -> dict:
    from bot.chat import Incoming
    from runtime.engine import LocalEngine, decoding, prompt_budget
    from bot.history import History
    from bot.responder import Responder

    engine = LocalEngine(model, tokenizer, decoding(cfg), max_prompt_tokens=prompt_budget(cfg),
                         max_batch=max_batch, batch_wait_s=cfg.bot.engine.batch_wait_ms / 1000)
    with tempfile.TemporaryDirectory() as tmp:
        cfg.bot.data_dir = Path(tmp)
        history = History(Path(tmp))
        responder = Responder(cfg, engine, history)
        latencies: list[float] = []

        async def chat(c: int) -> None:
            reply = Timed()
            for t in range(turns):
                msg = Incoming("bench", str(c), f"friend {c}", False, str(c), f"friend {c}",
                               lines[(c * turns + t) % len(lines)])
                t0 = time.perf_counter()
                await responder.on_message(msg, reply)
                await responder.settle(msg.chat_key)
                if len(reply.arrived) > t:
                    latencies.append(reply.arrived[t] - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(chat(c) for c in range(chats)))
        wall = time.perf_counter() - t0
        await engine.aclose()
        history.close()
    latencies.sort()
    return {"max_batch": max_batch, "replies": len(latencies), "seconds": round(wall, 2),
            "replies_per_s": round(len(latencies) / wall, 2), "generate_calls": engine.batches,
            "p50_s": round(statistics.median(latencies), 3),
            "p95_s": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", type=Path, default=ROOT / "config.toml")
    ap.add_argument("--chats", type=int, default=16)
    ap.add_argument("--turns", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--shape", choices=("tiny", "qwen2.5-0.5b"), default="tiny")
    args = ap.parse_args()

    import torch

    from core.config import load
    from core.quiet import quiet_libraries
    from runtime.models import adapter_dir, load_for_generation
    from training.prerequisites import ensure_adapter

    cfg = load(args.config, overrides={"bot.debounce_s": 0.0, "bot.message_pause_s": 0.0,
                                       "bot.rate_limit": 10_000, "bot.allow": ["bench:*"],
                                       "bot.engine.temperature": 0.0, "bot.engine.repetition_penalty": 1.0,
                                       "bot.engine.max_new_tokens": args.max_new_tokens})
    quiet_libraries()
    ensure_adapter(cfg)
    model, tokenizer = load_for_generation(adapter_dir(cfg))
    if args.shape != "tiny":
        from train_bench import SHAPES
        from transformers import Qwen2Config, Qwen2ForCausalLM

        torch.manual_seed(0)
        model = Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                                             eos_token_id=tokenizer.eos_token_id, **SHAPES[args.shape])).eval()
    lines = friend_lines(cfg.path(cfg.dataset.out_dir) / "dev.jsonl", args.chats * args.turns)
    what = "clone tiny + merged adapter" if args.shape == "tiny" else f"random-init {args.shape} shape"
    print(f"{args.chats} chats x {args.turns} messages, {what}, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M params, greedy, "
          f"{args.max_new_tokens} new tokens max, {torch.get_num_threads()} threads", file=sys.stderr)
    results = {}
    for name, batch in (("one-at-a-time", 1), ("batched", args.chats)):
        results[name] = asyncio.run(run_mode(cfg, model, tokenizer, batch, args.chats, args.turns, lines))
        print(f"{name:>14}: {results[name]}", file=sys.stderr)
    ratio = results["batched"]["replies_per_s"] / results["one-at-a-time"]["replies_per_s"]
    print(json.dumps({**results, "throughput_ratio": round(ratio, 2), "target": 4.0}))
    print(f"batched / one-at-a-time throughput: {ratio:.2f}x (target >= 4x)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
