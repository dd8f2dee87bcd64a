"""`python -m bot` killed with SIGKILL while friends write, while the model generates and between the messages of
a reply, then restarted: the history holds exactly what each friend received, every friend's message once, and a
chat left unanswered by the killed process is answered by the next one."""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import pytest
from aiohttp import web

from bot.history import History
from botapi_server import BotApiServer
from core.config import load
from core.conversation import Rules
from scripted import daemon_config

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:TEST-token"
FRIENDS = {111: "Ann", 222: "Bob", 333: "Cai"}
REPLY = "好的\n马上来\n等我"  # three messages per reply


class Model:
    """An OpenAI-compatible server whose answers wait while ``hold`` is set; ``asked`` counts requests."""

    def __init__(self):
        self.hold, self.asked, self.url = asyncio.Event(), 0, ""
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def completions(request: web.Request) -> web.Response:
            await request.json()
            self.asked += 1
            self._changed.set()
            while self.hold.is_set():
                await asyncio.sleep(0.01)
            return web.json_response({"id": "x", "object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}]})

        app = web.Application()
        app.router.add_post("/v1/chat/completions", completions)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1"

    async def wait_asked(self, n: int) -> None:
        while self.asked < n:
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), 30)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class Bot:
    """One `python -m bot` process; ``lines`` is its log so far, ``wait_log`` waits for a line."""

    def __init__(self, config: Path):
        self.config, self.lines = config, []
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self._new = asyncio.Event()

    async def start(self) -> None:
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)}
        self.lines = []
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "--config", str(self.config), "-v", cwd=self.config.parent, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        self._reader = asyncio.create_task(self._read())
        await self.wait_log("polling as")

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for raw in self._proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())
            self._new.set()

    async def wait_log(self, text: str, count: int = 1) -> None:
        async def seen() -> None:
            while sum(text in line for line in self.lines) < count:
                self._new.clear()
                await self._new.wait()

        try:
            await asyncio.wait_for(seen(), 60)
        except TimeoutError:
            raise AssertionError(f"no {text!r} x{count} in the bot's log:\n" + "\n".join(self.lines[-40:])) from None

    async def kill(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGKILL)
        await self._proc.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def stop(self) -> int:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self._proc.wait(), 30)
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        return code


@pytest.mark.slow
async def test_kills_never_make_the_history_disagree_with_what_friends_received(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    tg, model = BotApiServer(TOKEN), Model()
    await tg.start()
    await model.start()
    config = daemon_config(tmp_path, tg.base_url, model.url, allow=["telegram:*"], debounce_s=0.2,
                           message_pause_s=1.0, rate_limit=100)
    bot = Bot(config)
    pushed: dict[int, list[str]] = {chat: [] for chat in FRIENDS}

    def write(chat: int, text: str) -> None:
        pushed[chat].append(text)
        tg.push_text(chat, text, user_id=chat, first_name=FRIENDS[chat])

    try:
        # 1. killed while friends write and the model generates: nothing was sent yet
        await bot.start()
        model.hold.set()
        for i in range(3):
            for chat in FRIENDS:
                write(chat, f"在吗 {chat} {i}")
        await model.wait_asked(len(FRIENDS))  # every chat's messages were stored and its answer is being generated
        await bot.kill()
        assert tg.sent == []

        # 2. the next process answers the three waiting chats; killed between a reply's messages
        model.hold.clear()
        await bot.start()
        await bot.wait_log("left unanswered before the restart")
        await bot.wait_log("message 1 of 3 delivered and stored", len(FRIENDS))
        await bot.kill()  # during the pause before each reply's second message
        assert len(tg.sent) == len(FRIENDS)

        # 3. a clean run: the cut reply is not repeated (the friend got part of an answer); new messages answered
        await bot.start()
        for chat in FRIENDS:
            write(chat, f"还在吗 {chat}")
        await bot.wait_log("message 3 of 3 delivered and stored", len(FRIENDS))
        assert await bot.stop() == 0
        assert len(tg.sent) == 4 * len(FRIENDS)
    finally:
        with contextlib.suppress(Exception):
            await bot.kill()
        await tg.stop()
        await model.stop()

    history = History(tmp_path / "bot", Rules.from_config(load()))
    try:
        for chat in FRIENDS:
            rows = history.rows(f"telegram:{chat}")
            assert [text for _, role, _, text, _ in rows if role == "user"] == pushed[chat]  # each once
            received = [m.text for m in tg.sent if m.chat_id == chat]
            assert [text for _, role, _, text, _ in rows if role == "assistant"] == received
            assert not history.wants_answer(f"telegram:{chat}")
    finally:
        history.close()
