"""`make dataset`: exports → train.jsonl, dev.jsonl, profile.json, report.md, lengths.png."""
from __future__ import annotations

import gc
import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from core.config import Config, ConfigError
from core.conversation import Rules

from .clean import CleanStats, clean
from .formats import all_formats, read_all
from .profile import catchphrases, style_stats
from .records import Message
from .result import BuildResult
from .samples import SampleStats, build_samples, split
from .sessions import SessionStats, by_chat, split_sessions
from .sources import ParseLog

OUTPUTS = ("train.jsonl", "dev.jsonl", "profile.json", "report.md", "lengths.png")


class DatasetError(Exception):
    """The build produced nothing usable; the message says what to fix."""


def _count_files(messages, file_messages: Counter, owner_files: Counter):
    for m in messages:
        path = m.source.rsplit(":", 1)[0]
        file_messages[path] += 1
        if m.by_owner:
            owner_files[path] += 1
        yield m


@contextmanager
def _no_gc():
    """Building makes millions of small acyclic objects; the cyclic GC rescanning them tripled the build time."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def forced_format(cfg: Config) -> str | None:
    """The parser dataset.format forces on every input (None: 'auto', sniff each file), or a ConfigError naming the
    key when no parser has that name."""
    name = cfg.dataset.format
    if name == "auto":
        return None
    names = [f.name for f in all_formats()]
    if name not in names:
        raise ConfigError(f"{cfg.source}: dataset.format: unknown format {name!r}; use 'auto' or one of: "
                          f"{', '.join(names)}")
    return name


def build(cfg: Config, progress: bool | None = None) -> BuildResult:
    with _no_gc():
        return _build(cfg, progress)


def _build(cfg: Config, progress: bool | None) -> BuildResult:
    ds = cfg.dataset
    fmt = forced_format(cfg)
    inputs = cfg.check_inputs()
    log = ParseLog()
    me = frozenset(n.strip() for n in cfg.persona.names)
    file_messages: Counter[str] = Counter()
    owner_files: Counter[str] = Counter()
    stream = read_all(inputs, log, me, fmt)
    stream = tqdm(_count_files(stream, file_messages, owner_files), desc="reading exports", unit=" msg",
                  disable=True if progress is False else None, mininterval=0.5, file=sys.stderr)
    cstats = CleanStats()
    kept: list[Message] = list(clean(stream, ds, cstats))
    if not file_messages:
        raise DatasetError(_nothing_read(inputs, log))
    if not any(m.by_owner for m in kept):
        raise DatasetError(
            "none of the messages was recognised as yours. Set persona.names in config.toml to your display name(s) "
            "or id(s) as the export shows them, and check with: python -m data_prep inspect PATH --me NAME")
    sstats, pstats = SessionStats(), SampleStats()
    sessions, rules = [], Rules.from_config(cfg)
    for msgs in by_chat(kept, sstats).values():
        sessions.extend(split_sessions(msgs, rules, sstats))
    samples = build_samples(sessions, cfg.persona.system_prompt, ds.max_turns, pstats)
    if not samples:
        raise DatasetError("no conversation has a reply from you after cleaning; see the counts in report.md")
    train, dev = split(samples, ds.dev_fraction)
    mine = [m.text for m in kept if m.by_owner]
    others = [m.text for m in kept if not m.by_owner]
    phrases = catchphrases(mine, others)
    profile = style_stats(mine, [p for p, _ in phrases[:10]])
    profile["catchphrases"] = phrases
    profile["friends"] = style_stats(others, [p for p, _ in phrases[:10]])
    result = BuildResult(cfg.path(ds.out_dir), train, dev, log, cstats, sstats, pstats, profile,
                         file_messages, owner_files)
    write(result)
    return result


def _nothing_read(inputs: list[Path], log: ParseLog) -> str:
    lines = [f"no messages could be read from {', '.join(map(str, inputs))}"]
    lines += [f"  {e}" for e in log.errors[:10]]
    lines += [f"  {s.path}: {s.reason}" for s in log.skips[:10]]
    return "\n".join(lines)


def write(r: BuildResult) -> None:
    """Write every output into a folder beside ``out_dir``, then swap it in: a build that fails on the way leaves
    the previous outputs as they were, never a mix of old and new files."""
    from .report import write_report  # matplotlib is slow to import; only needed here

    out = r.out_dir
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".new", dir=out.parent))
    try:
        for name, samples in (("train.jsonl", r.train), ("dev.jsonl", r.dev)):
            with open(staging / name, "w", encoding="utf-8") as f:
                for s in samples:
                    f.write(json.dumps(s.to_json(), ensure_ascii=False) + "\n")
        (staging / "profile.json").write_text(json.dumps(r.profile, ensure_ascii=False, indent=1), encoding="utf-8")
        write_report(r, staging)
        _swap_in(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already after a swap


def _swap_in(staging: Path, out: Path) -> None:
    """Make ``staging``'s files the outputs in ``out``.

    A folder holding nothing but our outputs is replaced whole (two renames; the old one is restored if the second
    fails). A folder that also holds files of the user's gets each output replaced by its finished new version.
    """
    if not out.exists():
        os.rename(staging, out)
        return
    if all(p.name in OUTPUTS for p in out.iterdir()):
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.rename(out, old)
        try:
            os.rename(staging, out)
        except OSError:
            os.rename(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    for name in OUTPUTS:
        os.replace(staging / name, out / name)
