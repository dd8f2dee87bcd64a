"""python -m data_prep {build,inspect,mask}: build the training set, show what a parser sees in an export, or what
privacy masking does to your own text."""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections import Counter
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from core.private import check_outputs, owner_only

    owner_only()
    ap = argparse.ArgumentParser(prog="python -m data_prep", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="exports → train.jsonl, dev.jsonl, report.md (what `make dataset` runs)")
    b.add_argument("--config", type=Path, default=None, help="config file (default: ./config.toml)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    i = sub.add_parser("inspect", help="print every message a parser reads, one JSON object a line")
    i.add_argument("paths", type=Path, nargs="+", help="export files or folders")
    i.add_argument("--me", action="append", default=[], help="your name or id in the export (repeatable)")
    i.add_argument("--format", default=None, help="force a parser instead of sniffing each file")
    i.add_argument("--config", type=Path, default=None, help="take --me from persona.names of this config")
    m = sub.add_parser("mask", help="print each line of FILE (or stdin) with its personal data masked")
    m.add_argument("file", type=Path, nargs="?", default=None, help="UTF-8 text file (default: stdin)")
    args = ap.parse_args(argv)
    if args.cmd == "mask":
        return _mask(args.file)

    from core.config import ConfigError, load

    try:
        if args.cmd == "build":
            cfg = load(args.config)
            check_outputs(cfg, "dataset.out_dir")
            return _build(cfg, args.quiet)
        me = list(args.me) + (load(args.config).persona.names if args.config else [])
        return _inspect(args.paths, frozenset(me), args.format)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _build(cfg, quiet: bool) -> int:
    from .build import DatasetError, build

    t0 = time.perf_counter()
    try:
        r = build(cfg, progress=not quiet)
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    skipped = sum(r.log.counts.values())
    print(f"dataset: {len(r.train)} train / {len(r.dev)} dev samples from {r.clean.kept} messages "
          f"({sum(r.clean.dropped.values())} dropped, {skipped} lines skipped, {len(r.log.errors)} unreadable files, "
          f"{sum(r.clean.pii.values())} PII items masked) in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    for error in r.log.errors:
        print(f"warning: {error}", file=sys.stderr)
    for note in r.log.decoding_notes():
        print(f"warning: {note}", file=sys.stderr)
    print(f"wrote {r.out_dir}/{{train.jsonl,dev.jsonl,profile.json,report.md,lengths.png}}", file=sys.stderr)
    return 0


def _inspect(paths: list[Path], me: frozenset[str], fmt: str | None) -> int:
    from .formats import read_all
    from .sources import ParseLog

    log = ParseLog()
    chats: dict[str, list] = {}
    for m in read_all(paths, log, me, fmt):
        chats.setdefault(m.chat_id, []).append(m)
    kinds: Counter[str] = Counter()
    mine = 0
    out = sys.stdout
    for msgs in chats.values():
        msgs.sort(key=lambda m: m.time)
        for m in msgs:
            kinds[m.kind] += 1
            mine += m.by_owner
            out.write(json.dumps(m.to_json(), ensure_ascii=False) + "\n")
    total = sum(kinds.values())
    err = sys.stderr
    print(f"\n{total} messages in {len(chats)} chats from {len(log.files)} files "
          f"({', '.join(f'{p} [{f}]' for p, f in log.files.items())})", file=err)
    print("by kind: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()), file=err)
    print(f"yours (is_me): {mine}", file=err)
    if total and not mine:
        print("warning: no message is marked as yours; pass --me with your name or id as the export shows it",
              file=err)
    if log.counts:
        print(f"skipped {sum(log.counts.values())} lines/records:", file=err)
        for reason, n in log.counts.most_common():
            where = [f"{s.path}:{s.line}" if s.line else s.path for s in log.skips if s.reason == reason][:3]
            print(f"  {n} × {reason}  (e.g. {', '.join(where)})", file=err)
    for note in log.decoding_notes():
        print(f"warning: {note}", file=err)
    for e in log.errors:
        print(f"error: {e}", file=err)
    return 1 if log.errors and not total else 0


def _mask(path: Path | None) -> int:
    from .pii import mask

    counts: Counter = Counter()
    try:
        src = path.open(encoding="utf-8", errors="replace", newline="") if path else \
            io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="")
    except OSError as e:
        print(f"error: {path}: {e.strerror or e}", file=sys.stderr)
        return 1
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="", write_through=True)
    with src:
        for line in src:
            body = line.rstrip("\r\n")
            out.write(mask(body, counts) + line[len(body):])
    out.detach()
    print("masked: " + (", ".join(f"{k} {n}" for k, n in counts.most_common()) or "nothing"), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
