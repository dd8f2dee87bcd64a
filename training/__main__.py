"""python -m training {train,eval,export,prepare}: fine-tune the clone, measure it, merge it into a standalone model."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="LoRA/QLoRA/full fine-tuning (what `make train` runs)")
    t.add_argument("--fresh", action="store_true", help="ignore existing checkpoints and start over")
    e = sub.add_parser("eval", help="base vs clone on the dev set: perplexity, ROUGE, BLEU, style (`make eval`)")
    e.add_argument("--limit", type=int, default=None, help="evaluate at most this many dev prompts")
    x = sub.add_parser("export", help="merge the adapter into a standalone safetensors model (`make export`)")
    x.add_argument("--out", type=Path, default=None, help="target folder (default: <train.output_dir>/merged)")
    p = sub.add_parser("prepare", help="build the dataset and train the tiny clone if missing, saying so (what "
                       "`make chat`/`make bot` run first; a real base is never trained without `make train`)")
    for parser in (t, e, x, p):
        parser.add_argument("--config", type=Path, default=None)
        parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return ap


def main(argv: list[str] | None = None) -> int:
    from core.private import check_outputs, owner_only

    owner_only()
    args = _parser().parse_args(argv)
    from core.config import ConfigError, load
    from core.quiet import quiet_libraries

    quiet_libraries()

    try:
        cfg = load(args.config)
        # every command may first build what it needs (prerequisites): the dataset, the tiny base, the clone
        tiny_base = ["model.cache_dir"] if cfg.model.base == "tiny" else []
        check_outputs(cfg, "dataset.out_dir", "train.output_dir", *tiny_base)
        from .prerequisites import ensure_adapter, ensure_dataset

        if args.cmd == "train":
            from .train import train

            ensure_dataset(cfg, progress=not args.quiet)
            metrics = train(cfg, fresh=args.fresh, progress=not args.quiet)
            out = cfg.path(cfg.train.output_dir)
            summary = {k: metrics.get(k) for k in ("steps", "train_seconds", "train_loss", "dev_loss",
                                                   "dev_perplexity", "tokens_per_second")}
            print(json.dumps(summary), file=sys.stderr)
            print(f"wrote {out}/adapter, {out}/loss.png, {out}/metrics.json", file=sys.stderr)
        elif args.cmd == "eval":
            from .evaluate import evaluate

            ensure_adapter(cfg, progress=not args.quiet)
            evaluate(cfg, limit=args.limit, progress=not args.quiet)
        elif args.cmd == "prepare":
            if cfg.bot.engine.backend == "local" and not cfg.bot.engine.adapter:
                ensure_adapter(cfg, progress=not args.quiet)
        else:
            from .export import export_merged

            ensure_adapter(cfg, progress=not args.quiet)
            path = export_merged(cfg, out=args.out, progress=not args.quiet)
            print(f"wrote {path}", file=sys.stderr)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
