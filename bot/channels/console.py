"""The terminal as a chat (`make chat`): you are a friend writing to the clone, through the same responder,
history and engine as Telegram and WeChat.

Interactive: each line you type is a message (several quick lines are one burst, as in a real chat); Ctrl-D ends.
Scripted (``script=[...]``, used by the demo and tests): each line is sent, and the next one waits until the clone
has answered.
"""
from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import TextIO

from ..chat import Incoming, OnMessage

CHAT_ID = "terminal"


class ConsoleWriter:
    """Prints the clone's messages; ``sent`` collects them for the transcript."""

    def __init__(self, name: str, out: TextIO, sent: list[str]):
        self.name, self.out, self.sent = name, out, sent

    async def typing(self) -> None:
        pass

    async def send(self, text: str) -> None:
        self.sent.append(text)
        print(f"{self.name}: {text}", file=self.out, flush=True)


class ConsoleChannel:
    name = "console"

    def __init__(self, clone_name: str, settle: Callable[[str], Awaitable[None]], *, friend: str = "朋友",
                 script: list[str] | None = None, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout):
        """``settle(chat_key)`` waits until the clone has answered (Responder.settle)."""
        self.clone_name, self.friend, self.script, self.settle = clone_name, friend, script, settle
        self.stdin, self.out = stdin, out
        self.transcript: list[tuple[str, list[str]]] = []  # (what the friend said, what the clone answered)

    def writer(self, chat_id: str, is_group: bool) -> ConsoleWriter:
        return ConsoleWriter(self.clone_name, self.out, [])

    def _incoming(self, text: str) -> Incoming:
        return Incoming(channel=self.name, chat_id=CHAT_ID, chat_name=self.friend, is_group=False,
                        sender_id="friend", sender_name=self.friend, text=text)

    async def run(self, on_message: OnMessage) -> None:
        """Returns at the end of the script or of stdin."""
        if self.script is not None:
            for line in self.script:
                print(f"{self.friend}: {line}", file=self.out, flush=True)
                sent: list[str] = []
                await on_message(self._incoming(line), ConsoleWriter(self.clone_name, self.out, sent))
                await self.settle(f"{self.name}:{CHAT_ID}")
                self.transcript.append((line, sent))
            return
        print(f"talking to {self.clone_name} — type a message, Ctrl-D to quit", file=self.out, flush=True)
        lines: asyncio.Queue[str] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def read() -> None:  # a daemon thread: a pending readline must not keep the process alive at exit
            for line in iter(self.stdin.readline, ""):
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, "")

        threading.Thread(target=read, name="console-stdin", daemon=True).start()
        said: list[str] = []
        while line := await lines.get():
            if line.strip():
                await on_message(self._incoming(line.strip()), ConsoleWriter(self.clone_name, self.out, said))
        await self.settle(f"{self.name}:{CHAT_ID}")  # answer what was typed just before Ctrl-D
