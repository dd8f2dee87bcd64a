"""The whole product in one test: the bundled sample export -> dataset -> tiny training -> the bot daemon answering
an allowed friend over the loopback Telegram Bot API, in the persona's style; a stranger gets nothing."""
from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from bot.daemon import enabled_channels, serve
from botapi_server import BotApiServer
from core.config import load

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "424242:end-to-end-secret"
FRIEND = 4242


async def test_sample_export_to_a_persona_reply_in_telegram(persona_clone, tmp_path, monkeypatch):
    data_dir = persona_clone.cfg.path(persona_clone.cfg.dataset.out_dir)
    markers = json.loads((ROOT / "samples" / "persona" / "markers.json").read_text(encoding="utf-8"))
    any_marker = re.compile(markers["any_marker_regex"])
    dev = [json.loads(line) for line in (data_dir / "dev.jsonl").read_text(encoding="utf-8").splitlines()]
    friend_says = [r["messages"][1]["content"].split("\n")[-1] for r in dev if not r["is_group"]][:4]

    server = BotApiServer(TOKEN)
    await server.start()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    cfg = load(overrides={
        "dataset.out_dir": str(data_dir), "model.cache_dir": str(persona_clone.cfg.model.cache_dir),
        "train.output_dir": str(persona_clone.cfg.train.output_dir),
        "bot.allow": [f"telegram:{FRIEND}"], "bot.telegram.base_url": server.base_url,
        "bot.telegram.poll_timeout_s": 1, "bot.debounce_s": 0.1, "bot.message_pause_s": 0.0,
        "bot.engine.temperature": 0.0, "bot.engine.repetition_penalty": 1.0,
        "bot.data_dir": str(tmp_path / "bot")})
    daemon = asyncio.create_task(serve(cfg, enabled_channels(cfg)))
    try:
        server.push_text(999, "你好", user_id=999, first_name="Stranger")
        replies = []
        for text in friend_says:
            before = len(server.sent)
            server.push_text(FRIEND, text, user_id=FRIEND, first_name="周小满")
            await server.wait_sent(before + 1, timeout=60)
            await asyncio.sleep(0.3)  # the rest of a multi-message reply
            replies.append(" ".join(m.text for m in server.sent[before:]))
    finally:
        daemon.cancel()
        await asyncio.gather(daemon, return_exceptions=True)
        await server.stop()
    assert {m.chat_id for m in server.sent} == {FRIEND}  # the stranger got nothing
    assert sum(bool(any_marker.search(r)) for r in replies) >= len(replies) - 1, replies


def test_scripted_chat_shows_clone_and_base_side_by_side_reproducibly(persona_clone, tmp_path, capsys):
    """What `make demo` ends with: the console channel, the clone and the base answering the same messages."""
    from bot.__main__ import main

    config = persona_clone.config_file(tmp_path / "config.toml", tmp_path / "bot")
    argv = ["chat", "--config", str(config), "--say", "在干嘛呢", "--say", "周末一起去吃火锅吗", "--compare-base"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert main(argv) == 0
    assert capsys.readouterr().out == first  # a fresh history each time: the demo is reproducible
    assert first.count("朋友: 在干嘛呢") == 2 and "林小夏: " in first and "base: " in first
    side = first.split("side by side")[1]
    assert side.count("clone: ") == 2 and side.count("base:  ") == 2
    assert not (tmp_path / "bot").exists()  # scripted runs leave the chat history alone
