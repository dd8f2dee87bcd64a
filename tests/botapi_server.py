"""A small Telegram Bot API server on 127.0.0.1 for tests.

It speaks the real wire protocol (``/bot<TOKEN>/<method>``, JSON or form bodies, ``{"ok": ...}`` envelopes),
so the real python-telegram-bot client can poll it. Tests push user messages with :meth:`BotApiServer.push_text`
and read what the bot sent from :attr:`BotApiServer.sent` / :meth:`BotApiServer.wait_sent`. :meth:`BotApiServer.fail`
makes the next calls of a method fail as Telegram does under a flood limit (429 with ``retry_after``) or an outage
(5xx); :attr:`BotApiServer.call_times` says when each call arrived.
"""
from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from aiohttp import web

MAX_TEXT_LENGTH = 4096  # Telegram's limit for one text message
ChatType = Literal["private", "group", "supergroup"]
_CHAT_TYPES = get_args(ChatType)
# Telegram detects commands at the start of a word and @mentions of any valid username (5-32 chars).
_ENTITY_RE = re.compile(r"(?P<bot_command>(?<!\S)/\w{1,32}(?:@\w{3,32})?)|(?P<mention>(?<!\w)@\w{5,32})", re.ASCII)


@dataclass(frozen=True)
class SentMessage:
    chat_id: int
    text: str
    message_id: int
    reply_to: int | None  # message_id the bot replied to (reply_parameters or legacy reply_to_message_id)
    params: dict[str, Any]  # the request parameters as the client sent them


@dataclass(frozen=True)
class ChatAction:
    chat_id: int
    action: str


class ApiError(Exception):
    """An error answered as Telegram does: HTTP status = error_code, a description and maybe ResponseParameters."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def utf16_len(text: str) -> int:
    """Telegram counts entity offsets and lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def text_entities(text: str) -> list[dict[str, Any]]:
    """bot_command and mention entities the way Telegram computes them for a plain text message."""
    return [{"type": m.lastgroup, "offset": utf16_len(text[:m.start()]), "length": utf16_len(m.group())}
            for m in _ENTITY_RE.finditer(text)]


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid {name} {value!r}") from None


