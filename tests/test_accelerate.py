"""`python -m training train` under `accelerate launch` with two CPU processes (gloo, loopback only): one set of
outputs, written once, and the same training as one process with the same global batch.

On CPUs, `accelerate launch --cpu --num_processes 2` starts a single process unless MPI is installed (its CPU
launcher is mpirun); its process-per-device launcher (`--multi_gpu`, torchrun) starts two, which training.train
puts on the CPU (gloo) when there is no GPU. The run records how many processes trained, so a silent
single-process run fails."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PER_DEVICE, PROCESSES, STEPS = 2, 2, 3
TRAIN = {"max_steps": STEPS, "lora_dropout": 0.0, "learning_rate": 5e-3, "warmup_ratio": 0.0, "seed": 3}


def conversation(i: int) -> list[dict]:
    return [{"role": "system", "content": "你是林小夏，一个住在杭州的插画师。"},
            {"role": "user", "content": f"周末{i}点去西湖吗" * (1 + i % 3)},
            {"role": "assistant", "content": f"好呀 {i * 5 % 11} 冲鸭🐱" * (1 + i % 2)},
            {"role": "user", "content": "那我订票了"},
            {"role": "assistant", "content": "哈哈哈 好的~"}]


def write_run(root: Path, base_dir: Path, **train) -> Path:
    """A config.toml for a small run in `root`: 16 training samples of different lengths; four identical dev
    samples, so that every process's evaluation batch holds as many labelled tokens as a single process's."""
    data = root / "data"
    data.mkdir(parents=True)
    (data / "train.jsonl").write_text("".join(json.dumps({"messages": conversation(i)}, ensure_ascii=False) + "\n"
                                              for i in range(16)), encoding="utf-8")
    (data / "dev.jsonl").write_text((json.dumps({"messages": conversation(99)}, ensure_ascii=False) + "\n") * 4,
                                    encoding="utf-8")
    toml = [f'[dataset]\nout_dir = "data"\n[model]\ncache_dir = {json.dumps(str(base_dir.parent))}\n'
            '[train]\noutput_dir = "run"'] + [f"{k} = {json.dumps(v)}" for k, v in {**TRAIN, **train}.items()]
    (root / "config.toml").write_text("\n".join(toml) + "\n", encoding="utf-8")
    return root / "config.toml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def outputs(run: Path) -> dict:
    from safetensors.torch import load_file

    checkpoints = sorted((run / "checkpoints").iterdir())
    state = json.loads((checkpoints[-1] / "trainer_state.json").read_text())
    return {"files": sorted(p.name for p in run.iterdir()),
            "adapter": sorted(p.name for p in (run / "adapter").iterdir()),
            "weights": load_file(str(run / "adapter" / "adapter_model.safetensors")),
            "metrics": json.loads((run / "metrics.json").read_text()),
            "losses": [h["loss"] for h in state["log_history"] if "loss" in h]}


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory, base_dir):
    config = write_run(tmp_path_factory.mktemp("two"), base_dir, batch_size=PER_DEVICE, grad_accum=1)
    # without a GPU, training.train runs the processes on the CPU itself (ACCELERATE_USE_CPU for Trainer)
    env = {**{k: v for k, v in os.environ.items() if k != "ACCELERATE_USE_CPU"}, "GLOO_SOCKET_IFNAME": "lo",
           "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(PROCESSES),
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_ip", "127.0.0.1", "--main_process_port", str(free_port()),
           "-m", "training", "train", "--config", str(config), "--quiet"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc, outputs(config.parent / "run")


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, base_dir):
    """The same global batch (2 processes × 2 samples) in one process: 2 samples × 2 accumulation steps."""
    from core.config import load
    from training.train import train

    config = write_run(tmp_path_factory.mktemp("one"), base_dir, batch_size=PER_DEVICE, grad_accum=PROCESSES)
    train(load(config), progress=False)
    return outputs(config.parent / "run")


def test_one_set_of_outputs(two_processes):
    proc, out = two_processes
    assert out["files"] == ["adapter", "checkpoints", "loss.png", "metrics.json", "resolved_config.json"]
    assert {"adapter_model.safetensors", "adapter_config.json", "chatclone.json"} <= set(out["adapter"])
    assert out["metrics"]["steps"] == STEPS and out["metrics"]["processes"] == PROCESSES
    assert proc.stderr.count("preset 'tiny'") == 1, "the resolved settings are reported by the main process only"


def test_same_training_as_one_process_with_the_same_global_batch(two_processes, one_process):
    _, two = two_processes
    assert two["metrics"]["processes"] == PROCESSES and one_process["metrics"]["processes"] == 1
    assert two["metrics"]["steps"] == one_process["metrics"]["steps"] == STEPS
    assert two["losses"] == pytest.approx(one_process["losses"], rel=1e-4)
    assert len(two["losses"]) == STEPS
    assert two["metrics"]["train_loss"] == pytest.approx(one_process["metrics"]["train_loss"], abs=1e-4)
    assert two["metrics"]["dev_loss"] == pytest.approx(one_process["metrics"]["dev_loss"], abs=1e-4)
    a, b = two["weights"], one_process["weights"]
    assert a.keys() == b.keys() and a
    for name in a:
        assert (a[name] - b[name]).abs().max().item() <= 1e-4 * max(b[name].abs().max().item(), 1e-3), name
    moved = [name for name in a if "lora_B" in name and a[name].abs().max() > 0]
    assert moved, "training changed the adapter (a fresh LoRA B is zero)"
