"""A deterministic engine and a recording Reply, for tests where the model is beside the point."""
from __future__ import annotations


class ScriptedEngine:
    """Answers with a function of the prompt; records every prompt. Tokens = characters."""

    max_prompt_tokens = 400

    def __init__(self, answer=lambda messages: "收到~"):
        self.answer = answer
        self.prompts: list[list[dict]] = []
        self.fail_for: set[str] = set()

    def count_tokens(self, messages: list[dict]) -> int:
        return sum(len(m["content"]) + 3 for m in messages)

    async def reply(self, messages: list[dict]) -> str:
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
