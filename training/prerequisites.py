"""What a stage needs from the stages before it, built on demand so every `make` target works on a fresh clone.

The dataset builds in seconds from config alone, so a missing one is simply built. A missing adapter is trained
only for the embedded tiny base (about a minute on a CPU); for a real base model, silently starting hours of
training would be a surprise, so that is an error telling the user to run `make train`.
"""
from __future__ import annotations

import contextlib
import fcntl
import sys
from collections.abc import Iterator
from pathlib import Path

from core.config import Config, ConfigError


def ensure_base(cfg: Config, progress: bool = True) -> str:
    """A from_pretrained()-able location of model.base: the tiny base (built offline on first use, saying so), a
    local folder or a hub id."""
    if cfg.model.base == "tiny":
        from .tiny_base import ensure_tiny_base

        return str(ensure_tiny_base(cfg.path(cfg.model.cache_dir), progress=progress))
    local = cfg.path(Path(cfg.model.base))
    if local.exists():
        return str(local)
    if cfg.model.base.startswith((".", "/")):
        raise ConfigError(f"{cfg.source}: model.base: folder {local} does not exist")
    return cfg.model.base  # a hub id: transformers downloads it, or reads its cache when HF_HUB_OFFLINE=1


def ensure_dataset(cfg: Config, progress: bool = True) -> Path:
    """The dataset folder, built first when it has no train.jsonl. Processes started together (``accelerate
    launch``) take turns: the first builds it, the others find it built."""
    data_dir = cfg.path(cfg.dataset.out_dir)
    if (data_dir / "train.jsonl").exists():
        return data_dir
    with _exclusive(data_dir.with_name(f".{data_dir.name}.lock")):
        if not (data_dir / "train.jsonl").exists():
            print(f"{data_dir / 'train.jsonl'} not found: building the dataset first", file=sys.stderr)
            from data_prep.build import DatasetError, build

            try:
                build(cfg, progress=progress)
            except DatasetError as e:
                raise ConfigError(str(e)) from None
    return data_dir


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """Held by one process at a time (an advisory lock on ``lock``, released by the kernel if the holder dies)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def ensure_adapter(cfg: Config, progress: bool = True) -> Path:
    adapter = cfg.path(cfg.train.output_dir) / "adapter"
    if adapter.is_dir():
        return adapter
    if cfg.model.base != "tiny":
        raise ConfigError(f"{adapter} not found: run `make train` first (model.base = {cfg.model.base!r})")
    print(f"{adapter} not found: training the embedded tiny clone first (about a minute)", file=sys.stderr)
    ensure_dataset(cfg, progress)
    from .train import train

    train(cfg, progress=progress)
    return adapter
