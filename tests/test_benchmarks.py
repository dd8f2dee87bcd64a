"""The benchmarks still run and still compare what they say they compare: each mode once, at the smallest sizes,
as a subprocess the way README's commands run them. No timing is asserted (timings belong to the benchmarks'
own ratios); what is checked is what a run must produce whatever the machine: every reply answered in both modes,
the same work done both ways, the two training setups computing the same losses."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def run(*args: str, cwd: Path = ROOT) -> list[dict]:
    """The JSON objects a benchmark printed on stdout."""
    done = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def bench_config(persona_clone, tmp_path_factory) -> Path:
    """A config.toml serving the session's trained persona clone."""
    root = tmp_path_factory.mktemp("bench")
    return persona_clone.config_file(root / "config.toml", root / "bot")


def test_bot_bench_answers_every_message_in_both_modes(bench_config):
    chats, turns = 3, 2
    (summary,) = run("benchmarks/bot_bench.py", "--config", str(bench_config), "--chats", str(chats), "--turns",
                     str(turns), "--max-new-tokens", "3")
    (one_run,) = summary["runs"]
    batched, single = one_run["batched"], one_run["one-at-a-time"]
    assert batched["replies"] == single["replies"] == chats * turns
    assert (batched["max_batch"], single["max_batch"]) == (chats, 1)
    # the same prompts both ways: the same tokens go in, and a chat's second turn reuses its first
    assert batched["prompt_tokens"] == single["prompt_tokens"] > 0
    assert 0 < single["reused_tokens"] < single["prompt_tokens"]
    assert single["steps"] >= batched["steps"]
    assert summary["throughput_ratio"]["median"] > 0 and summary["p95_over_idle"]["median"] > 0


def test_bot_bench_single_modes_run(bench_config):
    config = ["--config", str(bench_config)]
    (pick,) = run("benchmarks/bot_bench.py", *config, "--pick-only", "--chats", "4")
    assert pick["pick"]["rows"] == 4 and pick["pick"]["ratio"] > 0
    (prefill,) = run("benchmarks/bot_bench.py", *config, "--prefill-only", "--prefill-prompts", "2",
                     "--prefill-tokens", "16")
    assert prefill["prefill"]["memory_ratio"] > 0 and prefill["prefill"]["time_ratio"] > 0
    (join,) = run("benchmarks/bot_bench.py", *config, "--join-only", "--chats", "3", "--prefill-tokens", "16",
                  "--prefill-chunk", "4")
    assert set(join["join"]) == {"at once", "4"}


@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_train_bench_setups_compute_the_same_losses(method, base_dir, tmp_path):
    if method == "qlora":
        from runtime.models import four_bit_unavailable

        if why := four_bit_unavailable():
            pytest.skip(why)
    out = tmp_path / "bench.json"
    run("benchmarks/train_bench.py", "--model", str(base_dir), "--steps", "2", "--warmup", "0", "--batch", "2",
        "--threads", "1", "--method", method, "--json", str(out))
    summary = json.loads(out.read_text(encoding="utf-8"))
    (pair,) = summary["runs"]
    assert len(pair["ours"]["losses"]) == len(pair["stock"]["losses"]) == 2
    # same samples, same initial weights: both setups train the same thing (4-bit layers compute in bf16, which
    # packed and padded rows round differently)
    assert summary["max_abs_loss_diff"] < (1e-4 if method == "lora" else 1e-2)
    assert summary["speedup"] > 0 and summary["memory_ratio"] > 0
