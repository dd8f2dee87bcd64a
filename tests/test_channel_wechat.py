"""bot/channels/wechat.py: the real python-wechaty client, run and supervised by the channel, against
tests/puppet_server.py; ``on_message`` is a recording coroutine that answers like a responder would."""
from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from grpclib.const import Status

from bot.channels.sending import SendRetry
from bot.channels.wechat import ENV_ENDPOINT, ENV_TOKEN, WechatChannel
from bot.chat import ChatWriter, Incoming, SendFailed
from bot.wechaty_compat import import_wechaty
from core.config import BotWechat, ConfigError
from log_events import log_seen
from puppet_server import PuppetServer

SELF, ALICE, BOB, ROOM = "wxid_clone", "wxid_alice", "wxid_bob", "r1@chatroom"
TOKEN = "test-token-5e3c9a"
FAST_RETRY = SendRetry(attempts=4, initial_s=0.01, max_s=0.05, budget_s=10)


@pytest.fixture(scope="module", autouse=True)
def wx(tmp_path_factory) -> None:
    import_wechaty(tmp_path_factory.mktemp("wechaty-cache"))


class Recorder:
    """on_message: records each Incoming and its ChatWriter and answers "re: <text>" (a second message for "两句")
    unless the owner wrote it in a friend's chat; "boom" makes it raise, "hang" never returns."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[Incoming] = asyncio.Queue()
        self.replies: list[ChatWriter] = []
        self.send_failures: list[SendFailed] = []
        self.finished: asyncio.Queue[str] = asyncio.Queue()  # texts whose on_message call returned normally

    async def __call__(self, incoming: Incoming, reply: ChatWriter) -> None:
        self.inbox.put_nowait(incoming)
        self.replies.append(reply)
        if incoming.text == "boom":
            raise RuntimeError("responder bug")
        if incoming.text == "hang":
            await asyncio.Event().wait()
        if incoming.by_owner and incoming.chat_id != SELF:
            return
        await reply.typing()
        try:
            await reply.send(f"re: {incoming.text}")
            if incoming.text == "两句":
                await reply.send(f"re: {incoming.text} (2)")
        except SendFailed as exc:
            self.send_failures.append(exc)
        self.finished.put_nowait(incoming.text)

    async def next(self) -> Incoming:
        return await asyncio.wait_for(self.inbox.get(), 5)

    async def done(self) -> str:
        """The text of the next message whose on_message call returned."""
        return await asyncio.wait_for(self.finished.get(), 5)


@pytest.fixture
def server(puppet) -> PuppetServer:
    return puppet


@contextlib.asynccontextmanager
async def channel_running(server: PuppetServer, **options) -> AsyncIterator[tuple[asyncio.Task[None], Recorder]]:
    channel = WechatChannel(server.endpoint, TOKEN, backoff_initial_s=0.05, backoff_max_s=0.2,
                            **{"send_retry": FAST_RETRY} | options)
    recorder = Recorder()
    task = asyncio.create_task(channel.run(recorder))
    try:
        yield task, recorder
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def running(server) -> AsyncIterator[Recorder]:
    async with channel_running(server) as (_, recorder):
        await server.login()
        yield recorder


async def test_private_message_and_reply(running, server):
    server.push_message(ALICE, "在吗？", sent_at=1_700_000_000)
    incoming = await running.next()
    assert incoming.time == 1_700_000_000  # WeChat's send time: a backlog after an outage is recognisable
    assert (incoming.channel, incoming.chat_id, incoming.chat_name, incoming.is_group, incoming.sender_id,
            incoming.sender_name, incoming.text, incoming.addressed, incoming.by_owner) == \
        ("wechat", ALICE, "Alice", False, ALICE, "Alice", "在吗？", True, False)
    [sent] = await server.wait_sent(1)
    assert (sent.conversation_id, sent.text, sent.mention_ids) == (ALICE, "re: 在吗？", ())


async def test_group_messages_with_and_without_mention(running, server):
    server.push_message(ALICE, "大家好", room_id=ROOM)
    plain = await running.next()
    assert (plain.chat_id, plain.chat_name, plain.is_group, plain.sender_id, plain.sender_name, plain.text,
            plain.addressed) == (ROOM, "周末爬山", True, ALICE, "Alice", "大家好", False)

    server.push_message(BOB, "@林小夏\u2005周六去吗", room_id=ROOM, mention_ids=[SELF])
    mentioned = await running.next()
    assert (mentioned.chat_id, mentioned.sender_id, mentioned.text, mentioned.addressed) == \
        (ROOM, BOB, "周六去吗", True)
    # the recorder answered both; the room reply @mentions the sender of the message it answers
    sent = sorted((s.conversation_id, s.text, s.mention_ids) for s in await server.wait_sent(2))
    assert sent == [(ROOM, "@Alice re: 大家好", (ALICE,)), (ROOM, "@Bob re: 周六去吗", (BOB,))]


async def test_only_the_first_message_of_a_group_reply_mentions(running, server):
    server.push_message(BOB, "@林小夏\u2005两句", room_id=ROOM, mention_ids=[SELF])
    await running.next()
    assert [(s.text, s.mention_ids) for s in await server.wait_sent(2)] == [("@Bob re: 两句", (BOB,)),
                                                                          ("re: 两句 (2)", ())]


async def test_owner_typing_in_a_friends_chat_is_by_owner(running, server):
    server.push_message(ALICE, "我晚点到", self_message=True)
    incoming = await running.next()
    assert (incoming.chat_id, incoming.chat_name, incoming.is_group, incoming.sender_id, incoming.sender_name,
            incoming.by_owner) == (ALICE, "Alice", False, SELF, "林小夏", True)

    server.push_message(ALICE, "我也在", room_id=ROOM, self_message=True)
    in_room = await running.next()
    assert (in_room.chat_id, in_room.is_group, in_room.sender_id, in_room.by_owner) == (ROOM, True, SELF, True)
    await asyncio.sleep(0.1)
    assert server.sent == []


@pytest.mark.parametrize("to", [SELF, "filehelper"])
async def test_owner_writing_to_themself_or_filehelper_is_the_command_chat(running, server, to):
    server.push_message(to, "/status", self_message=True)
    incoming = await running.next()
    assert (incoming.chat_id, incoming.chat_name, incoming.is_group, incoming.sender_id, incoming.text,
            incoming.addressed, incoming.by_owner) == (SELF, "林小夏", False, SELF, "/status", True, True)
    [sent] = await server.wait_sent(1)
    assert (sent.conversation_id, sent.text) == (to, "re: /status")  # the answer goes back where they wrote


@pytest.mark.parametrize("ack_delay", [0, 0.3], ids=["prompt-ack", "echo-before-ack"])
async def test_echo_of_the_clones_own_reply_is_not_the_owner(running, server, monkeypatch, ack_delay):
    from wechaty_puppet_service import PuppetService

    send_text = PuppetService.message_send_text

    async def slow_ack(self, *args, **kwargs):  # the echo is handled before say() knows the sent id
        message_id = await send_text(self, *args, **kwargs)
        await asyncio.sleep(ack_delay)
        return message_id

    monkeypatch.setattr(PuppetService, "message_send_text", slow_ack)
    server.echo_sent = True
    server.push_message(ALICE, "hi")
    assert (await running.next()).text == "hi"
    await server.wait_sent(1)
    server.push_message(ALICE, "真的是我", self_message=True)
    assert (await running.next()).text == "真的是我"
    await asyncio.sleep(0.2 + ack_delay)
    assert running.inbox.empty()  # the echoed "re: hi" never arrived


@pytest.mark.parametrize("abrupt", [False, True], ids=["graceful", "abrupt"])
async def test_reconnects_after_the_service_restarts(running, server, abrupt):
    server.push_message(ALICE, "第一条", room_id=ROOM)
    await running.next()
    assert await running.done() == "第一条"  # answered before the restart
    await server.restart(abrupt=abrupt)
    await server.login()  # waits until the channel listens again
    server.push_message(ALICE, "第二条")
    assert (await running.next()).text == "第二条"
    assert [s.text for s in await server.wait_sent(2)] == ["@Alice re: 第一条", "re: 第二条"]


async def test_reconnects_with_backoff_while_the_service_is_down(running, server):
    await server.stop(abrupt=True)
    await asyncio.sleep(0.5)  # a few failed attempts (0.05, 0.1, 0.2, 0.2 s apart)
    await server.start()
    await server.login()
    server.push_message(BOB, "回来了")
    assert (await running.next()).text == "回来了"
    assert (await server.wait_sent(1))[0].text == "re: 回来了"


async def test_a_service_that_stops_answering_is_reconnected(server):
    """No error, no events (a half-open connection, a stuck gateway): the Ding/Dong probe notices."""
    async with channel_running(server, ping_every_s=0.1, ping_timeout_s=0.2) as (_, recorder):
        await server.login()
        await asyncio.sleep(0.3)  # probes answered: still the first connection
        assert server.calls.count("Start") == 1
        server.dong = False
        for _ in range(50):
            if server.calls.count("Start") > 1:
                break
            await asyncio.sleep(0.05)
        assert server.calls.count("Start") > 1  # it gave up on the silent connection and connected again
        server.dong = True
        await server.login()
        server.push_message(ALICE, "还在吗")
        assert (await recorder.next()).text == "还在吗"


async def test_an_exception_in_on_message_does_not_stop_the_channel(running, server, caplog):
    server.push_message(ALICE, "boom")
    assert (await running.next()).text == "boom"
    server.push_message(ALICE, "还在吗")
    assert (await running.next()).text == "还在吗"
    assert [s.text for s in await server.wait_sent(1)] == ["re: 还在吗"]
    assert "responder bug" in caplog.text


async def test_a_reply_kept_across_a_reconnect(running, server):
    server.push_message(ALICE, "在吗")
    await running.next()
    await server.wait_sent(1)
    reply = running.replies[-1]

    await server.stop(abrupt=True)
    with pytest.raises(SendFailed, match=f"{ALICE} failed after {FAST_RETRY.attempts} attempt"):
        await reply.send("掉线了")  # the outage outlasts the retries

    await server.start()
    await server.login()
    await reply.send("回来了")  # sent through the new connection
    assert [s.text for s in await server.wait_sent(2)] == ["re: 在吗", "回来了"]


async def test_a_reply_sent_during_an_outage_is_delivered_after_it(server):
    patient = SendRetry(attempts=100, initial_s=0.01, max_s=0.05, budget_s=10)
    async with channel_running(server, send_retry=patient) as (_, recorder):
        await server.login()
        server.push_message(ALICE, "在吗")
        assert await recorder.done() == "在吗"
        with log_seen("bot.channels.sending", f"wechat: sending to {ALICE}") as retrying:
            await server.stop(abrupt=True)
            sending = asyncio.create_task(recorder.replies[0].send("刚掉线了"))
            await asyncio.wait_for(retrying.wait(), 5)  # an attempt failed for want of a service
            await server.start()
            await server.login()
            await asyncio.wait_for(sending, 5)
        assert [s.text for s in server.sent] == ["re: 在吗", "刚掉线了"]


async def test_a_failing_send_is_retried_and_delivered_once_with_its_mention(running, server):
    server.fail("MessageSendText", 2, Status.UNAVAILABLE)
    server.push_message(BOB, "@林小夏\u2005在吗", room_id=ROOM, mention_ids=[SELF])

    assert await running.done() == "在吗"

    assert running.send_failures == []
    assert [(s.text, s.mention_ids) for s in server.sent] == [("@Bob re: 在吗", (BOB,))]
    first, second, third = [t for rpc, t in server.call_times if rpc == "MessageSendText"]
    assert second - first >= FAST_RETRY.initial_s and third - second >= 2 * FAST_RETRY.initial_s


async def test_a_persistently_failing_send_raises_after_bounded_attempts(running, server):
    server.fail("MessageSendText", 100, Status.INTERNAL)
    server.push_message(ALICE, "在吗")

    assert await running.done() == "在吗"

    [failure] = running.send_failures
    assert f"{ALICE} failed after {FAST_RETRY.attempts} attempt(s)" in str(failure) and "INTERNAL" in str(failure)
    assert server.calls.count("MessageSendText") == FAST_RETRY.attempts and server.sent == []


async def test_a_refused_send_is_not_retried(running, server):
    server.fail("MessageSendText", 1, Status.NOT_FOUND)
    server.push_message(ALICE, "在吗")

    assert await running.done() == "在吗"

    assert len(running.send_failures) == 1 and server.calls.count("MessageSendText") == 1


@contextlib.contextmanager
def wechaty_log() -> Iterator[io.StringIO]:
    """What wechaty's own loggers (which do not propagate, so caplog misses them) print."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    loggers = [logger for logger in logging.root.manager.loggerDict.values()
               if isinstance(logger, logging.Logger) and not logger.propagate]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield out
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


