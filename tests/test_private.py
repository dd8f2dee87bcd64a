"""Owner-only output: the stages run as real processes under a permissive umask (022) and every file and folder
they create is 0600 / 0700."""
from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import load
from core.private import check_outputs
from scripted import openai_server

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "persona" / "telegram"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1"}


def modes(top: Path) -> dict[str, int]:
    """Permission bits of ``top`` and of everything under it, by path relative to ``top``'s parent."""
    found = {top.name: stat.S_IMODE(top.stat().st_mode)}
    for path in top.rglob("*"):
        found[str(path.relative_to(top.parent))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def assert_owner_only(top: Path) -> dict[str, int]:
    found = modes(top)
    wrong = {p: oct(m) for p, m in found.items()
             if m != (0o700 if (top.parent / p).is_dir() else 0o600)}
    assert not wrong, f"not owner-only: {wrong}"
    return found


@pytest.mark.slow
def test_dataset_is_owner_only_under_umask_022(tmp_path):
    out = tmp_path / "new" / "nested" / "dataset"  # the stage creates the parents too
    config = tmp_path / "config.toml"
    config.write_text(f'[persona]\nnames = ["林小夏"]\n[dataset]\ninputs = ["{SAMPLE}"]\nout_dir = "{out}"\n',
                      encoding="utf-8")
    config.chmod(0o644)  # as a user's editor makes it, whatever umask earlier tests left this process
    subprocess.run([sys.executable, "-m", "data_prep", "build", "--config", str(config), "--quiet"], cwd=tmp_path,
                   env=ENV, umask=0o022, check=True, capture_output=True, timeout=300)

    found = assert_owner_only(tmp_path / "new")
    assert {"train.jsonl", "dev.jsonl", "report.md", "profile.json", "lengths.png"} <= {Path(p).name for p in found}
    assert stat.S_IMODE(config.stat().st_mode) == 0o644  # what the user made is left alone


def test_existing_private_output_folders_are_closed_and_shared_ones_left(tmp_path):
    folders = {key: tmp_path / key for key in ("dataset.out_dir", "train.output_dir", "bot.data_dir",
                                               "model.cache_dir")}
    for folder in folders.values():
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)  # whatever the test's umask
    cfg = load(overrides={key: str(folder) for key, folder in folders.items()})

    check_outputs(cfg, *folders)

    assert {key: oct(stat.S_IMODE(f.stat().st_mode)) for key, f in folders.items()} == {
        "dataset.out_dir": "0o700", "train.output_dir": "0o700", "bot.data_dir": "0o700",
        "model.cache_dir": "0o755"}  # base models only, and possibly shared


def test_check_outputs_creates_nothing(tmp_path):
    cfg = load(overrides={"dataset.out_dir": str(tmp_path / "a" / "b")})
    check_outputs(cfg, "dataset.out_dir")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
async def test_bot_history_is_owner_only_under_umask_022(tmp_path):
    """The terminal chat of `python -m bot chat` keeps its history in bot.data_dir like every channel."""
    data = tmp_path / "bot"
    config = tmp_path / "config.toml"
    async with openai_server("在的~") as url:
        config.write_text(f'[bot]\ndata_dir = "{data}"\n[bot.engine]\nbackend = "openai"\nurl = "{url}"\n'
                          f'adapter = "{tmp_path / "no-adapter"}"\n', encoding="utf-8")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "chat", "--config", str(config), cwd=tmp_path, env=ENV, umask=0o022,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output = (await asyncio.wait_for(proc.communicate("在吗\n".encode()), 120))[0].decode()
    assert proc.returncode == 0 and "在的~" in output, output

    found = assert_owner_only(data)
    assert "bot/history.sqlite" in found
