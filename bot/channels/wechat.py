"""WeChat through a Wechaty puppet service (python-wechaty 0.10.7, plain gRPC): a :class:`bot.chat.Channel`.

WeChat has no bot API; a puppet service (a gateway logged in as the owner's own account) relays the account's
messages. So everything the clone sends comes from the owner's account, and what the owner types on the phone
arrives here too, as self messages: those are reported as ``by_owner`` (takeover), and the owner's chat with
themselves or with ``filehelper`` is their command chat. Some puppets echo the clone's own sends back as self
messages; the channel drops those by message id, so its replies never look like the owner taking over.

The client gives up silently (its ``start()`` returns when the event stream ends, and sleeps 60 s after a lost
connection), so ``run()`` supervises it: each connection is a fresh Wechaty instance, replaced with backoff.
Replies are resolved against the live instance at send time, so a reply sent after a reconnect still arrives.

Sending follows the contract in ``bot/chat.py``. Each attempt is one ``MessageSendText`` on the connection that is
up at that moment (not ``say()``, which fetches the sent message afterwards: a failure there would make a
delivered message look lost and be sent twice). A lost or missing connection, an unavailable or failing service
and a timed-out call are retried with backoff within ``SendRetry``'s bounds, so a reply survives a short outage
or a reconnect; an unknown chat or a refused request fails at once; then :class:`SendFailed`.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from grpclib.const import Status
from grpclib.exceptions import GRPCError, ProtocolError, StreamTerminatedError

from bot.channels.sending import SendRetry, send_with_retry
from bot.chat import Incoming, OnMessage
from bot.wechaty_compat import WechatyApi, import_wechaty, serve, shutdown, wechaty_options
from core.config import BotWechat, ConfigError

log = logging.getLogger(__name__)

ENV_ENDPOINT = "WECHATY_PUPPET_SERVICE_ENDPOINT"
ENV_TOKEN = "WECHATY_PUPPET_SERVICE_TOKEN"
FILEHELPER = "filehelper"  # WeChat's "File Transfer" chat: the owner's notepad, like messaging oneself
_SENT_IDS_KEPT = 2000
_ECHO_WAIT_S = 10.0  # how long a self message waits for sends in flight (its id may be one of theirs)
# gRPC statuses that say the request itself is wrong or not allowed: sending it again cannot help
_REFUSED = frozenset({Status.INVALID_ARGUMENT, Status.NOT_FOUND, Status.ALREADY_EXISTS, Status.PERMISSION_DENIED,
                      Status.FAILED_PRECONDITION, Status.OUT_OF_RANGE, Status.UNIMPLEMENTED, Status.UNAUTHENTICATED})


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a reply goes, by id, so that it is looked up on whichever instance is connected when it is sent."""

    conversation_id: str
    is_room: bool
    mention_id: str | None = None  # rooms: @mention this member in the reply's first message
    mention_name: str = ""  # their name, as the mention shows it


