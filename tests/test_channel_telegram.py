"""TelegramChannel end to end: the real python-telegram-bot client against the fake Bot API in botapi_server."""
from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from bot.channels.sending import SendRetry
from bot.channels.telegram import TelegramChannel, split_text
from bot.chat import ChatWriter, Incoming, SendFailed
from botapi_server import BotApiServer, ChatAction
from conftest import TELEGRAM_TOKEN as TOKEN
from core.config import BotTelegram, ConfigError
from log_events import log_seen

SECRET = TOKEN.split(":")[1]
BOT_ID = 123456
ALICE = 111
GROUP = -1001234567890


FAST_RETRY = SendRetry(attempts=4, initial_s=0.01, max_s=0.05, budget_s=10)


class Recorder:
    """on_message for the tests: records each Incoming, shows typing and echoes it; "boom" raises."""

    def __init__(self) -> None:
        self.got: asyncio.Queue[Incoming] = asyncio.Queue()
        self.finished: asyncio.Queue[str] = asyncio.Queue()  # texts whose on_message call returned normally
        self.send_failures: list[SendFailed] = []
        self.replies: list[ChatWriter] = []

    async def __call__(self, incoming: Incoming, reply: ChatWriter) -> None:
        self.got.put_nowait(incoming)
        self.replies.append(reply)
        if incoming.text == "boom":
            raise RuntimeError("boom")
        await reply.typing()
        try:
            await reply.send(f"echo: {incoming.text}")
        except SendFailed as exc:
            self.send_failures.append(exc)
        self.finished.put_nowait(incoming.text)

    async def done(self, timeout: float = 5.0) -> str:
        """The text of the next message whose on_message call returned."""
        return await asyncio.wait_for(self.finished.get(), timeout)

    async def next(self, timeout: float = 5.0) -> Incoming:
        return await asyncio.wait_for(self.got.get(), timeout)


@pytest.fixture
def server(bot_api):
    return bot_api


def make_channel(server: BotApiServer, token: str = TOKEN, send_retry: SendRetry = FAST_RETRY) -> TelegramChannel:
    return TelegramChannel(BotTelegram(base_url=server.base_url, poll_timeout_s=1), token,
                           retry_initial_s=0.05, retry_max_s=0.2, send_retry=send_retry)


async def stop(task: asyncio.Task) -> float:
    """Cancel the channel; how long it took to stop."""
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    return time.monotonic() - started


@pytest.fixture
async def rec(server):
    """A running channel whose on_message is a Recorder."""
    recorder = Recorder()
    task = asyncio.create_task(make_channel(server).run(recorder))
    await server.wait_polling()
    yield recorder
    await stop(task)


def push_group(server: BotApiServer, text: str, **kwargs) -> dict:
    return server.push_text(GROUP, text, user_id=ALICE, first_name="Alice", chat_type="supergroup",
                            chat_title="Family", **kwargs)


async def test_private_message_delivered_and_answered(server, rec):
    server.push_text(ALICE, "hi 你好", user_id=ALICE, first_name="Alice")

    got = await rec.next()
    sent = await server.wait_sent(1)

    assert (got.channel, got.chat_id, got.chat_name, got.is_group, got.sender_id, got.sender_name, got.text,
            got.addressed, got.by_owner) == ("telegram", str(ALICE), "Alice", False, str(ALICE), "Alice", "hi 你好",
                                             True, False)
    assert [(s.chat_id, s.text, s.reply_to) for s in sent] == [(ALICE, "echo: hi 你好", None)]  # no quote in private
    assert server.actions == [ChatAction(ALICE, "typing")]
    assert time.time() - 2 < got.time <= time.time()  # the message's date
    assert server.calls[:3] == ["getMe", "deleteWebhook", "getUpdates"]


async def test_group_addressing_and_mention_stripping(server, rec):
    cases = [  # text, expected Incoming.text, addressed
        ("hello all", "hello all", False),
        ("@other_user look", "@other_user look", False),
        ("@clone_bot 在吗?", "在吗?", True),
        ("😀 how are you @Clone_Bot", "😀 how are you", True),
        ("hey @clone_bot what's up", "hey @clone_bot what's up", True),
        ("@clone_bot, ok", "ok", True),
        ("@clone_bot", "@clone_bot", True),
    ]
    got = []
    for text, _, _ in cases:
        push_group(server, text)
        got.append(await rec.next())

    assert [(g.text, g.addressed) for g in got] == [(text, addressed) for _, text, addressed in cases]
    assert {(g.chat_id, g.chat_name, g.is_group, g.sender_name) for g in got} == {(str(GROUP), "Family", True, "Alice")}


