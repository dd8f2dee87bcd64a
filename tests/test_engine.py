"""Engines: the local one batches concurrent chats off the event loop, admitting newcomers into the running batch;
the OpenAI one speaks the real API."""
from __future__ import annotations

import asyncio
import threading

import pytest

from helpers import model_calls
from runtime.decoding import Decoding
from runtime.engine import LocalEngine, OpenAIEngine
from scripted import openai_server

CHATS = [[{"role": "system", "content": "你是林小夏。"}, {"role": "user", "content": f"今天第{i}次问你：在吗"}]
         for i in range(8)]


@pytest.fixture
def engine(model, tok):
    return LocalEngine(model, tok, Decoding(max_new_tokens=12), max_prompt_tokens=200, max_batch=8)


async def test_concurrent_chats_get_the_replies_they_get_alone(engine, model, tok):
    from runtime.decoding import generate_replies

    replies = await asyncio.gather(*(engine.reply(c) for c in CHATS))
    await engine.aclose()
    assert replies == generate_replies(model, tok, CHATS, Decoding(max_new_tokens=12), max_prompt_tokens=200,
                                       batch_size=1)


async def test_a_request_joins_the_running_batch_and_gets_its_solo_reply(model, tok):
    """The first chat's decoding is held inside its third model call until the second chat is queued; the second
    then joins the running batch (rather than waiting for the first to finish) and both replies equal their solo
    replies."""
    from runtime.decoding import generate_replies

    decoding = Decoding(max_new_tokens=30)
    solo = generate_replies(model, tok, CHATS, decoding, max_prompt_tokens=200, batch_size=1)
    first = max(range(len(CHATS)), key=lambda i: len(solo[i]))  # the longest reply leaves time to join it
    second = next(i for i in range(len(CHATS)) if i != first and solo[i])
    engine = LocalEngine(model, tok, decoding, max_prompt_tokens=200, max_batch=4)
    mid_decode, second_queued = threading.Event(), threading.Event()

    def hold(calls):
        if len(calls) == 3:
            mid_decode.set()
            second_queued.wait(30)

    calls, hook = model_calls(model, during=hold)
    try:
        a = engine.submit(engine.prompt(CHATS[first]))
        assert await asyncio.to_thread(mid_decode.wait, 30)
        b = engine.submit(engine.prompt(CHATS[second]))
        second_queued.set()
        replies = await asyncio.gather(a, b)
    finally:
        hook.remove()
        await engine.aclose()
    assert replies == [solo[first], solo[second]]
    joins = [i for i, (_, slices) in enumerate(calls) if slices]
    assert len(joins) == engine.prefills == 2
    assert joins[1] == 3 and calls[3][0] == 1  # after the first chat's prefill and two of its steps, in with its
    assert (2, ()) in calls[4:]  # next token; then steps computing both rows at once


async def test_a_cancelled_request_leaves_the_batch(model, tok):
    """A first chat's model call is held until four more are queued; they join the next call together, which is
    held until one of them is cancelled: the call after runs without it."""
    engine = LocalEngine(model, tok, Decoding(max_new_tokens=40), max_prompt_tokens=200, max_batch=5)
    started, queued, joined, cancelled = (threading.Event() for _ in range(4))

    def hold(calls):
        if len(calls) == 1:
            started.set()
            queued.wait(30)
        elif len(calls) == 2:
            joined.set()
            cancelled.wait(30)

    calls, hook = model_calls(model, during=hold)
    try:
        first = engine.submit(engine.prompt(CHATS[7]))
        assert await asyncio.to_thread(started.wait, 30)
        futures = [engine.submit(engine.prompt(c)) for c in CHATS[:4]]
        queued.set()
        assert await asyncio.to_thread(joined.wait, 30)
        futures[0].cancel()
        cancelled.set()
        rest = await asyncio.gather(first, *futures[1:])
    finally:
        hook.remove()
        await engine.aclose()
    assert len(rest) == 4 and calls[1][0] == 1 and len(calls[1][1]) == 4
    assert calls[2] == (4, ())  # the very next model call runs without the cancelled row


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
    assert engine.prefills == 4 and ticks > 5


async def test_a_chats_next_message_reuses_its_last_turn(model, tok):
    """The engine keeps finished replies' keys and values: the chat's next message is prefilled from the end of
    the last reply on, and gets the reply an engine keeping nothing gives."""
    keeping = LocalEngine(model, tok, Decoding(max_new_tokens=12), max_prompt_tokens=200, max_batch=4)
    plain = LocalEngine(model, tok, Decoding(max_new_tokens=12), max_prompt_tokens=200, max_batch=4,
                        prefill_chunk=None, prefix_tokens=0)
    try:
        chat = list(CHATS[0])
        for text in ("周末有空吗", "那就周六吧"):
            first = await keeping.reply(chat)
            assert first == await plain.reply(chat)
            chat += [{"role": "assistant", "content": first}, {"role": "user", "content": text}]
        assert await keeping.reply(chat) == await plain.reply(chat)
    finally:
        await keeping.aclose()
        await plain.aclose()
    assert plain.reused_tokens == 0 and plain.prompt_tokens == keeping.prompt_tokens
    assert keeping.reused_tokens > keeping.prompt_tokens / 2  # the later turns came mostly from the kept ones


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
                    "repetition_penalty": 1.1, "chat_template_kwargs": {"enable_thinking": False}}
    assert engine.count_tokens(CHATS[0]) >= sum(len(m["content"]) for m in CHATS[0])


def test_the_worker_leaves_a_core_to_the_event_loop_only_for_a_small_model():
    """A tiny model's steps are too short to share cores with the loop; a real one's split across all of them."""
    import os

    import torch

    from runtime.engine import SMALL_MODEL, _cpu_threads

    cores = len(os.sched_getaffinity(0))
    large = torch.nn.Module()
    large.weight = torch.nn.Parameter(torch.empty(SMALL_MODEL), requires_grad=False)  # never touched: no memory
    seen = {}

    def worker(name: str, model) -> None:
        torch.set_num_threads(cores)
        _cpu_threads(model)
        seen[name] = torch.get_num_threads()

    for name, model in (("small", torch.nn.Linear(4, 4)), ("large", large)):
        thread = threading.Thread(target=worker, args=(name, model))
        thread.start()
        thread.join()
    assert seen == {"small": max(1, cores - 1), "large": cores}
