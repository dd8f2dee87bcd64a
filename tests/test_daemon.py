"""The daemon: every enabled channel in one asyncio process, and `python -m bot` as a real process (SIGTERM)."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.daemon import enabled_channels, serve
from bot.history import History
from botapi_server import BotApiServer
from core.config import ConfigError, load
from core.conversation import Rules
from puppet_server import PuppetServer
from scripted import ScriptedEngine, daemon_config, openai_server

RULES = Rules.from_config(load())  # the default config's conversation rules

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:daemon-test-secret"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def test_no_enabled_channel_is_a_clear_error():
    cfg = load(overrides={"bot.telegram.enabled": False})
    with pytest.raises(ConfigError, match="no channel enabled"):
        enabled_channels(cfg)


def test_telegram_without_a_token_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN"):
        enabled_channels(load())


async def test_one_process_answers_in_telegram_and_wechat(tmp_path, monkeypatch):
    tg = BotApiServer(TOKEN)
    await tg.start()
    wx = PuppetServer(self_id="wxid_clone", self_name="林小夏")
    wx.add_contact("wxid_alice", "Alice")
    await wx.start()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    cfg = load(overrides={
        "bot.telegram.enabled": True, "bot.telegram.base_url": tg.base_url, "bot.telegram.poll_timeout_s": 1,
        "bot.wechat.enabled": True, "bot.wechat.endpoint": wx.endpoint, "bot.wechat.token": "puppet-secret",
        "bot.allow": ["telegram:111", "wechat:wxid_alice"], "bot.debounce_s": 0.05, "bot.message_pause_s": 0.0,
        "bot.data_dir": str(tmp_path / "bot")})
    engine = ScriptedEngine(lambda m: "在的~\n怎么啦")
    daemon = asyncio.create_task(serve(cfg, enabled_channels(cfg), engine=engine))
    try:
        await wx.login(timeout=10)
        tg.push_text(111, "在吗", user_id=111, first_name="Bob")
        tg.push_text(222, "你好", user_id=222, first_name="Stranger")
        await asyncio.sleep(0.5)  # the WeChat client is logged in before the message arrives
        wx.push_message("wxid_alice", "在吗")
        assert [(m.chat_id, m.text) for m in await tg.wait_sent(2, timeout=10)] == [(111, "在的~"), (111, "怎么啦")]
        assert [(s.conversation_id, s.text) for s in await wx.wait_sent(2, timeout=10)] == [
            ("wxid_alice", "在的~"), ("wxid_alice", "怎么啦")]

        # a Telegram burst is one user turn and gets one answer
        for text in ("问你个事", "周末", "有空吗"):
            tg.push_text(111, text, user_id=111, first_name="Bob")
        await tg.wait_sent(4, timeout=10)
        assert engine.prompts[-1][-1] == {"role": "user", "content": "问你个事\n周末\n有空吗"}

        # the owner answers Alice from the phone: that is the owner's turn, and the clone keeps quiet after it
        wx.push_message("wxid_alice", "我自己来回", self_message=True)
        await asyncio.sleep(0.3)
        wx.push_message("wxid_alice", "好呀")
        await asyncio.sleep(0.5)
        assert len(wx.sent) == 2
    finally:
        daemon.cancel()
        responder = await asyncio.gather(daemon, return_exceptions=True)
        await tg.stop()
        await wx.stop()
    assert not isinstance(responder[0], BaseException) or isinstance(responder[0], asyncio.CancelledError)
    assert all(s.chat_id == 111 for s in tg.sent) and len(tg.sent) == 4  # the stranger got nothing
    history = History(tmp_path / "bot", RULES)
    try:
        assert sorted(history.keys()) == ["telegram:111", "wechat:wxid_alice"]
        alice = history.conversation("wechat:wxid_alice").turns
        assert [(t.role, [ln.text for ln in t.lines]) for t in alice] == [
            ("user", ["在吗"]), ("assistant", ["在的~", "怎么啦", "我自己来回"]), ("user", ["好呀"])]
    finally:
        history.close()


@pytest.mark.slow
async def test_python_m_bot_answers_then_stops_cleanly_on_sigterm(tmp_path):
    """The real entry point: config file, env token, OpenAI-compatible backend, SIGTERM -> exit 0, history kept,
    and the token in no log line."""
    async with openai_server("哈哈哈在的~") as url:
        await _run_daemon_process(tmp_path, url)


async def _run_daemon_process(tmp_path: Path, url: str) -> None:
    tg = BotApiServer(TOKEN)
    await tg.start()
    config = daemon_config(tmp_path, tg.base_url, url, allow=["telegram:111"], debounce_s=0.05, message_pause_s=0)
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "--config", str(config), "-v",
                                                cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    try:
        tg.push_text(111, "在吗", user_id=111, first_name="Bob")
        [sent] = await tg.wait_sent(1, timeout=30)
        assert sent.text == "哈哈哈在的~"
        proc.send_signal(signal.SIGTERM)
        output = (await asyncio.wait_for(proc.communicate(), 15))[0].decode()
    finally:
        if proc.returncode is None:
            proc.kill()
        await tg.stop()
    assert proc.returncode == 0, output
    assert "clone stopped" in output
    assert TOKEN.split(":")[1] not in output and "getUpdates" in output  # debug logging on, token redacted
    history = History(tmp_path / "bot", RULES)
    try:
        assert [t.role for t in history.conversation("telegram:111").turns] == ["user", "assistant"]
    finally:
        history.close()
