"""Dataset build throughput: a synthetic 1M-message WechatExporter export through the whole `make dataset` path.

Prints messages/s and peak RSS of the build (run in a child process so generation does not count), next to two
baselines measured in the same run on the same files: the I/O floor (read + decode + split lines) and parsing alone.
Target: the whole build ≤ 15 s and ≤ 2 GiB on the 2-core CI machine.

    python benchmarks/dataset_bench.py [--messages 1000000] [--chats 200] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FRIEND_LINES = ["今天好累啊", "晚上吃什么", "你看那个电影了吗", "周末有空吗？一起去爬山", "哈哈哈笑死我了", "[图片]",
                "[表情]", "明天几点开会", "我刚到家", "这个怎么弄啊，电话13800138000", "好的收到", "下雨了记得带伞"]
MY_LINES = ["好呀~", "冲鸭！", "绝了🐱", "哈哈哈哈", "我也是[旺柴]", "等我一下~", "在路上了", "没问题~"]
ME = "Owner"


def generate(root: Path, n_messages: int, n_chats: int, seed: int = 1) -> Path:
    rng = random.Random(seed)
    account = root / ME
    per_chat = n_messages // n_chats
    for c in range(n_chats):
        group = c % 5 == 0
        name = f"群聊{c}" if group else f"朋友{c}"
        members = [f"成员{c}_{i}" for i in range(6)] if group else [name]
        t = datetime(2023, 1, 1) + timedelta(minutes=c)
        out = [f"{name} - 微信聊天记录\n\n"]
        for _ in range(per_chat):
            t += timedelta(seconds=rng.choice((5, 20, 60, 300, 4000, 90000)))
            if rng.random() < 0.45:
                sender, text = ME, rng.choice(MY_LINES)
            else:
                sender, text = rng.choice(members), rng.choice(FRIEND_LINES)
            out.append(f"{sender} ({t:%Y-%m-%d %H:%M:%S}):{text}\n")
        d = account / name
        d.mkdir(parents=True)
        (d / "index.txt").write_text("".join(out), encoding="utf-8")
    return root


def io_floor(root: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    lines = 0
    for f in root.rglob("index.txt"):
        lines += len(f.read_bytes().decode("utf-8").splitlines())
    return time.perf_counter() - t0, lines


def parse_only(root: Path) -> tuple[float, int]:
    from data_prep.formats import read_all
    from data_prep.sources import ParseLog

    t0 = time.perf_counter()
    n = sum(1 for _ in read_all([root], ParseLog(), frozenset({ME})))
    return time.perf_counter() - t0, n


def build_child(root: Path, out: Path) -> tuple[float, float]:
    cfg = root / "bench.toml"
    cfg.write_text(f'[persona]\nnames = ["{ME}"]\n[dataset]\ninputs = ["{root / ME}"]\nout_dir = "{out}"\n',
                   encoding="utf-8")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "data_prep", "build", "--config", str(cfg), "--quiet"], cwd=ROOT,
                   check=True)
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, peak_kib / 1024 / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--chats", type=int, default=200)
    ap.add_argument("--keep", type=Path, default=None, help="generate here and keep the files")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        t0 = time.perf_counter()
        generate(root, args.messages, args.chats)
        print(f"generated {args.messages:,} messages in {args.chats} chats in {time.perf_counter() - t0:.1f}s")
        floor_s, lines = io_floor(root)
        parse_s, n = parse_only(root)
        build_s, peak_gib = build_child(root, root / "out")
        report = {
            "messages": n, "io_floor_s": round(floor_s, 2), "parse_s": round(parse_s, 2),
            "build_s": round(build_s, 2), "build_msgs_per_s": round(n / build_s),
            "peak_rss_gib": round(peak_gib, 3),
            "build_vs_io_floor": round(build_s / floor_s, 1), "parse_vs_io_floor": round(parse_s / floor_s, 1),
        }
        print(json.dumps(report, indent=1))
        print(f"target ≤15 s: {'met' if build_s <= 15 else 'MISSED'} ({build_s:.1f}s); "
              f"target ≤2 GiB: {'met' if peak_gib <= 2 else 'MISSED'} ({peak_gib:.2f} GiB)")


if __name__ == "__main__":
    main()
