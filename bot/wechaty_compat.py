"""The one place that knows python-wechaty 0.10.7's quirks: import it on Python 3.11 and patch what breaks a bot.

``import_wechaty()`` applies the patches (idempotent) and imports wechaty lazily: the import is slow (~1 s, it pulls
Quart, SQLAlchemy, PyGithub) and only a WeChat channel needs it. Dependency pins live in pyproject/constraints.txt:
``pyee<12`` (``AsyncIOEventEmitter``) and ``urllib3<2`` (``get_host``). Python 3.13 would also fail (telnetlib).

Patches (all in-process, nothing in site-packages is edited):

* ``PuppetOptions.__hash__``: 3.11 dataclasses reject the unhashable ``PuppetOptions()`` default of
  ``WechatyOptions.puppet_options`` ("mutable default ... is not allowed"); must happen before ``import wechaty``.
* an unreachable endpoint raises ``OSError`` (wechaty then retries after 60 s, as on a lost connection): the
  original ping returned False, the resulting WechatyPuppetError made ``start()`` call ``loop.stop()`` and
  ``asyncio.run`` died with "Event loop stopped before Future completed" -- every other channel with it.
* heartbeats: the puppet emits ``'heartbeat'`` but Wechaty listens for ``'heart-beat'``, so ``on_heartbeat``
  never fired; the only liveness signal a supervisor could watch.
* ``Wechaty.stop()`` also shuts the plugin scheduler down: ``start()`` starts it on every login, so after
  wechaty's own restart the second login died with "Scheduler is already running" and ``on_login`` was skipped.
  And it always closes the gRPC channel: when the service is gone the ``Stop`` RPC raises and the original left
  the channel open.
* the token is masked in log records: ``PuppetService()`` logs it at WARNING ("there are endpoint<...> and
  token<...>") whenever both are given, i.e. always here, and hpack logs the ``:authority`` header at DEBUG.
  ``wechaty_options()`` registers the token with bot.redact.
* every (re)start drops the class-level Contact/Room/Tag caches: objects cached there stay bound to the
  previous, stopped puppet (``room.topic()`` / ``contact.say()`` then fail) when a new instance or a restarted one
  runs in the same process. The message-id de-dup set is kept on purpose (a re-delivered id is still ignored).

Connecting (``wechaty_options``): the only puppet is the gRPC puppet service, ``host:port`` in plain HTTP/2 --
there is NO TLS in 0.10.7, so the gateway must run with ``WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_SERVER=true``
(keep it on localhost or a tunnel). A token is required even with an explicit endpoint: it is sent as the
``:authority`` header and ``start()`` fails (printing ``'NoneType' object has no attribute 'encode'``) without one.
Without options the puppet reads ``WECHATY_PUPPET_SERVICE_ENDPOINT`` / ``WECHATY_PUPPET_SERVICE_TOKEN`` (and the
bare ``ENDPOINT`` / ``TOKEN`` too); explicit options win. With a token and no endpoint it asks api.chatie.io.

Lifecycle a channel must supervise (observed against tests/puppet_server.py):

* ``await bot.start()`` runs until the event stream ends; run it as a task. Before listening it sends the
  service ``Stop`` then ``Start``. It catches ``Exception`` and only prints it, so a failed start returns quietly.
* event stream ends normally (service shut down or restarted gracefully): ``start()`` returns ``None``, nothing
  reconnects -- the bot is silently dead. Start a new instance (``await old.stop()`` first).
* connection lost: wechaty logs "The network is not good", sleeps 60 s, then ``restart()`` (stop + start on the
  same instance). If the service is still down then, ``stop()`` raises ``ConnectionRefusedError`` out of
  ``start()``; if it is back, messages flow again and (with the scheduler patch) ``on_login`` fires again.
* clean shutdown: cancel the ``start()`` task, then ``await bot.stop()`` (sends ``Stop``, closes the channel).

A supervisor therefore runs ``serve(bot)`` (``start()`` without the swallowing and the 60 s sleep: it returns when
the stream ends and raises when the connection is lost) and ends every instance with ``shutdown(bot)``.

Message quirks: handlers run as concurrent tasks; an exception in ``on_message`` is only logged by wechaty
("internal error"). ``msg.is_self()`` is True for what the logged-in account sent from its phone -- and, with
some puppets, for the bot's own replies echoed back. ``msg.say()`` on such a private message goes to the
account itself (the talker), not to ``msg.to()``. Group text carries ``@Name\\u2005``; ``await msg.mention_self()``
reads the service's mention ids. Wechaty's loggers print to stderr at ``WECHATY_LOG`` level (default here: warn,
since info logs every message text).
"""
from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from dataclasses import dataclass
from typing import Any

from .redact import redact_in_logs


@dataclass(frozen=True)
class WechatyApi:
    """The wechaty symbols a channel needs, importable only after the patches."""

    Wechaty: Any
    WechatyOptions: Any
    PuppetOptions: Any
    Message: Any
    Contact: Any
    ContactSelf: Any
    Room: Any
    ScanStatus: Any
    MessageType: Any


_api: WechatyApi | None = None


