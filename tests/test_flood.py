"""A flood in one chat does not hold up the others: a busy group pours thousands of long multi-line messages into
the responder while a friend writes privately; the friend's reply comes within a second of the time it takes on
an idle bot (the real local engine on the tiny clone's base, real sqlite)."""
from __future__ import annotations

import asyncio
import time

from bot.chat import Incoming
from bot.history import History
from bot.responder import Responder
from core.config import load
from core.conversation import Rules
from runtime.decoding import Decoding
from runtime.engine import LocalEngine

FLOOD = 3000
LINE = "今晚的局到底去不去啊，我都问了三遍了" * 3


class Timed:
    """A ChatWriter noting when its first message was delivered."""

    def __init__(self):
        self.first: float | None = None
        self.delivered = asyncio.Event()

    async def typing(self) -> None:
        pass

    async def send(self, text: str) -> None:
        if self.first is None:
            self.first = time.perf_counter()
            self.delivered.set()


async def reply_latency(responder: Responder, text: str, at: float) -> float:
    writer = Timed()
    start = time.perf_counter()
    await responder.on_message(Incoming("telegram", "111", "Ann", False, "111", "Ann", text, time=at), writer)
    await asyncio.wait_for(writer.delivered.wait(), 60)
    return writer.first - start


async def test_a_flooding_group_delays_another_chats_reply_by_less_than_a_second(model, tok, tmp_path):
    cfg = load(overrides={"bot.allow": ["telegram:*"], "bot.groups": "all", "bot.debounce_s": 0.05,
                          "bot.message_pause_s": 0, "bot.rate_limit": 10_000, "bot.data_dir": str(tmp_path)})
    engine = LocalEngine(model, tok, Decoding(max_new_tokens=8), max_prompt_tokens=448, max_batch=4)
    history = History(tmp_path, Rules.from_config(cfg))
    responder = Responder(cfg, engine, history)
    now = time.time()
    try:
        idle = min([await reply_latency(responder, f"在吗{i}", now) for i in range(3)])

        flooded = asyncio.Event()

        async def flood() -> None:
            for i in range(FLOOD):
                text = "\n".join(f"{LINE}{i}-{k}" for k in range(4))
                await responder.on_message(Incoming("telegram", "-100", "大群", True, str(i % 50), f"群友{i % 50}",
                                                    text, time=now), Timed())
                if i == FLOOD // 3:
                    flooded.set()
                await asyncio.sleep(0)  # messages arrive one by one from the network

        pouring = asyncio.create_task(flood())
        await flooded.wait()
        during = await reply_latency(responder, "还在吗", now)
        await pouring
        assert len(history.rows("telegram:-100")) == FLOOD  # every message of the flood was stored
        assert history.conversation("telegram:-100").turns[-1].lines[-1].text.endswith(f"{FLOOD - 1}-3")
        print(f"reply latency idle {idle:.3f} s, during the flood {during:.3f} s")
        assert during < idle + 1.0
    finally:
        await responder.aclose()
        await engine.aclose()
        history.close()
