"""The fake Bot API server: the real python-telegram-bot client polls it; raw HTTP checks the protocol details."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
import pytest
from telegram import Message, MessageEntity, ReplyParameters, Update
from telegram.constants import ChatAction as PtbChatAction
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from botapi_server import BotApiServer, ChatAction
from conftest import TELEGRAM_TOKEN as TOKEN

BOT_ID = 123456
ALICE = 111
GROUP = -1001234567890


@pytest.fixture
def server(bot_api):
    return bot_api


def build_app(base_url: str, token: str = TOKEN) -> Application:
    # short timeouts: a cut long poll must fail fast, and the retry loop then waits 1 s before polling again
    return (Application.builder().token(token).base_url(base_url)
            .get_updates_connect_timeout(1).get_updates_read_timeout(2).get_updates_pool_timeout(1)
            .connect_timeout(1).read_timeout(2).build())


@dataclass
class Running:
    server: BotApiServer
    app: Application
    updates: list[Update] = field(default_factory=list)  # what the handler received
    replies: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)  # what send_message returned
    poll_errors: list[TelegramError] = field(default_factory=list)
    handler_errors: list[object] = field(default_factory=list)


@pytest.fixture
async def running(server):
    """A real PTB Application polling the server; it echoes every text as a reply."""
    app = build_app(server.base_url)
    run = Running(server, app)

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg = update.effective_message
        run.updates.append(update)
        await context.bot.send_chat_action(msg.chat_id, PtbChatAction.TYPING)
        run.replies.put_nowait(await context.bot.send_message(
            msg.chat_id, f"echo: {msg.text}", reply_parameters=ReplyParameters(message_id=msg.message_id)))

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        run.handler_errors.append(context.error)

    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_error_handler(on_error)
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1, error_callback=run.poll_errors.append)
    yield run
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    assert run.handler_errors == []


async def test_private_message_is_echoed(running):
    server = running.server
    pushed = server.push_text(ALICE, "hi 你好", user_id=ALICE, first_name="Alice")

    sent = await server.wait_sent(1)

    assert [(s.chat_id, s.text, s.reply_to) for s in sent] == [(ALICE, "echo: hi 你好", pushed["message_id"])]
    assert server.actions == [ChatAction(ALICE, "typing")]
    got = running.updates[0].effective_message
    assert (got.chat.type, got.from_user.id, got.from_user.first_name) == ("private", ALICE, "Alice")
    reply = await asyncio.wait_for(running.replies.get(), 5)  # the server's Message object, as PTB parsed it
    assert (reply.message_id, reply.chat.id) == (sent[0].message_id, ALICE)
    assert (reply.from_user.id, reply.from_user.is_bot, reply.from_user.username) == (BOT_ID, True, "clone_bot")
    assert reply.reply_to_message.message_id == pushed["message_id"]
    assert server.calls[:3] == ["getMe", "deleteWebhook", "getUpdates"]


async def test_group_mention_reaches_ptb_as_mention_entity(running):
    server = running.server
    server.push_text(GROUP, "no mention here", user_id=ALICE, first_name="Alice", chat_type="supergroup",
                     chat_title="Family")
    server.push_text(GROUP, "大家好😀 @clone_bot 在吗?", user_id=ALICE, first_name="Alice",
                     chat_type="supergroup", chat_title="Family")

    await server.wait_sent(2)

    plain, mention = running.updates
    assert (mention.effective_chat.type, mention.effective_chat.title) == ("supergroup", "Family")
    assert not filters.Entity(MessageEntity.MENTION).check_update(plain)
    assert filters.Entity(MessageEntity.MENTION).check_update(mention)
    # PTB slices entities by UTF-16 offsets: the emoji before the mention must not shift it
    assert list(mention.effective_message.parse_entities([MessageEntity.MENTION]).values()) == ["@clone_bot"]


async def test_reply_to_bot_message_carries_the_bot_as_author(running):
    server = running.server
    server.push_text(GROUP, "@clone_bot hello", user_id=ALICE, first_name="Alice", chat_type="group")
    bot_msg = (await server.wait_sent(1))[0]

    server.push_text(GROUP, "and again", user_id=ALICE, first_name="Alice", chat_type="group",
                     reply_to_bot_message_id=bot_msg.message_id)
    await server.wait_sent(2)

    replied = running.updates[1].effective_message.reply_to_message
    assert (replied.message_id, replied.text) == (bot_msg.message_id, "echo: @clone_bot hello")
    assert replied.from_user.is_bot and replied.from_user.id == BOT_ID
    assert replied.reply_to_message is None  # Telegram nests replies one level only


async def test_wrong_token_fails_at_initialize(server):
    app = build_app(server.base_url, token="123456:wrong-token")
    try:
        with pytest.raises(InvalidToken):
            await app.initialize()
    finally:
        await app.bot.shutdown()  # initialize opened the HTTP clients before getMe failed
    assert server.calls == []


async def test_client_reconnects_after_server_restart_mid_poll(running):
    server = running.server
    server.push_text(ALICE, "before", user_id=ALICE, first_name="Alice")
    await server.wait_sent(1)
    await server.wait_polling()

    await server.restart()
    server.push_text(ALICE, "after", user_id=ALICE, first_name="Alice")

    sent = await server.wait_sent(2, timeout=10)
    assert [s.text for s in sent] == ["echo: before", "echo: after"]
    # the parked poll was cut, not answered: PTB saw a network error and polled again
    assert any(isinstance(e, NetworkError) for e in running.poll_errors)


# ---- raw protocol ------------------------------------------------------------------------------------------------


@pytest.fixture
async def http():
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        yield client


async def call(http: httpx.AsyncClient, server: BotApiServer, method: str, **params) -> tuple[int, dict]:
    response = await http.post(f"{server.base_url}{server.token}/{method}", json=params)
    return response.status_code, response.json()


async def test_long_poll_returns_as_soon_as_an_update_is_pushed(server, http):
    poll = asyncio.create_task(call(http, server, "getUpdates", timeout=30))
    await server.wait_polling()
    pushed = server.push_text(ALICE, "wake up", user_id=ALICE, first_name="Alice")

    status, body = await asyncio.wait_for(poll, 5)

    assert status == 200 and [u["message"] for u in body["result"]] == [pushed]
    update_id = body["result"][0]["update_id"]
    # not confirmed yet: delivered again; confirmed by offset: gone
    assert (await call(http, server, "getUpdates", offset=update_id))[1]["result"][0]["update_id"] == update_id
    assert (await call(http, server, "getUpdates", offset=update_id + 1))[1] == {"ok": True, "result": []}


async def test_get_updates_honours_allowed_updates_limit_and_negative_offset(server, http):
    for text in ("one", "two", "three"):
        server.push_text(ALICE, text, user_id=ALICE, first_name="Alice")

    assert (await call(http, server, "getUpdates", allowed_updates=["callback_query"]))[1]["result"] == []
    texts = [u["message"]["text"] for u in (await call(http, server, "getUpdates", allowed_updates=[], limit=2))[1]
             ["result"]]
    assert texts == ["one", "two"]
    assert [u["message"]["text"] for u in (await call(http, server, "getUpdates", offset=-1))[1]["result"]] == ["three"]
    assert [u["message"]["text"] for u in (await call(http, server, "getUpdates"))[1]["result"]] == ["three"]


async def test_send_message_protocol_errors_and_legacy_reply(server, http):
    pushed = server.push_text(ALICE, "hi", user_id=ALICE, first_name="Alice")

    status, body = await call(http, server, "sendMessage", chat_id=ALICE, text="yo",
                              reply_to_message_id=pushed["message_id"])
    assert status == 200 and body["result"]["reply_to_message"]["message_id"] == pushed["message_id"]
    assert server.sent[0].reply_to == pushed["message_id"]
    assert await call(http, server, "sendMessage", chat_id=999, text="yo") == (
        400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    assert (await call(http, server, "sendMessage", chat_id=ALICE, text="x" * 4097))[0] == 400
    assert (await call(http, server, "sendMessage", chat_id=ALICE, text="yo", reply_to_message_id=12345))[0] == 400
    assert (await call(http, server, "noSuchMethod"))[0] == 404
    response = await http.post(f"{server.base_url}123456:nope/getMe")
    assert (response.status_code, response.json()) == (
        401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    assert len(server.sent) == 1


def test_push_text_computes_utf16_entities_as_ptb_reads_them():
    server = BotApiServer(token=TOKEN, bot_username="clone_bot")
    cases = {
        "hi @clone_bot": [("mention", "@clone_bot")],
        "你好😀😀 @clone_bot，@other_user 在吗": [("mention", "@clone_bot"), ("mention", "@other_user")],
        "/start@clone_bot now": [("bot_command", "/start@clone_bot")],
        "mail a@clone_bot.com or @abc": [],
    }
    for text, expected in cases.items():
        message = Message.de_json(server.push_text(ALICE, text, user_id=ALICE, first_name="Alice"), None)
        assert [(e.type, t) for e, t in message.parse_entities().items()] == expected, text


async def test_stop_cuts_parked_polls_and_leaves_no_tasks(server, http):
    poll = asyncio.create_task(call(http, server, "getUpdates", timeout=30))
    await server.wait_polling()

    await server.stop()

    with pytest.raises(httpx.HTTPError):  # cut, like a dying server: no response at all
        await asyncio.wait_for(poll, 5)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    await server.restart()  # same port again
    assert (await call(http, server, "getMe"))[1]["result"]["username"] == "clone_bot"