async def test_group_reply_quotes_the_message_once(server, rec):
    pushed = push_group(server, "@clone_bot " + "word " * 1000)  # the echo needs two messages

    sent = await server.wait_sent(2)

    assert all(len(s.text) <= 4096 for s in sent)
    assert " ".join(s.text for s in sent).split() == ["echo:"] + ["word"] * 1000
    assert [s.reply_to for s in sent] == [pushed["message_id"], None]
    assert json.loads(sent[0].params["reply_parameters"])["allow_sending_without_reply"] is True


async def test_text_mention_and_reply_to_bot_are_addressed(server, rec):
    push_group(server, "Clone hi", entities=[{"type": "text_mention", "offset": 0, "length": 5,
                                              "user": server.bot_user}])
    assert (await rec.next()).addressed
    bot_msg = (await server.wait_sent(1))[0]

    push_group(server, "and again", reply_to_bot_message_id=bot_msg.message_id)

    got = await rec.next()
    assert (got.text, got.addressed) == ("and again", True)


async def test_commands_are_delivered(server, rec):
    server.push_text(ALICE, "/status", user_id=ALICE, first_name="Alice")
    push_group(server, "/pause@clone_bot now")
    push_group(server, "/pause")

    got = [await rec.next() for _ in range(3)]

    assert [(g.text, g.addressed) for g in got] == [("/status", True), ("/pause now", True), ("/pause", False)]


async def test_bots_edits_and_non_text_are_ignored(server, rec):
    server.push_text(ALICE + 1, "beep", user_id=ALICE + 1, first_name="Robot", is_bot=True)
    server.push_text(GROUP, "@clone_bot hi bot", user_id=ALICE + 2, first_name="Bot2", chat_type="supergroup",
                     is_bot=True)
    pushed = push_group(server, "typo")
    server.push_update(edited_message={**pushed, "text": "fixed", "edit_date": pushed["date"]})
    server.push_update(message={k: v for k, v in pushed.items() if k not in ("text", "entities")} |
                       {"message_id": 999, "location": {"latitude": 1.0, "longitude": 2.0}})
    server.push_text(ALICE, "last", user_id=ALICE, first_name="Alice")

    got = [await rec.next() for _ in range(2)]
    await server.wait_sent(2)

    assert [g.text for g in got] == ["typo", "last"]
    assert rec.got.empty()


