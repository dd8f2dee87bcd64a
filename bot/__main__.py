"""python -m bot: the clone answering your friends.

    python -m bot [--config PATH]                 every channel enabled in config (`make bot`)
    python -m bot chat [--config PATH]            talk to the clone in the terminal (`make chat`)
    python -m bot chat --say 在吗 --say 周末去哪 --compare-base
                                                  a scripted conversation, then the base model's answers beside it
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bot", description="Run the clone: Telegram/WeChat daemon or a "
                                 "terminal chat.")
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = ap.add_subparsers(dest="cmd")
    c = sub.add_parser("chat", help="talk to the clone in the terminal")
    c.add_argument("--config", type=Path, default=None, dest="chat_config")
    c.add_argument("--say", action="append", default=None, help="send this message (repeatable) instead of "
                   "reading the terminal")
    c.add_argument("--compare-base", action="store_true", help="with --say: also ask the base model, same "
                   "messages, and print both side by side")
    return ap


def _logging(level: int) -> None:
    from core.quiet import quiet_libraries

    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_libraries(progress_bars=level <= logging.DEBUG)
    # request URLs carry the bot token; the channels redact it, and routine request lines are noise anyway
    for name in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def _chat_overrides(cfg) -> None:
    """A terminal is not a phone: answer quickly and don't mimic typing pauses."""
    cfg.bot.debounce_s = min(cfg.bot.debounce_s, 0.3)
    cfg.bot.message_pause_s = 0.0


async def _converse(cfg, script: list[str] | None, *, engine=None, name: str | None = None):
    from .channels.console import ConsoleChannel
    from .daemon import clone_name, serve

    holder: dict = {}
    console = ConsoleChannel(name or clone_name(cfg), lambda key: holder["r"].settle(key), script=script)
    await serve(cfg, [console], engine=engine, responder_ready=lambda r: holder.setdefault("r", r))
    return console.transcript


def chat(cfg, script: list[str] | None, compare_base: bool) -> None:
    """Interactive: the console chat keeps its history in bot.data_dir like any chat. Scripted (--say): each
    system starts from an empty history in a temporary folder, so a demo is reproducible and base and clone
    answer exactly the same conversation."""
    from runtime.engine import LocalEngine

    _chat_overrides(cfg)
    if script is None:
        asyncio.run(_converse(cfg, None))
        return
    with tempfile.TemporaryDirectory() as tmp:
        cfg.bot.data_dir = Path(tmp) / "clone"
        clone = asyncio.run(_converse(cfg, script))
        if not compare_base:
            return
        cfg.bot.data_dir = Path(tmp) / "base"
        print("\n(base model, same messages)", flush=True)
        base = asyncio.run(_converse(cfg, script, engine=LocalEngine.from_config(cfg, base_only=True), name="base"))
    print("\nside by side (messages of one reply separated by ' ⏎ '):")
    for (friend, c), (_, b) in zip(clone, base, strict=True):
        print(f"  friend: {friend}\n    clone: {' ⏎ '.join(c) or '(no reply)'}\n"
              f"    base:  {' ⏎ '.join(b) or '(no reply)'}")


def main(argv: list[str] | None = None) -> int:
    from core.private import check_outputs, owner_only

    owner_only()
    args = _parser().parse_args(argv)
    from core.config import ConfigError, load

    _logging(logging.DEBUG if args.verbose else logging.WARNING if args.cmd == "chat" else logging.INFO)
    try:
        cfg = load(getattr(args, "chat_config", None) or args.config)
        check_outputs(cfg, "bot.data_dir")
        if args.cmd == "chat":
            if args.compare_base and not args.say:
                raise ConfigError("--compare-base needs the messages to compare on: add --say TEXT")
            chat(cfg, args.say, args.compare_base)
        else:
            from .daemon import enabled_channels, serve

            asyncio.run(serve(cfg, enabled_channels(cfg)))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
