"""Engines turn a rendered conversation (chat messages ending on a user turn) into the clone's reply.

- ``LocalEngine``: base + adapter loaded once (runtime.models, the loading code eval uses too). Requests from all
  chats queue up; one worker thread drains the queue in batches through runtime.decoding.generate_replies, so generation never blocks the event loop and 16 chats asking at once cost
  about one generate call, not sixteen.
- ``OpenAIEngine``: any OpenAI-compatible /v1/chat/completions server (vLLM with the LoRA, llama.cpp server,
  Ollama) — for a small CPU box or many users.

Both count prompt tokens with the clone's own tokenizer where there is one, so history trimming (bot.history.trim)
uses the same budget as training's cutoff_len.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import os
from dataclasses import dataclass, replace
from typing import Protocol

from core.config import Config, ConfigError
from .decoding import Decoding, generate_replies
from .models import adapter_dir, load_for_generation, load_tokenizer

log = logging.getLogger(__name__)


class Engine(Protocol):
    max_prompt_tokens: int

    def count_tokens(self, messages: list[dict]) -> int: ...

    async def reply(self, messages: list[dict]) -> str: ...

    async def aclose(self) -> None: ...


def decoding(cfg: Config) -> Decoding:
    e = cfg.bot.engine
    return Decoding(max_new_tokens=e.max_new_tokens, temperature=e.temperature, top_p=e.top_p,
                    repetition_penalty=e.repetition_penalty)


def prompt_budget(cfg: Config) -> int:
    """Tokens the history may use: what training saw at most (cutoff_len) minus room for the reply."""
    budget = cfg.train.cutoff_len - cfg.bot.engine.max_new_tokens
    if budget < 16:
        raise ConfigError(f"{cfg.source}: bot.engine.max_new_tokens: must leave room for the prompt within "
                          f"train.cutoff_len ({cfg.train.cutoff_len})")
    return budget


def _template_counter(tokenizer):
    def count(messages: list[dict]) -> int:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count


@dataclass
class _Request:
    messages: list[dict]
    future: asyncio.Future


class LocalEngine:
    def __init__(self, model, tokenizer, decoding: Decoding, *, max_prompt_tokens: int, max_batch: int = 16,
                 batch_wait_s: float = 0.01):
        self.model, self.tokenizer, self.decoding = model, tokenizer, decoding
        self.max_prompt_tokens, self.max_batch, self.batch_wait_s = max_prompt_tokens, max_batch, batch_wait_s
        self.count_tokens = _template_counter(tokenizer)
        self.batches = 0  # generate calls made (the benchmark reports it)
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        self._worker: asyncio.Task | None = None
        self._seeds = itertools.count(decoding.seed)

    @classmethod
    def from_config(cls, cfg: Config, *, base_only: bool = False) -> LocalEngine:
        """The clone (base + adapter); ``base_only``: the base model alone, to compare against."""
        e = cfg.bot.engine
        model, tokenizer = load_for_generation(adapter_dir(cfg, cfg.path(e.adapter) if e.adapter else None),
                                               base_only=base_only, dtype=cfg.model.dtype)
        return cls(model, tokenizer, decoding(cfg), max_prompt_tokens=prompt_budget(cfg), max_batch=e.max_batch,
                   batch_wait_s=e.batch_wait_ms / 1000)

    async def reply(self, messages: list[dict]) -> str:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name="local-engine")
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Request(messages, future))
        return await future

    async def _drain(self) -> None:
        while True:
            batch = [await self._queue.get()]
            if self.batch_wait_s:  # let requests that arrive together share the generate call
                await asyncio.sleep(self.batch_wait_s)
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            batch = [r for r in batch if not r.future.cancelled()]
            if not batch:
                continue
            # a fresh seed per batch: with sampling, the same message must not always get the same answer
            dec = replace(self.decoding, seed=next(self._seeds))
            try:
                replies = await asyncio.to_thread(
                    generate_replies, self.model, self.tokenizer, [r.messages for r in batch], dec,
                    max_prompt_tokens=self.max_prompt_tokens, batch_size=self.max_batch)
            except Exception as exc:  # noqa: BLE001 - one failed batch fails its requests, not the engine
                for r in batch:
                    if not r.future.done():
                        r.future.set_exception(exc)
                continue
            self.batches += 1
            for r, text in zip(batch, replies):
                if not r.future.done():
                    r.future.set_result(text)

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)


class OpenAIEngine:
    def __init__(self, url: str, model: str, decoding: Decoding, *, max_prompt_tokens: int, api_key: str | None,
                 timeout_s: float = 60.0, tokenizer=None):
        import httpx

        self.model, self.decoding, self.max_prompt_tokens = model, decoding, max_prompt_tokens
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(base_url=url.rstrip("/") + "/", headers=headers, timeout=timeout_s)
        # Without the clone's tokenizer, count characters: a CJK character is at least one token, so the
        # estimate errs on the side of a shorter prompt.
        self.count_tokens = (_template_counter(tokenizer) if tokenizer is not None
                             else lambda messages: sum(len(m["content"]) + 4 for m in messages) + 2)

    @classmethod
    def from_config(cls, cfg: Config) -> OpenAIEngine:
        e = cfg.bot.engine
        adapter = cfg.path(e.adapter) if e.adapter else cfg.path(cfg.train.output_dir) / "adapter"
        tokenizer = None
        if (adapter / "tokenizer_config.json").exists():
            tokenizer = load_tokenizer(str(adapter))
        return cls(e.url, e.model, decoding(cfg), max_prompt_tokens=prompt_budget(cfg),
                   api_key=os.environ.get(e.api_key_env) or None, timeout_s=e.timeout_s, tokenizer=tokenizer)

    async def reply(self, messages: list[dict]) -> str:
        d = self.decoding
        body: dict = {"model": self.model, "messages": messages, "max_tokens": d.max_new_tokens,
                      "temperature": d.temperature, "top_p": d.top_p}
        if d.repetition_penalty != 1.0:
            body["repetition_penalty"] = d.repetition_penalty  # vLLM's extra parameter; others ignore it
        response = await self._client.post("chat/completions", json=body)
        response.raise_for_status()
        return (response.json()["choices"][0]["message"].get("content") or "").strip()

    async def aclose(self) -> None:
        await self._client.aclose()


def make_engine(cfg: Config) -> Engine:
    backend = cfg.bot.engine.backend
    log.info("loading the %s engine", backend)
    return LocalEngine.from_config(cfg) if backend == "local" else OpenAIEngine.from_config(cfg)
