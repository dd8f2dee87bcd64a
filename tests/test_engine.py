"""Engines: the local one batches concurrent chats off the event loop; the OpenAI one speaks the real API."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bot.engine import LocalEngine, OpenAIEngine
from core.generation import Decoding

CHATS = [[{"role": "system", "content": "你是林小夏。"}, {"role": "user", "content": f"今天第{i}次问你：在吗"}]
         for i in range(8)]


@pytest.fixture
def engine(model, tok):
    return LocalEngine(model, tok, Decoding(max_new_tokens=12), max_prompt_tokens=200, max_batch=8,
                       batch_wait_s=0.02)


async def test_concurrent_chats_share_one_generate_call(engine, model, tok):
    from core.generation import generate_replies

    replies = await asyncio.gather(*(engine.reply(c) for c in CHATS))
    await engine.aclose()
    assert engine.batches == 1
    assert replies == generate_replies(model, tok, CHATS, Decoding(max_new_tokens=12), max_prompt_tokens=200)


async def test_generation_does_not_block_the_event_loop(model, tok):
    engine = LocalEngine(model, tok, Decoding(max_new_tokens=48), max_prompt_tokens=200, max_batch=1)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    t = asyncio.create_task(ticker())
    await asyncio.gather(*(engine.reply(c) for c in CHATS[:4]))
    t.cancel()
    await engine.aclose()
    assert engine.batches == 4 and ticks > 5


async def test_prompt_tokens_are_counted_with_the_template(engine, tok):
    text = tok.apply_chat_template(CHATS[0], tokenize=False, add_generation_prompt=True)
    assert engine.count_tokens(CHATS[0]) == len(tok(text, add_special_tokens=False)["input_ids"])


async def test_openai_engine_speaks_chat_completions():
    seen: list[tuple[dict, str | None]] = []

    async def completions(request: web.Request) -> web.Response:
        seen.append((await request.json(), request.headers.get("Authorization")))
        return web.json_response({"id": "x", "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": " 哈哈哈好啊~\n"}, "finish_reason": "stop"}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        engine = OpenAIEngine(f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1", "clone",
                              Decoding(max_new_tokens=20, temperature=0.7, top_p=0.9, repetition_penalty=1.1),
                              max_prompt_tokens=100, api_key="sk-test")
        assert await engine.reply(CHATS[0]) == "哈哈哈好啊~"
        await engine.aclose()
    finally:
        await runner.cleanup()
    body, auth = seen[0]
    assert auth == "Bearer sk-test"
    assert body == {"model": "clone", "messages": CHATS[0], "max_tokens": 20, "temperature": 0.7, "top_p": 0.9,
                    "repetition_penalty": 1.1}
    assert engine.count_tokens(CHATS[0]) >= sum(len(m["content"]) for m in CHATS[0])
