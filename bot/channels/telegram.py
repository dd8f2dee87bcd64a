"""Telegram channel: a python-telegram-bot (PTB 22) Application long-polling the Bot API.

Why it is built this way:

* The daemon owns the event loop and the signals, so no ``run_polling``: ``run()`` drives the Application's
  lifecycle itself (initialize/getMe, ``updater.start_polling``, ``start``; the reverse on cancellation).
* ``concurrent_updates``: PTB runs handlers one after another by default, so one slow reply would hold up every
  other chat. On cancellation, ``on_message`` calls still running are cancelled: ``Application.stop()`` would
  wait for each of them.
* Startup retries a network error (Bot API unreachable, 5xx) with exponential backoff instead of crashing the
  daemon; a rejected token (401/404) cannot heal by waiting, so it raises :class:`ConfigError`. Once polling,
  PTB's updater retries network errors itself (1 s growing to 30 s); we only log them as one line each.
* Only ``message`` updates are requested, and only text from humans is delivered: edits, media and bots
  (including anonymous group admins, who appear as ``GroupAnonymousBot``) are not something to answer.
  Commands are text too: the owner's ``/pause`` must reach the responder, as ``/cmd`` even when sent as
  ``/cmd@botname``.
* ``addressed``: a private chat, an @mention of the bot (``mention`` entity, ``text_mention`` of the bot user,
  ``/cmd@botname``) or a reply to one of the bot's messages. A leading/trailing @botname is stripped from group
  text so the model sees what was said to it, unless nothing would be left. ``time`` is Telegram's send time,
  so the responder can tell a backlog queued during an outage from new messages.
* The token is part of every request URL, which httpx logs at INFO and PTB at DEBUG. A log record factory
  redacts the token's secret part in every record of the process (message and traceback), whatever logger or
  handler the daemon configures; logger filters would miss child loggers, handler filters later handlers.
* Sending follows the contract in ``bot/chat.py``: a flood limit (429) is retried after the ``retry_after`` Telegram
  asks for, a server error (5xx) or network error after exponential backoff, both within ``SendRetry``'s attempts
  and time; what cannot pass (400 Bad Request, 403 blocked by the user, a rejected token) fails at once. Either way
  ``send`` then raises :class:`SendFailed`, so the responder does not record an undelivered reply. A timeout after
  the request went out is retried too: a rare duplicate is better than a reply silently lost. Typing failures are
  only logged. Long replies are split at whitespace to fit Telegram's 4096-character limit (counted in UTF-16
  units, which is never less than Python's count); in groups the first part delivered quotes the message it
  answers, without failing when that message was deleted meanwhile.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import warnings
from collections.abc import Callable
from datetime import timedelta

from telegram import Bot, Message, MessageEntity, ReplyParameters, Update
from telegram.constants import ChatAction, ChatType, MessageLimit
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ContextTypes, MessageHandler, Updater, filters
from telegram.warnings import PTBDeprecationWarning

from bot.channels.sending import SendRetry, send_with_retry
from bot.chat import Incoming, OnMessage
from bot.redact import redact_in_logs
from core.config import BotTelegram, ConfigError

log = logging.getLogger(__name__)

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
_GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)
_POLLING_TASK = "Updater:start_polling:polling_task"  # PTB 22's name for its getUpdates loop
_ADDRESSING: list[str | None] = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION, MessageEntity.BOT_COMMAND]


class TelegramChannel:
    """A :class:`bot.chat.Channel` for one Telegram bot."""

    name = "telegram"

    def __init__(self, settings: BotTelegram, token: str, *, retry_initial_s: float = 1.0,
                 retry_max_s: float = 60.0, send_retry: SendRetry = SendRetry()):
        if not token:
            raise ConfigError(f"telegram: empty bot token (env {TOKEN_ENV})")
        self.settings = settings
        self._token = token
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._send_retry = send_retry
        self._connected: Bot | None = None
        redact_in_logs(token.partition(":")[2] or token)  # before PTB builds its URLs and logs them

    @classmethod
    def from_env(cls, settings: BotTelegram) -> TelegramChannel:
        """The channel for ``settings`` with the token from env TELEGRAM_BOT_TOKEN."""
        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            raise ConfigError(f"bot.telegram is enabled but env {TOKEN_ENV} is not set (the bot token from "
                              "@BotFather)")
        return cls(settings, token)

    async def run(self, on_message: OnMessage) -> None:
        app = (Application.builder().token(self._token).base_url(self.settings.base_url)
               .concurrent_updates(True).build())

        delivering: set[asyncio.Task] = set()

        async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            task = asyncio.current_task()
            if task is None or update.message is None:  # the filter lets through messages only
                return
            delivering.add(task)
            try:
                await _deliver(update.message, context.bot, on_message, self._send_retry)
            finally:
                delivering.discard(task)

        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, handle))
        try:
            await self._connect(app)
            await app.start()
            self._connected = app.bot
            try:
                await _polling_ends()  # until cancelled, or the Bot API revokes the token
            finally:
                try:
                    await _updater(app).stop()  # confirms the last updates with one more getUpdates
                except TelegramError as exc:  # e.g. the token was revoked: nothing to confirm with it
                    log.warning("telegram: stopping the poller: %s", exc)
                self._connected = None
                for task in delivering:  # app.stop() would wait for them, however long a reply takes
                    task.cancel()
                await app.stop()
        finally:
            await app.shutdown()
            await app.bot.shutdown()  # no-op after app.shutdown(); closes the HTTP clients when getMe never worked

    def writer(self, chat_id: str, is_group: bool) -> TelegramWriter:
        return TelegramWriter(self._bot, int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id,
                              retry=self._send_retry)

    def _bot(self) -> Bot:
        if self._connected is None:
            raise NetworkError("not connected to the Bot API yet")
        return self._connected

    async def _connect(self, app: Application) -> None:
        """getMe (initialize) and deleteWebhook (start_polling), retried with backoff on network errors."""
        delay = self._retry_initial_s
        while True:
            try:
                await app.initialize()
                await _updater(app).start_polling(timeout=self.settings.poll_timeout_s,
                                                allowed_updates=[Update.MESSAGE], error_callback=_poll_error)
                log.info("telegram: polling as @%s", app.bot.username)
                return
            except InvalidToken:
                raise _rejected(self.settings) from None  # `from None`: PTB's message quotes the token
            except NetworkError as exc:
                log.warning("telegram: Bot API unreachable (%s); retrying in %.3g s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_max_s)


def _updater(app: Application) -> Updater:
    if app.updater is None:  # the builder makes one unless told not to
        raise RuntimeError("telegram: the Application has no updater")
    return app.updater


def _rejected(settings: BotTelegram) -> ConfigError:
    return ConfigError(f"telegram: the Bot API rejected the token (env {TOKEN_ENV}) or bot.telegram.base_url "
                       f"{settings.base_url!r} is wrong")


async def _polling_ends() -> None:
    """Wait on PTB's polling task. Its retry loop retries network errors for ever but ends on InvalidToken (the
    token was revoked in @BotFather while we ran), leaving the Application looking alive: surface that."""
    polling = next((t for t in asyncio.all_tasks() if t.get_name() == _POLLING_TASK), None)
    if polling is None:  # another PTB version named it differently: wait for cancellation only
        await asyncio.Future()
        return
    try:
        await asyncio.shield(polling)  # shielded: updater.stop() ends it on our cancellation, not us
    except InvalidToken:
        raise ConfigError(f"telegram: the Bot API stopped accepting the token (env {TOKEN_ENV}); was it "
                          "revoked?") from None
    raise RuntimeError("telegram: polling stopped unexpectedly")


class TelegramWriter:
    """Writes into one chat; ``quote``: the message the first message delivered replies to (groups)."""

    def __init__(self, bot: Callable[[], Bot], chat_id: int | str, quote: int | None = None,
                 retry: SendRetry = SendRetry()):
        self._bot = bot  # the connected Bot, looked up at each attempt (raises NetworkError while there is none)
        self._chat_id = chat_id
        self._quote = quote
        self._retry = retry

    async def typing(self) -> None:
        try:
            await self._bot().send_chat_action(self._chat_id, ChatAction.TYPING)
        except TelegramError as exc:
            log.warning("telegram: typing in chat %s failed: %s", self._chat_id, exc)

    async def send(self, text: str) -> None:
        """See :meth:`bot.chat.ChatWriter.send`: delivered, or :class:`bot.chat.SendFailed`."""
        for part in split_text(text):
            reply = None if self._quote is None else ReplyParameters(self._quote, allow_sending_without_reply=True)

            async def attempt(part: str = part, reply: ReplyParameters | None = reply) -> None:
                await self._bot().send_message(self._chat_id, part, reply_parameters=reply)

            await send_with_retry(attempt, _retry_wait, self._retry, f"telegram: sending to chat {self._chat_id}")
            self._quote = None


def _retry_wait(exc: Exception) -> float | None:
    """How a failed send is retried (see :data:`bot.channels.sending.Classify`)."""
    if isinstance(exc, RetryAfter):
        with warnings.catch_warnings():  # PTB 22 warns that retry_after will become a timedelta
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            after = exc.retry_after
        return after.total_seconds() if isinstance(after, timedelta) else float(after)
    if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):  # PTB files 400 under NetworkError
        return 0.0  # 5xx, connection refused or reset, timeouts
    return None


async def _deliver(message: Message, bot: Bot, on_message: OnMessage, retry: SendRetry) -> None:
    user = message.from_user
    if user is None or user.is_bot:
        return
    is_group = message.chat.type in _GROUPS
    incoming = Incoming(
        channel=TelegramChannel.name, chat_id=str(message.chat_id),
        chat_name=(message.chat.title or "") if is_group else user.full_name, is_group=is_group,
        sender_id=str(user.id), sender_name=user.full_name,
        text=_clean_text(message.text or "", bot.username, is_group),
        addressed=not is_group or _addresses(message, bot), time=message.date.timestamp())
    try:
        quote = message.message_id if is_group else None
        await on_message(incoming, TelegramWriter(lambda: bot, message.chat_id, quote, retry))
    except Exception:
        log.exception("telegram: on_message failed for chat %s (%s)", incoming.chat_id, incoming.chat_name)


def _addresses(message: Message, bot: Bot) -> bool:
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return True
    me = f"@{bot.username}".lower()
    for entity, text in message.parse_entities(_ADDRESSING).items():
        if entity.type == MessageEntity.TEXT_MENTION:
            if entity.user is not None and entity.user.id == bot.id:
                return True
        elif text.lower().endswith(me):  # @botname, /cmd@botname
            return True
    return False


def _clean_text(text: str, username: str, is_group: bool) -> str:
    """``/cmd@botname`` -> ``/cmd``; in groups also drop a leading or trailing @botname."""
    at = re.escape(f"@{username}")
    text = re.sub(rf"^(/\w+){at}(?!\w)", r"\1", text, flags=re.IGNORECASE | re.ASCII)
    if not is_group:
        return text
    stripped = re.sub(rf"^\s*{at}(?!\w)[\s,:，：]*|[\s,，]*{at}\s*$", "", text, flags=re.IGNORECASE | re.ASCII)
    return stripped or text  # a bare "@botname" is still a message


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """``text`` in parts of at most ``limit`` UTF-16 units, cut at the last whitespace that fits if any."""
    parts = []
    text = text.strip()
    while text:
        cut = _fitting(text, limit)
        if cut < len(text):
            space = max(text.rfind(" ", 0, cut + 1), text.rfind("\n", 0, cut + 1))
            cut = space if space > 0 else cut
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return parts


def _fitting(text: str, limit: int) -> int:
    """How many leading characters of ``text`` fit in ``limit`` UTF-16 units."""
    units = 0
    for i, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return i
    return len(text)


def _poll_error(exc: TelegramError) -> None:
    log.warning("telegram: polling failed (%s); PTB retries", exc)
