"""Engines: the local one batches concurrent chats off the event loop; the OpenAI one speaks the real API."""
from __future__ import annotations

import asyncio

import pytest
from runtime.decoding import Decoding
from runtime.engine import LocalEngine, OpenAIEngine
from scripted import openai_server

CHATS = [[{"role": "system", "content": "你是林小夏。"}, {"role": "user", "content": f"今天第{i}次问你：在吗"}]
         for i in range(8)]


@pytest.fixture
def engine(model, tok):
    return LocalEngine(model, tok, Decoding(max_new_tokens=12), max_prompt_tokens=200, max_batch=8,
                       batch_wait_s=0.02)


async def test_concurrent_chats_share_one_generate_call(engine, model, tok):
    from runtime.decoding import generate_replies

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
    async with openai_server(" 哈哈哈好啊~\n", seen) as url:
        engine = OpenAIEngine(url, "clone", Decoding(max_new_tokens=20, temperature=0.7, top_p=0.9,
                                                     repetition_penalty=1.1), max_prompt_tokens=100, api_key="sk-test")
        assert await engine.reply(CHATS[0]) == "哈哈哈好啊~"
        await engine.aclose()
    body, auth = seen[0]
    assert auth == "Bearer sk-test"
    assert body == {"model": "clone", "messages": CHATS[0], "max_tokens": 20, "temperature": 0.7, "top_p": 0.9,
                    "repetition_penalty": 1.1}
    assert engine.count_tokens(CHATS[0]) >= sum(len(m["content"]) for m in CHATS[0])
