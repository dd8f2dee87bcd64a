"""python -m training {train}: fine-tune the clone on the dataset built by `make dataset`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="LoRA/QLoRA/full fine-tuning (what `make train` runs)")
    t.add_argument("--config", type=Path, default=None)
    t.add_argument("--fresh", action="store_true", help="ignore existing checkpoints and start over")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)

    from core.config import ConfigError, load

    try:
        cfg = load(args.config)
        from .train import train

        metrics = train(cfg, fresh=args.fresh, progress=not args.quiet)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = cfg.path(cfg.train.output_dir)
    summary = {k: metrics.get(k) for k in ("steps", "train_seconds", "train_loss", "dev_loss", "dev_perplexity",
                                           "tokens_per_second")}
    print(json.dumps(summary), file=sys.stderr)
    print(f"wrote {out}/adapter, {out}/loss.png, {out}/metrics.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