def import_wechaty(cache_dir: str | os.PathLike[str] | None = None) -> WechatyApi:
    """Patch and import wechaty once per process; later calls return the same symbols.

    ``cache_dir`` becomes ``CACHE_DIR`` unless that is already set: wechaty creates it at import time (default
    ``./.wechaty`` in the working directory) and keeps plugin data there. Only the first call's value counts.
    """
    global _api
    if _api is not None:
        return _api
    os.environ.setdefault("CACHE_DIR", os.fspath(cache_dir or os.path.join(tempfile.gettempdir(), "chatclone-wechaty")))
    os.environ.setdefault("WECHATY_LOG", "warn")

    import wechaty_puppet.schemas.puppet as puppet_schema

    if puppet_schema.PuppetOptions.__hash__ is None:
        puppet_schema.PuppetOptions.__hash__ = object.__hash__  # type: ignore[method-assign]

    import wechaty
    from wechaty.user import ContactSelf

    if not getattr(wechaty.Wechaty, "_chatclone_patched", False):  # survives a reload of this module
        _patch(wechaty)
    _api = WechatyApi(wechaty.Wechaty, wechaty.WechatyOptions, puppet_schema.PuppetOptions, wechaty.Message,
                      wechaty.Contact, ContactSelf, wechaty.Room, wechaty.ScanStatus, wechaty.MessageType)
    return _api


def _patch(wechaty: Any) -> None:
    import wechaty_puppet_service.puppet as service
    from wechaty_puppet_service import PuppetService
    from wechaty_puppet_service.utils import extract_host_and_port

    def ping_or_raise(end_point: str) -> bool:
        socket.create_connection(extract_host_and_port(end_point), timeout=3).close()
        return True

    service.ping_endpoint = ping_or_raise

    on = PuppetService.on

    def on_heartbeat_too(self: Any, event_name: str, caller: Any) -> None:
        on(self, "heartbeat" if event_name == "heart-beat" else event_name, caller)

    PuppetService.on = on_heartbeat_too  # type: ignore[method-assign]

    stop = wechaty.Wechaty.stop

    async def stop_with_scheduler_and_channel(self: Any) -> None:
        scheduler = self._plugin_manager.scheduler
        if scheduler.running:
            scheduler.shutdown(wait=False)
        puppet = self._puppet
        try:
            await stop(self)
        finally:
            if puppet is not None and puppet.channel is not None:
                puppet.channel.close()
                puppet.channel = None

    wechaty.Wechaty.stop = stop_with_scheduler_and_channel  # type: ignore[method-assign]

    init_puppet = wechaty.Wechaty.init_puppet

    async def init_puppet_fresh_caches(self: Any) -> None:
        for cls in (wechaty.Contact, wechaty.Room, wechaty.Tag):
            cls._pool.clear()
        await init_puppet(self)

    wechaty.Wechaty.init_puppet = init_puppet_fresh_caches  # type: ignore[method-assign]
    wechaty.Wechaty._chatclone_patched = True


def wechaty_options(endpoint: str, token: str, *, web_port: int | None = None, name: str = "chatclone") -> Any:
    """``WechatyOptions`` for the puppet service at ``endpoint`` (``host:port``, no scheme, no TLS).

    Each call gets its own ``PuppetOptions`` (the class default is one shared instance that Wechaty mutates) and
    its own in-memory scheduler (the default one keeps an SQLite job store in ``CACHE_DIR``). ``web_port`` is the
    plugin web server's port: it is only served when a plugin registers routes, but on login wechaty refuses a
    port that is in use (default 5000, often taken) and then skips ``on_login`` -- so pick a free one.
    """
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    api = import_wechaty()
    if token:
        redact_in_logs(token)
    return api.WechatyOptions(name=name, puppet="wechaty-puppet-service", puppet_options=api.PuppetOptions(),
                              endpoint=endpoint, token=token, host="127.0.0.1",
                              port=web_port or _free_local_port(), scheduler=AsyncIOScheduler())


async def serve(bot: Any) -> None:
    """What ``bot.start()`` does, minus its error handling: connect (``Stop`` + ``Start``) and dispatch events until
    the service ends the Event stream (returns) or the connection fails or is lost (raises, e.g. ``OSError``,
    ``StreamTerminatedError``) -- instead of printing, sleeping 60 s or stopping the event loop."""
    await bot.init_puppet()
    await bot.init_puppet_event_bridge(bot.puppet)
    await bot.puppet.start()


async def shutdown(bot: Any, timeout: float = 5.0) -> None:
    """End an instance however ``serve()`` ended: cancel its event handlers still running (wechaty runs each
    event as a task of the puppet's emitter), then ``stop()`` (``Stop`` RPC, at most ``timeout`` s, channel closed
    in any case). Errors of ``stop()`` propagate once everything is closed."""
    puppet = bot._puppet
    if puppet is None:
        return
    handlers = [task for task in puppet._event_stream._waiting if task is not asyncio.current_task()]
    for task in handlers:
        task.cancel()
    await asyncio.gather(*handlers, return_exceptions=True)
    await asyncio.wait_for(bot.stop(), timeout)


def _free_local_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
