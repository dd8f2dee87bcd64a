"""Engines turn a rendered conversation (chat messages ending on a user turn) into the clone's reply.

- ``LocalEngine``: base + adapter loaded once (runtime.models, the loading code eval uses too). Requests from all
  chats queue up; one worker thread runs runtime.decoding.Decoder, whose running batch a request joins at the next
  decoding step and leaves when its reply ends, so generation never blocks the event loop and 16 chats asking at
  once cost little more than one.
- ``OpenAIEngine``: any OpenAI-compatible /v1/chat/completions server (vLLM with the LoRA, llama.cpp server,
  Ollama) — for a small CPU box or many users.

Both count prompt tokens with the clone's own tokenizer where there is one, so history trimming (bot.history.trim)
uses the same budget as training's cutoff_len.
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from core.chat_format import (
    count_prompt_tokens,
    escape_messages,
    fit,
    neutralise,
    prompt_ids,
    reply_text,
    template_kwargs,
)
from core.config import BotEngine, Config, ConfigError
from core.conversation import prompt_budget

from .decoding import Decoder, Decoding
from .manifest import MANIFEST, reconcile
from .models import adapter_dir, load_for_generation, load_tokenizer
from .stops import stop_ids

log = logging.getLogger(__name__)


class Engine(Protocol):
    async def reply(self, messages: list[dict]) -> str:
        """The owner's next turn after ``messages`` (a conversation's context, core.conversation), which the
        engine fits into its prompt budget with core.chat_format.fit, off the event loop."""

    async def aclose(self) -> None: ...


def decoding(cfg: Config) -> Decoding:
    e = cfg.bot.engine
    return Decoding(max_new_tokens=e.max_new_tokens, temperature=e.temperature, top_p=e.top_p,
                    repetition_penalty=e.repetition_penalty)


def batching(engine: BotEngine) -> dict:
    """LocalEngine's batching settings from the config's bot.engine section."""
    return {"max_batch": engine.max_batch, "prefill_chunk": engine.prefill_chunk or None,
            "prefix_tokens": engine.prefix_tokens}


def _template_counter(tokenizer):
    def count(messages: list[dict]) -> int:
        return count_prompt_tokens(tokenizer, messages)

    return count


@dataclass(eq=False)  # compared and hashed by identity: a request is its own tag in the decoder
class _Request:
    prompt: list[int]
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    seed: int

    def settle(self, text: str | None = None, error: BaseException | None = None) -> None:
        """Resolve the future from the worker thread, on its event loop."""
        self.loop.call_soon_threadsafe(_settle, self.future, text, error)


def _settle(future: asyncio.Future, text: str | None, error: BaseException | None) -> None:
    if future.done():  # cancelled by its caller meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(text)


# Below this many parameters a model's decoding steps last a few milliseconds (the demo's tiny base: ~2 ms).
SMALL_MODEL = 100_000_000


def _cpu_threads(model) -> None:
    """On the CPU, the cores this (worker) thread's torch ops use. A small model leaves one to the event loop: its
    steps are many small ops, torch's OpenMP threads spin at every barrier, and a loop sharing their cores slows every
    step several times over (measured on 2 cores: a tiny-model step 1.9 ms with one thread, 12 ms with two when the
    other core is busy). A model of real size takes every core: its steps are large matrix products that split
    across cores, and the loop needs a core only now and then (measured on 2 cores, the 0.5B shape under a light
    load of chats, four arrival seeds: p95 latency 1.4-1.8x an idle reply with two threads, 2.0-2.4x with one). The
    setting is per thread; the rest of the process keeps its own."""
    import torch

    if next(model.parameters()).device.type == "cpu":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        spare = 1 if sum(p.numel() for p in model.parameters()) < SMALL_MODEL else 0
        torch.set_num_threads(max(1, min(torch.get_num_threads(), cores - spare)))


_DEFAULTS = batching(BotEngine())  # the config's defaults, for engines built without a config


class LocalEngine:
    """Continuous batching on one worker thread: before every decoding step, queued requests join the running
    batch (up to ``max_batch`` rows) and finished replies leave it, so a new message never waits for a batch to
    drain, and the event loop never waits for the model.

    Joining prompts go in at most ``prefill_chunk`` tokens per step (None: whole), in the same model call as the
    running replies' tokens, so a long one does not stall the replies being written; up to ``prefix_tokens``
    tokens of prompts' and finished replies' keys and values are kept, so a chat's next message (and the persona
    prompt every chat starts with) is computed only from where it differs (0: nothing kept). Prompts are rendered
    off both the event loop and the worker."""

    def __init__(self, model, tokenizer, decoding: Decoding, *, max_prompt_tokens: int,
                 max_batch: int = _DEFAULTS["max_batch"], prefill_chunk: int | None = _DEFAULTS["prefill_chunk"],
                 prefix_tokens: int = _DEFAULTS["prefix_tokens"]):
        self.model, self.tokenizer, self.decoding = model, tokenizer, decoding
        self.max_prompt_tokens, self.max_batch = max_prompt_tokens, max_batch
        self.prefill_chunk, self.prefix_tokens = prefill_chunk, prefix_tokens
        self.count_tokens = _template_counter(tokenizer)
        # what the decoders did (the benchmark and tests read it): model calls that took prompt tokens, steps (one
        # model call each), prompt tokens, and prompt tokens whose keys and values were reused rather than computed
        self.prefills = self.steps = self.prompt_tokens = self.reused_tokens = 0
        self.worker_cpu_s = 0.0  # CPU time of the worker thread, once closed (steadier than wall time on a busy box)
        self._stops = stop_ids(tokenizer, model)
        self._pending: collections.deque[_Request] = collections.deque()
        self._wake = threading.Condition()
        self._closing = False
        self._worker: threading.Thread | None = None
        # a fresh seed per request: with sampling, the same message must not always get the same answer
        self._seeds = itertools.count(decoding.seed)

    @classmethod
    def from_config(cls, cfg: Config, *, base_only: bool = False) -> LocalEngine:
        """The clone (base + adapter); ``base_only``: the base model alone, to compare against."""
        e = cfg.bot.engine
        model, tokenizer = load_for_generation(adapter_dir(cfg, cfg.path(e.adapter) if e.adapter else None),
                                               base_only=base_only, dtype=cfg.model.dtype)
        return cls(model, tokenizer, decoding(cfg), max_prompt_tokens=prompt_budget(cfg), **batching(cfg.bot.engine))

    def prompt(self, messages: list[dict]) -> list[int]:
        """The prompt tokens of a conversation, fitted into the prompt budget (a few template renderings: run it
        off the event loop)."""
        return prompt_ids(self.tokenizer, messages, self.max_prompt_tokens)[0]

    def submit(self, prompt: list[int]) -> asyncio.Future:
        """Queue prompt tokens; the returned future (of the running event loop) gets the reply."""
        if not prompt:
            raise ValueError("empty prompt")
        loop = asyncio.get_running_loop()
        request = _Request(prompt, loop.create_future(), loop, next(self._seeds))
        with self._wake:
            if self._closing:
                raise RuntimeError("the engine is closed")
            self._pending.append(request)
            self._wake.notify()
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="local-engine", daemon=True)
                self._worker.start()
        return request.future

    async def reply(self, messages: list[dict]) -> str:
        return await self.submit(await asyncio.to_thread(self.prompt, messages))

    def _admit(self, room: int) -> list[_Request] | None:
        """Up to ``room`` queued requests, blocking while there is nothing to decode; None once closing. Nothing
        waits for company: a request arriving a step later joins that step's model call at no extra cost."""
        with self._wake:
            idle = room == self.max_batch
            self._wake.wait_for(lambda: self._pending or self._closing or not idle)
            if self._closing:
                return None
            return [self._pending.popleft() for _ in range(min(room, len(self._pending)))]

    def _run(self) -> None:
        started = time.thread_time()
        try:
            self._decode_requests()
        finally:
            self.worker_cpu_s = time.thread_time() - started

    def _decode_requests(self) -> None:
        _cpu_threads(self.model)

        def fresh() -> Decoder[_Request]:
            return Decoder(self.model, self.decoding, stop_ids=self._stops,
                           prefill_chunk=self.prefill_chunk, prefix_tokens=self.prefix_tokens)

        def count(decoder: Decoder[_Request], base: tuple[int, int, int]) -> None:
            self.prefills, self.prompt_tokens, self.reused_tokens = (
                b + n for b, n in zip(base, (decoder.prefill_calls, decoder.prompt_tokens, decoder.reused_tokens),
                                      strict=True))

        decoder, active, base = fresh(), set(), (0, 0, 0)
        while (admitted := self._admit(self.max_batch - len(decoder))) is not None:
            admitted = [r for r in admitted if not r.future.cancelled()]
            active.update(admitted)
            try:
                if admitted:
                    decoder.add([r.prompt for r in admitted], admitted, [r.seed for r in admitted])
                if gone := {r for r in active if r.future.cancelled()}:
                    decoder.drop(gone)
                    active -= gone
                finished = decoder.step()
                self.steps += 1
                count(decoder, base)
            except Exception as exc:  # noqa: BLE001 - a failed step fails the replies in flight, not the engine
                log.exception("local engine: generation failed")
                for r in active:
                    r.settle(error=exc)
                count(decoder, base)
                decoder, active, base = fresh(), set(), (self.prefills, self.prompt_tokens, self.reused_tokens)
                continue
            for r, tokens in finished:
                active.discard(r)
                r.settle(reply_text(self.tokenizer.decode(tokens, skip_special_tokens=True)))
        for r in active:  # closing: nobody will decode them
            r.loop.call_soon_threadsafe(r.future.cancel)

    async def aclose(self) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify()
            pending, self._pending = list(self._pending), collections.deque()
        if self._worker is not None:
            await asyncio.to_thread(self._worker.join)
        for r in pending:
            r.future.cancel()


