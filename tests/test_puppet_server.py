"""The real python-wechaty client (through bot.wechaty_compat) against tests/puppet_server.py.

Besides checking the test server, these pin down what a WeChat channel can rely on: which ids and texts reach
``on_message``, where ``msg.say()`` sends, and what the client does when the service goes away.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from bot.wechaty_compat import WechatyApi, import_wechaty, wechaty_options
from puppet_server import PuppetServer, Sent

SELF, ALICE, BOB, ROOM = "wxid_clone", "wxid_alice", "wxid_bob", "r1@chatroom"


@pytest.fixture(scope="module")
def wx(tmp_path_factory) -> WechatyApi:
    return import_wechaty(tmp_path_factory.mktemp("wechaty-cache"))


@functools.cache
def _bot_class(wx: WechatyApi) -> type:
    class RecordingBot(wx.Wechaty):
        """Keeps what a channel would see; the test body plays the channel's part."""

        def __init__(self, options: Any):
            super().__init__(options)
            self.start_task: asyncio.Task[None] | None = None
            self.logins: list[str] = []
            self.logged_in = asyncio.Event()
            self.inbox: asyncio.Queue[Any] = asyncio.Queue()
            self.heartbeats: asyncio.Queue[str] = asyncio.Queue()
            self.scans: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        async def on_login(self, contact: Any) -> None:
            self.logins.append(contact.contact_id)
            self.logged_in.set()

        async def on_message(self, msg: Any) -> None:
            self.inbox.put_nowait(msg)

        async def on_heartbeat(self, payload: Any) -> None:
            self.heartbeats.put_nowait(payload.data)

        async def on_scan(self, qr_code: str, status: Any, data: str | None = None) -> None:
            self.scans.put_nowait((qr_code, status))

    return RecordingBot


@contextlib.asynccontextmanager
async def running(wx: WechatyApi, server: PuppetServer) -> AsyncIterator[Any]:
    """A bot whose start() runs as a task; on exit it is shut down the way a supervisor should."""
    bot = _bot_class(wx)(wechaty_options(server.endpoint, "test-token"))
    bot.start_task = asyncio.create_task(bot.start())
    try:
        yield bot
    finally:
        bot.start_task.cancel()
        await asyncio.gather(bot.start_task, return_exceptions=True)
        await bot.stop()


async def logged_in(bot: Any) -> None:
    await asyncio.wait_for(bot.logged_in.wait(), 5)


async def next_message(bot: Any) -> Any:
    return await asyncio.wait_for(bot.inbox.get(), 5)


@pytest.fixture
def server(puppet) -> PuppetServer:
    return puppet


@pytest.fixture
async def bot(wx, server) -> AsyncIterator[Any]:
    async with running(wx, server) as bot:
        await server.login()
        await logged_in(bot)
        yield bot


def test_every_stub_rpc_is_served_and_unmodelled_ones_fail_clearly():
    from grpclib.const import Status
    from grpclib.exceptions import GRPCError

    server = PuppetServer()
    mapping = server.__mapping__()
    assert len(mapping) == 55 and "/wechaty.Puppet/Event" in mapping

    class FakeStream:
        async def recv_message(self) -> None:
            return None

    with pytest.raises(GRPCError) as err:
        asyncio.run(mapping["/wechaty.Puppet/RoomCreate"].func(FakeStream()))
    assert err.value.status is Status.UNIMPLEMENTED and "RoomCreate" in err.value.message


async def test_login_reaches_the_bot_with_the_accounts_id(bot, server):
    assert bot.logins == [SELF]
    assert bot.user_self().contact_id == SELF and bot.user_self().name == "林小夏"
    assert server.calls[:3] == ["Stop", "Start", "Event"]  # the client resets the service before listening
    assert "ContactPayload" in server.calls


async def test_scan_event_before_login(wx, server):
    async with running(wx, server) as bot:
        await server.scan("https://login.weixin.qq.com/l/test", status=wx.ScanStatus.Scanned.value)
        assert await asyncio.wait_for(bot.scans.get(), 5) == ("https://login.weixin.qq.com/l/test",
                                                              wx.ScanStatus.Scanned)
        assert bot.logins == []


async def test_private_message_and_reply(bot, server):
    message_id = server.push_message(ALICE, "在吗？")
    msg = await next_message(bot)
    assert (msg.message_id, msg.text(), msg.talker().contact_id, msg.talker().name) == (message_id, "在吗？", ALICE,
                                                                                       "Alice")
    assert msg.room() is None and not msg.is_self() and msg.to().contact_id == SELF

    reply = await msg.say("在的")
    assert await server.wait_sent(1) == [Sent(ALICE, "在的", (), reply.message_id)]
    assert reply.is_self() and reply.text() == "在的"  # say() reads the sent message back (MessagePayload)