async def test_cancel_stops_cleanly_and_the_token_is_never_logged(server, caplog):
    caplog.set_level(logging.DEBUG)
    with wechaty_log() as wechaty_out:
        async with channel_running(server) as (task, recorder):
            await server.login()
            server.push_message(ALICE, "在吗")
            await recorder.next()
            await server.wait_sent(1)
            server.push_message(ALICE, "hang")  # on_message still running when the channel is cancelled
            await recorder.next()
    assert task.cancelled()
    assert server.calls[-1] == "Stop"
    await asyncio.sleep(0.05)  # the server's side of the closed connection winds down
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()
                 and "grpclib.server" not in repr(t.get_coro())]
    assert leftovers == []
    assert "wechat: logged in as 林小夏" in caplog.text
    assert "there are endpoint<" in wechaty_out.getvalue()  # the puppet's warning that used to carry the token
    assert TOKEN not in caplog.text + wechaty_out.getvalue()


async def test_cancel_while_the_service_is_down(server):
    await server.stop()
    async with channel_running(server) as (task, _):
        await asyncio.sleep(0.3)
    assert task.cancelled()


def test_settings_and_env(monkeypatch):
    monkeypatch.delenv(ENV_ENDPOINT, raising=False)
    monkeypatch.delenv(ENV_TOKEN, raising=False)
    channel = WechatChannel.from_settings(BotWechat(endpoint="127.0.0.1:9001", token="t"))
    assert (channel.name, channel.endpoint) == ("wechat", "127.0.0.1:9001")

    with pytest.raises(ConfigError) as err:
        WechatChannel.from_settings(BotWechat())
    for name in ("bot.wechat.endpoint", "bot.wechat.token", ENV_ENDPOINT, ENV_TOKEN):
        assert name in str(err.value)
    with pytest.raises(ConfigError, match=f"token.*{ENV_TOKEN}") as err:
        WechatChannel.from_settings(BotWechat(endpoint="127.0.0.1:9001"))
    assert "bot.wechat.endpoint" not in str(err.value)
    with pytest.raises(ConfigError, match=f"endpoint.*{ENV_ENDPOINT}"):
        WechatChannel.from_settings(BotWechat(token="t"))  # never discovered online from the token
    with pytest.raises(ConfigError, match="host:port"):
        WechatChannel.from_settings(BotWechat(endpoint="http://127.0.0.1:9001", token="t"))

    monkeypatch.setenv(ENV_ENDPOINT, "10.0.0.2:8788")
    monkeypatch.setenv(ENV_TOKEN, "from-env")
    assert WechatChannel.from_settings(BotWechat()).endpoint == "10.0.0.2:8788"
    assert WechatChannel.from_settings(BotWechat(endpoint="127.0.0.1:1")).endpoint == "127.0.0.1:1"


async def test_a_writer_by_chat_id_waits_for_the_connection_and_mentions_nobody(server):
    """What the responder uses after a restart to answer a chat left waiting: no incoming message to answer."""
    channel = WechatChannel(server.endpoint, TOKEN, backoff_initial_s=0.05, backoff_max_s=0.2,
                            send_retry=SendRetry(attempts=20, initial_s=0.05, max_s=0.1, budget_s=10))
    sending = asyncio.create_task(channel.writer(ROOM, True).send("刚才说到哪了"))
    task = asyncio.create_task(channel.run(Recorder()))
    try:
        await server.login()
        await asyncio.wait_for(sending, 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [(s.conversation_id, s.text, s.mention_ids) for s in server.sent] == [(ROOM, "刚才说到哪了", ())]