class WechatChannel:
    name = "wechat"

    def __init__(self, endpoint: str, token: str, *, backoff_initial_s: float = 1.0, backoff_max_s: float = 60.0,
                 stop_timeout_s: float = 5.0, ping_every_s: float = 60.0, ping_timeout_s: float = 15.0,
                 send_retry: SendRetry = SendRetry(), send_timeout_s: float = 30.0):
        self.endpoint = endpoint
        self._token = token
        self._send_retry = send_retry
        self._send_timeout_s = send_timeout_s  # one attempt; a half-open connection would hang it for ever
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._stop_timeout_s = stop_timeout_s
        self._ping_every_s, self._ping_timeout_s = ping_every_s, ping_timeout_s
        self._bot: Any = None  # the connected instance, if any
        self._sent_ids: dict[str, None] = {}  # ids of the messages this channel sent, oldest first
        self._sends_in_flight: set[asyncio.Future[None]] = set()

    @classmethod
    def from_settings(cls, settings: BotWechat) -> WechatChannel:
        """The channel for ``[bot.wechat]``; endpoint and token fall back to the puppet service's env vars."""
        endpoint = settings.endpoint.strip() or os.environ.get(ENV_ENDPOINT, "").strip()
        token = settings.token.strip() or os.environ.get(ENV_TOKEN, "").strip()
        missing = [f"the puppet service {what} (bot.wechat.{what} or env {env})"
                   for what, value, env in (("endpoint", endpoint, ENV_ENDPOINT), ("token", token, ENV_TOKEN))
                   if not value]
        if missing:
            raise ConfigError(f"bot.wechat: missing {' and '.join(missing)}; the client needs both (a token even "
                              "with an explicit endpoint, and it never looks an endpoint up online)")
        if "://" in endpoint or ":" not in endpoint:
            raise ConfigError(f"bot.wechat.endpoint: {endpoint!r} should be host:port, without a scheme (plain gRPC)")
        return cls(endpoint, token)

    async def run(self, on_message: OnMessage) -> None:
        api = import_wechaty()
        delay = self._backoff_initial_s
        while True:
            bot = _bot_class(api)(wechaty_options(self.endpoint, self._token), self, on_message)
            log.info("wechat: connecting to the puppet service at %s", self.endpoint)
            self._bot = bot
            try:
                if await self._serve_while_alive(bot):
                    log.warning("wechat: the puppet service ended the event stream")
            except Exception as e:
                log.warning("wechat: connection to the puppet service at %s failed: %s", self.endpoint,
                            f"{type(e).__name__}: {e}")
            finally:
                self._bot = None
                try:
                    await shutdown(bot, self._stop_timeout_s)
                except Exception as e:
                    log.debug("wechat: stopping the old client: %s: %s", type(e).__name__, e)
            if bot.logged_in:
                delay = self._backoff_initial_s
            log.info("wechat: reconnecting in %.1f s", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max_s)

    async def _serve_while_alive(self, bot: Any) -> bool:
        """serve(bot) until it ends (True) or the liveness probe fails (False).

        A half-open connection or a stuck gateway raises nothing and delivers nothing; so every ``ping_every_s``
        the channel sends the service a Ding and expects its Dong event back on the event stream within
        ``ping_timeout_s`` -- the round trip messages take."""
        dong = asyncio.Event()
        bot.on("dong", lambda _data: dong.set())
        serving = asyncio.create_task(serve(bot), name="wechat serve")
        watching = asyncio.create_task(self._probe(bot, dong), name="wechat liveness")
        try:
            await asyncio.wait([serving, watching], return_when=asyncio.FIRST_COMPLETED)
        finally:
            watching.cancel()
            if not serving.done():
                serving.cancel()
            await asyncio.gather(watching, return_exceptions=True)
        if serving.cancelled():
            return False
        serving.result()  # re-raises what ended the connection
        return True

    async def _probe(self, bot: Any, dong: asyncio.Event) -> None:
        """Returns when the service stopped answering."""
        while True:
            await asyncio.sleep(self._ping_every_s)
            if bot.puppet is None:
                continue
            dong.clear()
            try:
                async with asyncio.timeout(self._ping_timeout_s):
                    await bot.puppet.ding("chatclone")
                    await dong.wait()
            except Exception as e:  # noqa: BLE001 - any failure of the round trip means: reconnect
                log.warning("wechat: the puppet service stopped answering (%s); reconnecting",
                            type(e).__name__ if isinstance(e, TimeoutError) else f"{type(e).__name__}: {e}")
                return

    async def _deliver(self, bot: Any, msg: Any, on_message: OnMessage) -> None:
        try:
            mapped = await self._incoming(bot, msg)
            if mapped is not None:
                await on_message(mapped[0], WechatWriter(self, mapped[1]))
        except Exception:
            log.exception("wechat: handling message %s failed", msg.message_id)

    async def _incoming(self, bot: Any, msg: Any) -> tuple[Incoming, _Target] | None:
        if msg.type() != import_wechaty().MessageType.MESSAGE_TYPE_TEXT:
            return None
        by_owner = msg.is_self()
        if by_owner and await self._is_echo(msg.message_id):
            return None
        talker, room = msg.talker(), msg.room()
        if room is not None:
            addressed = await msg.mention_self()
            text = (await msg.mention_text()).strip() if addressed else msg.text()
            target = (_Target(room.room_id, True) if by_owner
                      else _Target(room.room_id, True, talker.contact_id, talker.name))
            return Incoming(self.name, room.room_id, await room.topic() or "", True, talker.contact_id, talker.name,
                            text, addressed, by_owner, _sent_at(msg)), target
        partner = msg.to() if by_owner else talker
        me = bot.user_self()
        await me.ready()
        partner_id = partner.contact_id if partner is not None else ""
        if by_owner and partner_id in ("", me.contact_id, FILEHELPER):
            # the owner's command chat: replies go back where they wrote
            target = _Target(partner_id or me.contact_id, False)
            return Incoming(self.name, me.contact_id, me.name, False, me.contact_id, me.name, msg.text(),
                            by_owner=True, time=_sent_at(msg)), target
        return Incoming(self.name, partner.contact_id, partner.name, False, talker.contact_id, talker.name,
                        msg.text(), by_owner=by_owner, time=_sent_at(msg)), _Target(partner.contact_id, False)

    def writer(self, chat_id: str, is_group: bool) -> WechatWriter:
        return WechatWriter(self, _Target(chat_id, is_group))

    async def _is_echo(self, message_id: str) -> bool:
        """Did this channel send it? An echo can arrive before ``say()`` returned its id: wait for those sends."""
        if self._sends_in_flight:
            await asyncio.wait(set(self._sends_in_flight), timeout=_ECHO_WAIT_S)
        return message_id in self._sent_ids

    async def _send(self, target: _Target, text: str, mention: bool) -> None:
        """Deliver ``text`` or raise SendFailed (see :meth:`bot.chat.ChatWriter.send`)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sends_in_flight.add(done)
        try:
            message_id = await send_with_retry(functools.partial(self._send_once, target, text, mention),
                                               _retry_wait, self._send_retry,
                                               f"wechat: sending to {target.conversation_id}")
            if message_id:
                self._sent_ids[message_id] = None
                if len(self._sent_ids) > _SENT_IDS_KEPT:
                    del self._sent_ids[next(iter(self._sent_ids))]
        finally:
            self._sends_in_flight.discard(done)
            done.set_result(None)

    async def _send_once(self, target: _Target, text: str, mention: bool) -> str:
        """One attempt on the current connection; the sent message's id."""
        bot = self._bot
        puppet = bot.puppet if bot is not None else None
        if puppet is None:
            raise ConnectionError("not connected to the puppet service")
        mention_ids = None
        if mention and target.mention_id:  # WeChat shows a mention as "@Name " in the text; the id notifies them
            mention_ids, text = [target.mention_id], f"@{target.mention_name} {text}"
        async with asyncio.timeout(self._send_timeout_s):
            return await puppet.message_send_text(target.conversation_id, text, mention_ids)


