"""One asyncio process runs every enabled channel, the responder, and the APScheduler job that ends idle sessions.

Shutdown (SIGINT/SIGTERM, or a console channel reaching its end): channels are cancelled (each disconnects
cleanly), pending answers are cancelled, the engine stops, and the history is closed (every message was written
when it was said). At start, chats left unanswered by the previous run are answered (Responder.answer_pending).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from core.config import Config, ConfigError
from core.conversation import Rules
from runtime.engine import Engine, make_engine

from .chat import Channel
from .history import History
from .responder import Responder

log = logging.getLogger(__name__)


def enabled_channels(cfg: Config) -> list[Channel]:
    """The channels switched on in config, each built from its settings (a missing token is a ConfigError)."""
    channels: list[Channel] = []
    if cfg.bot.telegram.enabled:
        from .channels.telegram import TelegramChannel

        channels.append(TelegramChannel.from_env(cfg.bot.telegram))
    if cfg.bot.wechat.enabled:
        from .channels.wechat import WechatChannel

        channels.append(WechatChannel.from_settings(cfg.bot.wechat))
    if not channels:
        raise ConfigError(f"{cfg.source}: no channel enabled: set bot.telegram.enabled or bot.wechat.enabled "
                          "(or talk to the clone in the terminal with `make chat`)")
    return channels


def clone_name(cfg: Config) -> str:
    return cfg.persona.names[0] if cfg.persona.names else "clone"


async def serve(cfg: Config, channels: list[Channel], *, engine: Engine | None = None,
                responder_ready=None) -> Responder:
    """Run until a signal arrives or a channel returns; returns the responder (its stats) after shutdown.

    ``responder_ready(responder)`` is called once everything is set up (the console needs its ``settle``)."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    if engine is None:
        engine = await asyncio.to_thread(make_engine, cfg)
    history = History(cfg.path(cfg.bot.data_dir), Rules.from_config(cfg))  # after make_engine: the trained rules
    responder = Responder(cfg, engine, history)
    if responder_ready is not None:
        responder_ready(responder)
    scheduler = AsyncIOScheduler()
    scheduler.add_job(responder.expire_idle, "interval", seconds=cfg.bot.expire_every_s, id="expire-idle",
                      max_instances=1, coalesce=True)
    scheduler.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread / not Unix
            loop.add_signal_handler(sig, stop.set)
    tasks = {asyncio.create_task(ch.run(responder.on_message), name=f"channel {ch.name}"): ch for ch in channels}
    stopper = asyncio.create_task(stop.wait(), name="signals")
    for ch in channels:
        responder.answer_pending(ch)
    log.info("clone running: %s; %d allowed, groups=%s", ", ".join(c.name for c in channels),
             len(cfg.bot.allow), cfg.bot.groups)
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = task.exception() if task is not stopper else None
            if error is not None:
                raise error
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        for task in [*tasks, stopper]:
            task.cancel()
        await asyncio.gather(*tasks, stopper, return_exceptions=True)
        scheduler.shutdown(wait=False)
        await responder.aclose()
        await engine.aclose()
        history.close()
        log.info("clone stopped: %s", responder.stats)
    return responder
