"""A deterministic engine, a recording ChatWriter and an OpenAI-compatible server, for tests where the model is beside
the point."""
from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from core.chat_format import fit


class ScriptedEngine:
    """Answers with a function of the prompt; records every prompt, fitted as the real engines fit it (tokens =
    characters)."""

    max_prompt_tokens = 400

    def __init__(self, answer=lambda messages: "收到~"):
        self.answer = answer
        self.prompts: list[list[dict]] = []
        self.fail_for: set[str] = set()

    def count_tokens(self, messages: list[dict]) -> int:
        return sum(len(m["content"]) + 3 for m in messages)

    async def reply(self, messages: list[dict]) -> str:
        messages, _ = fit(messages, self.max_prompt_tokens, self.count_tokens)
        self.prompts.append(messages)
        if any(f in messages[-1]["content"] for f in self.fail_for):
            raise RuntimeError("engine exploded")
        return self.answer(messages)

    async def aclose(self) -> None:
        pass


class Recorder:
    def __init__(self):
        self.sent: list[str] = []
        self.typings = 0

    async def typing(self) -> None:
        self.typings += 1

    async def send(self, text: str) -> None:
        self.sent.append(text)


@contextlib.asynccontextmanager
async def openai_server(answer: str, seen: list | None = None) -> AsyncIterator[str]:
    """A /v1/chat/completions server on 127.0.0.1 that always answers ``answer``; yields its base URL and appends
    (request body, Authorization header) to ``seen``."""
    async def completions(request: web.Request) -> web.Response:
        if seen is not None:
            seen.append((await request.json(), request.headers.get("Authorization")))
        return web.json_response({"id": "x", "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    async with _serving(app) as url:
        yield url


@contextlib.asynccontextmanager
async def vllm_server(served: list[str], answer, seen: list | None = None) -> AsyncIterator[str]:
    """What vLLM's OpenAI-compatible server does for the bot, on 127.0.0.1: GET /v1/models lists ``served`` (vLLM:
    the base, then each ``--lora-modules`` name); POST /v1/chat/completions answers only a served model (404 in
    vLLM's error shape otherwise) with ``answer(body)`` — a function of the whole request, so a test can render the
    messages with the request's ``chat_template_kwargs`` as vLLM does. Appends every body to ``seen``."""
    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": m, "object": "model", "owned_by": "vllm"}
                                                            for m in served]})

    async def completions(request: web.Request) -> web.Response:
        body = await request.json()
        if seen is not None:
            seen.append(body)
        if body.get("model") not in served:
            return web.json_response({"object": "error", "message": f"The model `{body.get('model')}` does not "
                                      "exist.", "type": "NotFoundError", "code": 404}, status=404)
        return web.json_response({"id": "x", "object": "chat.completion", "model": body["model"], "choices": [
            {"index": 0, "message": {"role": "assistant", "content": answer(body)}, "finish_reason": "stop"}]})

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", completions)
    async with _serving(app) as url:
        yield url


@contextlib.asynccontextmanager
async def _serving(app: web.Application) -> AsyncIterator[str]:
    """``app`` on a free port of 127.0.0.1 while in it; yields its /v1 base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1"
    finally:
        await runner.cleanup()


def daemon_config(root: Path, telegram_url: str, model_url: str, **bot) -> Path:
    """A config.toml in ``root`` for `python -m bot`: Telegram at ``telegram_url``, an OpenAI-compatible model at
    ``model_url``, history under root/bot, and these [bot] settings."""
    settings = "\n".join(f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in bot.items())
    config = root / "config.toml"
    config.write_text(f"""[bot]
{settings}
data_dir = {json.dumps(str(root / "bot"))}
[bot.telegram]
enabled = true
base_url = {json.dumps(telegram_url)}
poll_timeout_s = 1
[bot.engine]
backend = "openai"
url = {json.dumps(model_url)}
adapter = {json.dumps(str(root / "no-adapter"))}
""", encoding="utf-8")
    return config