# Control strings of the common chat formats, neutralised in what is sent when the clone's tokenizer is not at
# hand (with it, exactly its own added tokens are).
GENERIC_CONTROLS = re.compile(r"<\|[^<>|\s]{1,40}\|>|<｜[^<>｜]{1,40}｜>|</?think>|</?tool_call>|\[/?INST\]"
                              r"|<(?:start|end)_of_turn>|</?s>")


class OpenAIEngine:
    """An OpenAI-compatible server (vLLM with the LoRA, llama.cpp server, Ollama) renders the base's chat template
    itself; what it is sent makes that rendering the training one: message text with control strings
    neutralised, the template's reasoning switches off (``chat_template_kwargs``, as vLLM and llama.cpp's server
    take them), and the clone's stop ids (runtime.stops: the end of turn, eos ids, the template's markup) as vLLM's
    ``stop_token_ids``, since vLLM drops special tokens from the text it returns and an invented turn would pass."""

    def __init__(self, url: str, model: str, decoding: Decoding, *, max_prompt_tokens: int, api_key: str | None,
                 timeout_s: float = 60.0, tokenizer=None):
        import httpx

        self.model, self.decoding, self.max_prompt_tokens = model, decoding, max_prompt_tokens
        self.url, self.tokenizer = url.rstrip("/") + "/", tokenizer
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(base_url=self.url, headers=self._headers, timeout=timeout_s)
        # Without the clone's tokenizer, count characters: a CJK character is at least one token, so the
        # estimate errs on the side of a shorter prompt.
        self.count_tokens = (_template_counter(tokenizer) if tokenizer is not None
                             else lambda messages: sum(len(m["content"]) + 4 for m in messages) + 2)
        self.template_kwargs = template_kwargs(tokenizer) if tokenizer is not None else {"enable_thinking": False}
        self.stop_token_ids = (sorted(stop_ids(tokenizer)) if tokenizer is not None
                               else None)

    @classmethod
    def from_config(cls, cfg: Config) -> OpenAIEngine:
        e = cfg.bot.engine
        adapter = cfg.path(e.adapter) if e.adapter else cfg.path(cfg.train.output_dir) / "adapter"
        tokenizer = None
        if (adapter / "tokenizer_config.json").exists():
            tokenizer = load_tokenizer(str(adapter))
        engine = cls(e.url, e.model, decoding(cfg), max_prompt_tokens=prompt_budget(cfg),
                     api_key=os.environ.get(e.api_key_env) or None, timeout_s=e.timeout_s, tokenizer=tokenizer)
        engine.check_served()
        return engine

    def check_served(self) -> None:
        """At startup: the configured model must be among the server's /v1/models (vLLM lists the base and each
        --lora-modules name). A server that cannot be reached yet, or has no model list, is only logged."""
        import httpx

        try:
            response = httpx.get(self.url + "models", headers=self._headers, timeout=10)
            response.raise_for_status()
            served = [m["id"] for m in response.json().get("data", [])]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as e:
            log.warning("could not list the models of %s (%s); assuming %r is served", self.url, e, self.model)
            return
        if self.model not in served:
            raise ConfigError(f"bot.engine.model: {self.model!r} is not served by {self.url} (it serves: "
                              f"{', '.join(served) or 'nothing'}); start vLLM with --enable-lora --lora-modules "
                              f"{self.model}=runs/clone/adapter, or set bot.engine.model to the served name")

    def _escaped(self, messages: list[dict]) -> list[dict]:
        if self.tokenizer is not None:
            return escape_messages(self.tokenizer, messages)
        return [{**m, "content": neutralise(m["content"], GENERIC_CONTROLS)} for m in messages]

    async def reply(self, messages: list[dict]) -> str:
        d = self.decoding
        messages, _ = await asyncio.to_thread(fit, messages, self.max_prompt_tokens, self.count_tokens)
        body: dict = {"model": self.model, "messages": self._escaped(messages), "max_tokens": d.max_new_tokens,
                      "temperature": d.temperature, "top_p": d.top_p}
        if self.template_kwargs:
            body["chat_template_kwargs"] = self.template_kwargs
        if self.stop_token_ids:
            body["stop_token_ids"] = self.stop_token_ids  # vLLM's extra parameter; others ignore it
        if d.repetition_penalty != 1.0:
            body["repetition_penalty"] = d.repetition_penalty  # vLLM's extra parameter; others ignore it
        response = await self._client.post("chat/completions", json=body)
        response.raise_for_status()
        return reply_text(response.json()["choices"][0]["message"].get("content") or "")

    async def aclose(self) -> None:
        await self._client.aclose()


def serve_as_trained(cfg: Config) -> None:
    """Serving takes the persona prompt, cutoff_len and gaps the clone was trained with (runtime.manifest)."""
    e = cfg.bot.engine
    adapter = cfg.path(e.adapter) if e.adapter else cfg.path(cfg.train.output_dir) / "adapter"
    if (adapter / MANIFEST).exists():
        reconcile(cfg, adapter)


def make_engine(cfg: Config) -> Engine:
    backend = cfg.bot.engine.backend
    log.info("loading the %s engine", backend)
    serve_as_trained(cfg)
    return LocalEngine.from_config(cfg) if backend == "local" else OpenAIEngine.from_config(cfg)