async def test_group_message_mentions_and_topic(bot, server):
    server.push_message(ALICE, "大家好", room_id=ROOM)
    server.push_message(BOB, "@林小夏\u2005周六去吗", room_id=ROOM, mention_ids=[SELF])
    received = {m.talker().contact_id: m for m in [await next_message(bot), await next_message(bot)]}
    plain, mentioned = received[ALICE], received[BOB]  # handlers run concurrently: arrival order varies

    assert not await plain.mention_self()
    assert await mentioned.mention_self()
    assert await mentioned.mention_text() == "周六去吗"
    room = mentioned.room()
    assert room.room_id == ROOM and await room.topic() == "周末爬山"

    await mentioned.say("去！", mention_ids=[BOB])
    [sent] = await server.wait_sent(1)
    assert (sent.conversation_id, sent.text, sent.mention_ids) == (ROOM, "去！", (BOB,))


async def test_message_the_owner_typed_on_the_phone(bot, server):
    server.push_message(ALICE, "我晚点到", self_message=True)
    msg = await next_message(bot)
    assert msg.is_self() and msg.talker().contact_id == SELF and msg.to().contact_id == ALICE

    await msg.say("echo")  # trap: say() answers the talker, i.e. the account itself, not the chat partner
    assert [s.conversation_id for s in await server.wait_sent(1)] == [SELF]


async def test_echoed_reply_is_indistinguishable_from_the_owner_typing(bot, server):
    server.echo_sent = True
    server.push_message(ALICE, "hi")
    reply = await (await next_message(bot)).say("hello")
    echo = await next_message(bot)
    assert (echo.message_id, echo.is_self(), echo.text()) == (reply.message_id, True, "hello")


async def test_heartbeats_reach_on_heartbeat(bot, server):
    server.push_heartbeat("tick")  # needs the compat patch: the bridge listens for 'heart-beat'
    assert await asyncio.wait_for(bot.heartbeats.get(), 5) == "tick"


async def test_graceful_restart_ends_start_and_a_new_instance_takes_over(wx, server):
    async with running(wx, server) as old:
        await server.login()
        await logged_in(old)
        server.push_message(ALICE, "第一条", room_id=ROOM)
        await next_message(old)  # the room is now cached, bound to the old instance

        await server.restart()
        # The Event stream ended with OK: start() just returns and nothing reconnects.
        assert await asyncio.wait_for(old.start_task, 5) is None
        with pytest.raises(RuntimeError, match="no Wechaty client is listening"):
            server.push_message(ALICE, "有人吗")
    # The supervisor's move: stop the old instance (above), then start a new one on the same endpoint.
    async with running(wx, server) as new:
        await logged_in(new)  # the service re-announces the login to a new Event stream
        server.push_message(ALICE, "第二条", room_id=ROOM)
        msg = await next_message(new)
        assert msg.text() == "第二条" and await msg.room().topic() == "周末爬山"
        await msg.say("收到")
        assert [(s.conversation_id, s.text) for s in await server.wait_sent(1)] == [(ROOM, "收到")]
    assert new.logins == [SELF]


def _intercept_retry_sleep(wx: WechatyApi, monkeypatch, sleep: Any) -> None:
    """wechaty.wechaty waits ``asyncio.sleep(60)`` before retrying; swap in ``sleep`` for that module only."""
    module = sys.modules[wx.Wechaty.__module__]
    monkeypatch.setattr(module, "asyncio", SimpleNamespace(sleep=sleep, get_event_loop=asyncio.get_event_loop))


async def test_connection_lost_wechaty_retries_after_60_s_on_the_same_instance(wx, server, bot, monkeypatch):
    waits: list[float] = []
    service_back = asyncio.Event()

    async def retry_sleep(seconds: float) -> None:
        waits.append(seconds)
        await service_back.wait()

    _intercept_retry_sleep(wx, monkeypatch, retry_sleep)
    bot.logged_in.clear()
    await server.restart(abrupt=True)
    service_back.set()
    await logged_in(bot)  # on_login fires again after the retry (needs the scheduler patch)

    assert waits == [60] and not bot.start_task.done()
    assert bot.logins == [SELF, SELF]
    server.push_message(ALICE, "又来了")
    msg = await next_message(bot)
    assert msg.text() == "又来了"
    await msg.say("好")
    assert [s.text for s in await server.wait_sent(1)] == ["好"]


async def test_connection_lost_and_service_still_down_at_the_retry_start_raises(wx, server, bot, monkeypatch):
    async def retry_sleep(seconds: float) -> None:
        pass

    _intercept_retry_sleep(wx, monkeypatch, retry_sleep)
    await server.stop(abrupt=True)
    with pytest.raises(ConnectionRefusedError):  # restart() -> stop() -> Stop RPC, outside start()'s try
        await asyncio.wait_for(bot.start_task, 5)
    await server.start()  # so that the fixture's bot.stop() can reach it
