"""python -m data_prep {build,inspect}: build the training set, or show what a parser sees in an export."""
from __future__ import annotations

import argparse
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
    args = ap.parse_args(argv)

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
    for e in r.log.errors:
        print(f"warning: {e}", file=sys.stderr)
    print(f"wrote {r.out_dir}/{{train.jsonl,dev.jsonl,profile.json,report.md,lengths.png}}", file=sys.stderr)
    return 0


def _inspect(paths: list[Path], me: frozenset[str], fmt: str | None) -> int:
    from .formats import read_all
    from .sources import ParseLog

    log = ParseLog()
    chats: dict[str, list] = {}
    for m in read_all(paths, log, me, fmt):
        chats.setdefault(m.chat_id, []).append(m)
    kinds, mine = Counter(), 0
    out = sys.stdout
    for msgs in chats.values():
        msgs.sort(key=lambda m: m.time)
        for m in msgs:
            kinds[m.kind] += 1
            mine += m.is_me
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
    for e in log.errors:
        print(f"error: {e}", file=err)
    return 1 if log.errors and not total else 0


if __name__ == "__main__":
    sys.exit(main())