def _sent_at(msg: Any) -> float:
    """When WeChat says the message was sent (so the responder can tell a backlog delivered after an outage from
    new messages); the receipt time when the puppet gives none."""
    return msg.date().timestamp() if msg.payload.timestamp else time.time()


class WechatWriter:
    """Writes into one chat or room; in rooms the first message delivered may @mention the one it answers."""

    def __init__(self, channel: WechatChannel, target: _Target):
        self._channel = channel
        self._target = target
        self._mention = target.mention_id is not None

    async def typing(self) -> None:
        """WeChat shows no typing indicator to others."""

    async def send(self, text: str) -> None:
        """See :meth:`bot.chat.ChatWriter.send`: delivered, or :class:`bot.chat.SendFailed`."""
        await self._channel._send(self._target, text, self._mention)
        self._mention = False  # only the first message delivered mentions the sender


def _retry_wait(exc: Exception) -> float | None:
    """How a failed send is retried (see :data:`bot.channels.sending.Classify`)."""
    if isinstance(exc, GRPCError):
        return None if exc.status in _REFUSED else 0.0
    if isinstance(exc, (OSError, TimeoutError, StreamTerminatedError, ProtocolError)):
        return 0.0  # no connection, a lost or stuck one
    return None


@functools.cache
def _bot_class(api: WechatyApi) -> type:
    class ChannelBot(api.Wechaty):  # type: ignore[misc, name-defined]
        """One connection's client; hands its events to the channel."""

        def __init__(self, options: Any, channel: WechatChannel, on_message: OnMessage):
            super().__init__(options)
            self.channel = channel
            self.deliver = on_message
            self.logged_in = False

        async def on_login(self, contact: Any) -> None:
            self.logged_in = True
            log.info("wechat: logged in as %s (%s)", contact.name, contact.contact_id)

        async def on_logout(self, contact: Any) -> None:
            log.warning("wechat: %s logged out", contact.contact_id)

        async def on_scan(self, qr_code: str, status: Any, data: str | None = None) -> None:
            log.warning("wechat: log in by scanning %s (%s)", qr_code, getattr(status, "name", status))

        async def on_message(self, msg: Any) -> None:
            await self.channel._deliver(self, msg, self.deliver)

    return ChannelBot
