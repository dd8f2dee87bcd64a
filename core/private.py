"""Owner-only output: the dataset, checkpoints, adapter and the bot's chat history hold the owner's and their
friends' messages, so whatever the shell's umask, they are readable by the owner alone.

Each entry point calls :func:`owner_only` first thing: a process umask of 0o077 makes every file (0600) and folder
(0700) the process creates private, including those libraries write (transformers' save_pretrained, sqlite,
matplotlib), which no chmod after the fact could catch as they appear. :func:`check_outputs` then checks, at the
start of a stage, that the folders it will write can be written (one ConfigError naming the key, instead of a
traceback after the work is done) and closes existing private output folders to others: files an older version
left there readable are then out of other users' reach too.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # owner_only() runs before anything heavy is imported
    from core.config import Config

UMASK = 0o077
# Output folders that hold chat data. model.cache_dir is checked for writing but left as it is: it holds only
# base models, and may be a folder shared with other users.
PRIVATE_KEYS = frozenset({"dataset.out_dir", "train.output_dir", "bot.data_dir"})


def owner_only() -> None:
    """From now on this process creates files 0600 and folders 0700."""
    os.umask(UMASK)


def check_outputs(cfg: Config, *keys: str) -> None:
    """For each dotted config key naming an output folder: fail now, naming the key, if the stage could not write
    there; make it owner-only if it exists and is a private one. Creates nothing."""
    from core.config import ConfigError

    for key in keys:
        node: Any = cfg
        for part in key.split("."):
            node = getattr(node, part)
        folder = cfg.path(node)
        try:
            _check_writable(folder)
            if key in PRIVATE_KEYS and folder.is_dir() and folder.stat().st_uid == os.getuid():
                folder.chmod(0o700)
        except OSError as e:
            raise ConfigError(f"{cfg.source}: {key}: cannot write to {folder}: {e.strerror or e}") from None


def _check_writable(folder: Path) -> None:
    """Raises OSError unless ``folder`` is a writable folder, or the part of it that exists is one to create the
    rest in."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(20, f"{existing} is a file, not a folder")
    # a real write: os.access answers from local permission bits, which network file systems and ACLs overrule
    with tempfile.TemporaryFile(dir=existing):
        pass