async def test_on_message_error_and_send_errors_do_not_stop_the_channel(server, rec, caplog):
    server.push_text(ALICE, "boom", user_id=ALICE, first_name="Alice")
    await rec.next()
    server.blocked.add(ALICE)
    server.push_text(ALICE, "blocked", user_id=ALICE, first_name="Alice")
    # typing failed quietly; sending raised SendFailed at once (a block does not pass by retrying)
    assert await rec.done() == "blocked"
    [failure] = rec.send_failures
    assert "Forbidden" in str(failure) and str(ALICE) in str(failure)
    assert server.calls.count("sendMessage") == 1
    server.blocked.clear()
    server.push_text(ALICE, "still here", user_id=ALICE, first_name="Alice")

    await rec.next()
    sent = await server.wait_sent(1)

    assert [s.text for s in sent] == ["echo: still here"]
    failed = [r for r in caplog.records if r.exc_info and "on_message failed" in r.getMessage()]
    assert len(failed) == 1 and str(ALICE) in failed[0].getMessage()
    assert any("Forbidden" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


async def test_flood_limit_waits_retry_after_then_delivers_once(server, rec):
    server.fail("sendMessage", 1, 429, retry_after=1)
    pushed = push_group(server, "@clone_bot hi")

    assert await rec.done() == "hi"

    assert rec.send_failures == []
    assert [(s.text, s.reply_to) for s in server.sent] == [("echo: hi", pushed["message_id"])]  # once, still quoting
    refused, accepted = server.times_of("sendMessage")
    assert accepted - refused >= 1 - 0.01  # Telegram's retry_after, not the 0.01 s backoff


async def test_server_errors_are_retried_with_growing_backoff(server, rec):
    server.fail("sendMessage", 2, 500)
    server.push_text(ALICE, "hi", user_id=ALICE, first_name="Alice")

    assert await rec.done() == "hi"

    assert rec.send_failures == [] and [s.text for s in server.sent] == ["echo: hi"]
    first, second, third = server.times_of("sendMessage")
    assert second - first >= FAST_RETRY.initial_s and third - second >= 2 * FAST_RETRY.initial_s


async def test_persistent_server_error_fails_after_bounded_attempts(server, rec):
    server.fail("sendMessage", 100, 500)
    server.push_text(ALICE, "hi", user_id=ALICE, first_name="Alice")

    assert await rec.done() == "hi"

    [failure] = rec.send_failures
    assert f"after {FAST_RETRY.attempts} attempt(s)" in str(failure) and "Internal Server Error" in str(failure)
    assert server.calls.count("sendMessage") == FAST_RETRY.attempts and server.sent == []


async def test_a_flood_wait_beyond_the_time_budget_fails_at_once(server):
    recorder = Recorder()
    task = asyncio.create_task(make_channel(server, send_retry=SendRetry(budget_s=5)).run(recorder))
    await server.wait_polling()
    server.fail("sendMessage", 1, 429, retry_after=30)
    server.push_text(ALICE, "hi", user_id=ALICE, first_name="Alice")

    assert await recorder.done() == "hi"  # well before the 30 s

    [failure] = recorder.send_failures
    assert "Flood control exceeded" in str(failure) and server.calls.count("sendMessage") == 1
    await stop(task)


@pytest.mark.parametrize("code", [400, 403])
async def test_refused_requests_are_not_retried(server, rec, code):
    server.fail("sendMessage", 1, code)
    server.push_text(ALICE, "hi", user_id=ALICE, first_name="Alice")

    assert await rec.done() == "hi"

    assert len(rec.send_failures) == 1 and server.calls.count("sendMessage") == 1


async def test_a_reply_sent_during_an_outage_is_delivered_after_it(server):
    recorder = Recorder()
    patient = SendRetry(attempts=100, initial_s=0.01, max_s=0.05, budget_s=10)
    task = asyncio.create_task(make_channel(server, send_retry=patient).run(recorder))
    await server.wait_polling()
    server.push_text(ALICE, "hi", user_id=ALICE, first_name="Alice")
    await recorder.done()
    with log_seen("bot.channels.sending", "telegram: sending to chat") as retrying:
        await server.stop()
        sending = asyncio.create_task(recorder.replies[0].send("still there?"))
        await asyncio.wait_for(retrying.wait(), 5)  # a send failed for want of a server
        await server.start()
        await asyncio.wait_for(sending, 5)
    assert [s.text for s in server.sent] == ["echo: hi", "still there?"]
    await stop(task)


async def test_polling_recovers_after_server_restart(server, rec, caplog):
    server.push_text(ALICE, "before", user_id=ALICE, first_name="Alice")
    await server.wait_sent(1)
    await server.wait_polling()

    await server.restart()
    server.push_text(ALICE, "after", user_id=ALICE, first_name="Alice")

    sent = await server.wait_sent(2, timeout=5)
    assert [s.text for s in sent] == ["echo: before", "echo: after"]
    assert any("polling failed" in r.getMessage() for r in caplog.records)


async def test_startup_waits_for_the_server(server, caplog):
    await server.stop()
    recorder = Recorder()
    task = asyncio.create_task(make_channel(server).run(recorder))
    await asyncio.sleep(0.4)
    assert not task.done() and server.calls == []
    assert sum("Bot API unreachable" in r.getMessage() for r in caplog.records) >= 2

    await server.start()
    server.push_text(ALICE, "hi", user_id=ALICE, first_name="Alice")

    assert (await server.wait_sent(1, timeout=5))[0].text == "echo: hi"
    await stop(task)


async def test_invalid_token_stops_the_channel(server):
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN") as raised:
        await asyncio.wait_for(make_channel(server, token="123456:wrong-token").run(Recorder()), 5)
    assert "wrong-token" not in str(raised.value) and raised.value.__suppress_context__


def test_from_env(monkeypatch):
    settings = BotTelegram()
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN"):
        TelegramChannel.from_env(settings)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", f" {TOKEN}\n")
    channel = TelegramChannel.from_env(settings)
    assert (channel.name, channel.settings) == ("telegram", settings)


async def test_a_token_revoked_while_polling_stops_the_channel(server):
    recorder = Recorder()
    task = asyncio.create_task(make_channel(server).run(recorder))
    await server.wait_polling()
    server.token = "123456:new-token"  # revoked in @BotFather: the old token now gets 401 Unauthorized
    await server.restart()  # cut the parked long poll so the next one is refused
    with pytest.raises(ConfigError, match="revoked"):
        await asyncio.wait_for(task, 10)


async def test_token_never_logged(server, caplog):
    caplog.set_level(logging.DEBUG)
    recorder = Recorder()
    task = asyncio.create_task(make_channel(server).run(recorder))
    await server.wait_polling()
    server.push_text(ALICE, "hi", user_id=ALICE, first_name="Alice")
    await server.wait_sent(1)
    await stop(task)
    try:
        raise RuntimeError(f"GET {server.base_url}{TOKEN}/getMe failed")
    except RuntimeError:
        logging.getLogger("somewhere").exception("request to %s failed", f"{server.base_url}{TOKEN}")

    messages = [r.getMessage() for r in caplog.records]
    assert any(f"{BOT_ID}:[REDACTED]/getMe" in m for m in messages)  # httpx's request line, redacted
    assert not any(SECRET in m for m in messages)
    assert SECRET not in caplog.text and "[REDACTED]/getMe failed" in caplog.text  # the traceback too


async def test_cancel_stops_cleanly_and_fast(server):
    recorder = Recorder()
    task = asyncio.create_task(make_channel(server).run(recorder))
    await server.wait_polling()

    assert await stop(task) < 1
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_slow_on_message_blocks_neither_other_chats_nor_stopping(server):
    other_chat_seen = asyncio.Event()
    hanging = asyncio.Event()
    texts = []

    async def on_message(incoming: Incoming, reply: ChatWriter) -> None:
        texts.append(incoming.text)
        if incoming.text == "slow":
            hanging.set()
            await other_chat_seen.wait()  # only another chat's message, delivered meanwhile, releases it
            await asyncio.Event().wait()  # then a reply that never ends
        other_chat_seen.set()

    task = asyncio.create_task(make_channel(server).run(on_message))
    await server.wait_polling()
    server.push_text(ALICE, "slow", user_id=ALICE, first_name="Alice")
    await asyncio.wait_for(hanging.wait(), 5)
    push_group(server, "meanwhile")
    await asyncio.wait_for(other_chat_seen.wait(), 5)

    assert texts == ["slow", "meanwhile"]
    assert await stop(task) < 1
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_cancel_while_waiting_for_the_server(server):
    await server.stop()
    task = asyncio.create_task(make_channel(server).run(Recorder()))
    await asyncio.sleep(0.1)

    assert await stop(task) < 1
    assert asyncio.all_tasks() == {asyncio.current_task()}


def test_split_text():
    assert split_text("  hi  ") == ["hi"]
    assert split_text("") == []
    assert split_text("ab cd ef", limit=5) == ["ab cd", "ef"]
    assert split_text("abcdefgh", limit=3) == ["abc", "def", "gh"]
    assert split_text("😀😀😀", limit=4) == ["😀😀", "😀"]  # UTF-16: two units each
    assert split_text("一二\n三四五", limit=4) == ["一二", "三四五"]


async def test_a_writer_by_chat_id_waits_for_the_connection_and_quotes_nothing(server):
    """What the responder uses after a restart to answer a chat left waiting: no incoming message to answer."""
    server.push_text(-100, "在吗", user_id=111, first_name="Ann", chat_type="group")  # a chat the server knows

    async def nothing(incoming: Incoming, writer: ChatWriter) -> None:
        pass

    channel = make_channel(server, send_retry=SendRetry(attempts=20, initial_s=0.05, max_s=0.1, budget_s=10))
    sending = asyncio.create_task(channel.writer("-100", True).send("刚才说到哪了"))
    task = asyncio.create_task(channel.run(nothing))
    try:
        await asyncio.wait_for(sending, 10)
    finally:
        await stop(task)
    assert [(s.chat_id, s.text, s.reply_to) for s in server.sent] == [(-100, "刚才说到哪了", None)]