def _json(value: Any) -> Any:
    """Form bodies carry every non-string value JSON-encoded; JSON bodies carry it decoded already."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ApiError(400, f"Bad Request: can't parse JSON {value!r}") from None


class BotApiServer:
    """Fake Bot API for one bot. Every public method runs on the test's event loop."""

    def __init__(self, token: str, bot_username: str = "clone_bot"):
        if not re.fullmatch(r"\d+:[\w-]+", token):
            raise ValueError(f"token {token!r} is not '<bot id>:<secret>'")
        self.token = token
        self.bot_user = {"id": int(token.split(":")[0]), "is_bot": True, "first_name": bot_username,
                         "username": bot_username}
        self.sent: list[SentMessage] = []
        self.actions: list[ChatAction] = []
        self.calls: list[str] = []  # every method called with the right token, in order
        self.call_times: list[tuple[str, float]] = []  # (method, time.monotonic() on arrival) for each of calls
        self._faults: dict[str, list[ApiError]] = {}  # method (lower case) -> errors its next calls get
        self._updates: list[dict[str, Any]] = []  # not yet confirmed by a getUpdates offset
        self._next_update_id = 1
        self._next_message_id = 1
        self._chats: dict[int, dict[str, Any]] = {}  # chats the bot has seen; others are "chat not found"
        self.blocked: set[int] = set()  # chats that blocked the bot: sending there is 403 Forbidden
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._allowed_updates: set[str] = set()  # empty = every type, and Telegram keeps the last setting
        self._changed = asyncio.Event()
        self._polls: set[asyncio.Task] = set()  # connection tasks parked in a long poll
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getme": lambda p: self.bot_user,
            "deletewebhook": self._delete_webhook,
            "sendmessage": self._send_message,
            "sendchataction": self._send_chat_action,
            "getmycommands": lambda p: [],
            "setmycommands": lambda p: True,
            "close": lambda p: True,
            "logout": lambda p: True,
        }

    # ---- lifecycle -------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What to pass to ``ApplicationBuilder.base_url``; PTB appends the token. Stable across restarts."""
        if not self._port:
            raise RuntimeError("BotApiServer was never started")
        return f"http://127.0.0.1:{self._port}/bot"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        # handler_cancellation: a client that gives up on a long poll releases its parked handler at once;
        # shutdown_timeout only bounds stop() for a request that slips in on a keep-alive connection meanwhile
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._port = site.port
        self._runner = runner

    async def stop(self) -> None:
        """Stop like a dying server: parked long polls are cut, not answered; no task is left behind."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        for site in runner.sites:
            await site.stop()
        polls = list(self._polls)
        for task in polls:
            task.cancel()
        await asyncio.gather(*polls, return_exceptions=True)
        await runner.cleanup()

    async def restart(self) -> None:
        """A Bot API outage: cut every connection, then listen again on the same port. Queued updates survive."""
        await self.stop()
        await self.start()

    # ---- test API --------------------------------------------------------------------------------------------

    def push_text(self, chat_id: int, text: str, *, user_id: int, first_name: str, chat_type: ChatType = "private",
                  chat_title: str | None = None, reply_to_bot_message_id: int | None = None,
                  entities: list[dict[str, Any]] | None = None, is_bot: bool = False) -> dict[str, Any]:
        """Queue an Update with a text message from a user (``is_bot``: another bot); returns the Message."""
        if chat_type not in _CHAT_TYPES:
            raise ValueError(f"chat_type {chat_type!r} is not one of {_CHAT_TYPES}")
        if chat_type == "private" and chat_id != user_id:
            raise ValueError(f"a private chat's id is the user's id: chat_id {chat_id} != user_id {user_id}")
        if chat_type == "private":
            chat = {"id": chat_id, "type": "private", "first_name": first_name}
        else:
            chat = {"id": chat_id, "type": chat_type, "title": chat_title or f"Group {chat_id}"}
        self._chats[chat_id] = chat
        message = self._new_message(chat, {"id": user_id, "is_bot": is_bot, "first_name": first_name}, text)
        entities = text_entities(text) if entities is None else entities
        if entities:
            message["entities"] = entities
        if reply_to_bot_message_id is not None:
            replied = self._messages.get((chat_id, reply_to_bot_message_id))
            if replied is None or replied["from"]["id"] != self.bot_user["id"]:
                raise ValueError(f"the bot sent no message {reply_to_bot_message_id} in chat {chat_id}")
            message["reply_to_message"] = _without_reply(replied)
        self.push_update(message=message)
        return message

    def push_update(self, **update: Any) -> dict[str, Any]:
        """Queue any Update, e.g. ``push_update(edited_message={...})``; returns it with its update_id."""
        update = {"update_id": self._next_update_id, **update}
        self._next_update_id += 1
        self._updates.append(update)
        self._notify()
        return update

    def fail(self, method: str, times: int, code: int = 500, *, retry_after: int | None = None) -> None:
        """The next ``times`` calls of ``method`` get HTTP ``code`` and do nothing: 429 is a flood limit saying
        ``retry_after`` seconds, 5xx an outage."""
        if code == 429:
            if retry_after is None:
                raise ValueError("Telegram's 429 always says retry_after")
            error = ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
        else:
            error = ApiError(code, {500: "Internal Server Error", 502: "Bad Gateway"}.get(code, f"Error {code}"))
        self._faults.setdefault(method.lower(), []).extend([error] * times)

    def times_of(self, method: str) -> list[float]:
        """When each call of ``method`` arrived (time.monotonic())."""
        return [t for name, t in self.call_times if name.lower() == method.lower()]

    async def wait_calls(self, method: str, n: int, timeout: float = 5.0) -> None:
        """Until ``method`` was called ``n`` times (failed calls included)."""
        try:
            await self._wait_until(lambda: len(self.times_of(method)) >= n, timeout)
        except TimeoutError:
            raise TimeoutError(f"{method} called {len(self.times_of(method))} of {n} times in {timeout} s") from None

    async def wait_sent(self, n: int, timeout: float = 5.0) -> list[SentMessage]:
        """All messages sent so far, once there are at least ``n``."""
        try:
            await self._wait_until(lambda: len(self.sent) >= n, timeout)
        except TimeoutError:
            raise TimeoutError(f"bot sent {len(self.sent)} of {n} messages in {timeout} s; "
                               f"calls: {self.calls}") from None
        return list(self.sent)

    async def wait_polling(self, timeout: float = 5.0) -> None:
        """Until a getUpdates long poll is parked on the server (to cut one deliberately)."""
        await self._wait_until(lambda: bool(self._polls), timeout)

    # ---- protocol --------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _reply_error(401, "Unauthorized")
        method = request.match_info["method"].lower()  # Bot API method names are case-insensitive
        self.calls.append(request.match_info["method"])
        self.call_times.append((request.match_info["method"], time.monotonic()))
        self._notify()
        try:
            params = await _params(request)
            if self._faults.get(method):
                raise self._faults[method].pop(0)
            if method == "getupdates":
                return _reply_ok(await self._get_updates(params))
            handler = self._methods.get(method)
            if handler is None:
                raise ApiError(404, "Not Found")
            return _reply_ok(handler(params))
        except ApiError as exc:
            return _reply_error(exc.code, exc.description, exc.parameters)

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = _int(params.get("offset", 0), "offset")
        limit = min(max(_int(params.get("limit", 100), "limit"), 1), 100)
        timeout = max(_int(params.get("timeout", 0), "timeout"), 0)
        if "allowed_updates" in params:
            self._allowed_updates = set(_json(params["allowed_updates"]))
        if offset < 0:  # the last -offset updates; everything before them is forgotten
            del self._updates[:offset]
        elif offset:  # an offset confirms every update before it
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._deliverable() and timeout:
            task = asyncio.current_task()
            self._polls.add(task)
            self._notify()
            try:
                await self._wait_until(lambda: bool(self._deliverable()), timeout)
            except TimeoutError:
                pass
            finally:
                self._polls.discard(task)
        return self._deliverable()[:limit]

    def _deliverable(self) -> list[dict[str, Any]]:
        allowed = self._allowed_updates
        return [u for u in self._updates if not allowed or allowed & u.keys()]

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if _json(params.get("drop_pending_updates", False)):
            self._updates.clear()
        return True

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        text = str(params.get("text", ""))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise ApiError(400, "Bad Request: message is too long")
        # PTB sends reply_parameters; reply_to_message_id is the pre-7.0 spelling other clients still use
        reply = _json(params["reply_parameters"]) if "reply_parameters" in params else {}
        if not isinstance(reply, dict):
            raise ApiError(400, "Bad Request: reply_parameters is not an object")
        reply_to = reply.get("message_id", params.get("reply_to_message_id"))
        reply_to = None if reply_to is None else _int(reply_to, "reply message_id")
        replied = self._messages.get((chat["id"], reply_to))
        if reply_to is not None and replied is None and not _json(
                reply.get("allow_sending_without_reply", params.get("allow_sending_without_reply", False))):
            raise ApiError(400, "Bad Request: message to be replied not found")
        message = self._new_message(chat, self.bot_user, text)
        if replied is not None:
            message["reply_to_message"] = _without_reply(replied)
        self.sent.append(SentMessage(chat_id=chat["id"], text=text, message_id=message["message_id"],
                                     reply_to=reply_to, params=params))
        self._notify()
        return message

    def _send_chat_action(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params)
        self.actions.append(ChatAction(chat_id=chat["id"], action=str(params.get("action", ""))))
        return True

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        if "chat_id" not in params:
            raise ApiError(400, "Bad Request: chat_id is empty")
        try:
            chat = self._chats[int(params["chat_id"])]
        except (KeyError, TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        if chat["id"] in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _new_message(self, chat: dict[str, Any], sender: dict[str, Any], text: str) -> dict[str, Any]:
        message = {"message_id": self._next_message_id, "date": int(time.time()), "chat": chat, "from": sender,
                   "text": text}
        self._next_message_id += 1
        self._messages[(chat["id"], message["message_id"])] = message
        return message

    # ---- waiting ---------------------------------------------------------------------------------------------

    def _notify(self) -> None:
        """Wake every waiter; each re-checks its own condition (push_text is sync, so no Condition)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(self, ready: Callable[[], bool], timeout: float) -> None:
        """Raises TimeoutError when ``ready()`` is still false after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while not ready():
                await self._changed.wait()


def _without_reply(message: dict[str, Any]) -> dict[str, Any]:
    """Telegram nests replies one level deep only."""
    return {k: v for k, v in message.items() if k != "reply_to_message"}


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON body") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request: JSON body is not an object")
        params.update(body)
    elif request.can_read_body:
        params.update(await request.post())
    return params


def _reply_ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _reply_error(code: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)
