"""The clone's manners: who it answers, when, and what it remembers. Same rules for every channel.

For each incoming message (bot.chat.Incoming), in this order:
1. the owner's commands in their own private chat (/pause, /resume, /forget, /status);
2. the owner writing in a chat themself: their words join the history as the owner's turn and the clone stays
   silent there for ``takeover_s`` (it must not talk over its owner);
3. deny by default: a sender or chat not in ``bot.allow`` is ignored, logged once, and nothing of theirs is kept;
4. the message joins the chat's conversation (bot.history; group messages too when the clone is not addressed:
   they are the context training saw, speaker names and all), by the same rules as the dataset
   (core.conversation: bursts, stalls, session gaps, the line cap of a friends' turn);
5. whether to answer: private chats yes; groups per ``bot.groups`` (default: when mentioned or replied to);
   not while paused or taken over;
6. debounce: the answer waits ``debounce_s`` after the friend's last message, so a burst is answered once, as
   one user turn (training merged bursts the same way);
7. per-chat rate limit, then generation on the conversation's current training window (the engine fits it into
   the prompt budget, off the event loop), and the reply is sent as the several messages it holds (split on the
   burst separator) with short typing pauses. Each message is stored once delivered; a send that finally fails
   ends the reply there, so the history holds exactly what the friend received.
After a restart, chats whose conversation ends on friends' words that asked for an answer are answered
(answer_pending). An error in one chat is logged and never reaches the channel or the other chats.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from core.chat_format import USER, split_reply
from core.config import Config
from core.conversation import Said
from runtime.engine import Engine

from .chat import Channel, ChatWriter, Incoming, SendFailed
from .history import History, owner_said

log = logging.getLogger(__name__)

CONSOLE = "console"  # the local terminal: always allowed, and its user is the owner
COMMANDS = ("/pause", "/resume", "/forget", "/status")
MAX_PAUSE_S = 4.0
TYPING_REFRESH_S = 4.5


@dataclass
class _ChatState:
    writer: ChatWriter | None = None
    timer: asyncio.Task | None = None
    answering: bool = False
    again: bool = False                      # a message arrived while answering: answer once more afterwards
    replies: deque = field(default_factory=deque)  # send times, for the rate limit
    takeover_until: float = 0.0


@dataclass
class Stats:
    received: int = 0
    answered: int = 0
    ignored: int = 0
    rate_limited: int = 0
    errors: int = 0


class Responder:
    def __init__(self, cfg: Config, engine: Engine, history: History, *,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], Awaitable] = asyncio.sleep):
        self.cfg, self.bot, self.engine, self.history = cfg, cfg.bot, engine, history
        self.clock, self.sleep = clock, sleep
        self.rules = history.rules
        self.allow = set(self.bot.allow)
        self.owners = set(self.bot.owner)
        self.paused_all = False
        self.paused: set[str] = set()
        self.stats = Stats()
        self._chats: dict[str, _ChatState] = {}
        self._ignored_logged: set[str] = set()

    # ---- who is who ------------------------------------------------------------------------------------------

    def is_allowed(self, msg: Incoming) -> bool:
        keys = {msg.chat_key, msg.sender_key, f"{msg.channel}:*"}
        return msg.channel == CONSOLE or bool(keys & self.allow) or msg.sender_key in self.owners

    def _owner_chat(self, msg: Incoming) -> bool:
        """The owner's private chat with the clone (Telegram: with the bot; WeChat: their own chat/filehelper)."""
        if msg.is_group:
            return False
        return (msg.channel == CONSOLE or msg.sender_key in self.owners
                or (msg.by_owner and msg.chat_id == msg.sender_id))

    def _takes_over(self, msg: Incoming) -> bool:
        return not self._owner_chat(msg) and (msg.by_owner or msg.sender_key in self.owners)

    # ---- entry point (bot.chat.OnMessage) --------------------------------------------------------------------

    async def on_message(self, msg: Incoming, writer: ChatWriter) -> None:
        try:
            await self._on_message(msg, writer)
        except Exception:  # noqa: BLE001 - one chat's failure is logged, never raised into the channel
            self.stats.errors += 1
            log.exception("%s: failed to handle a message", msg.chat_key)

    async def _on_message(self, msg: Incoming, writer: ChatWriter) -> None:
        self.stats.received += 1
        text = msg.text.strip()
        if not text:
            return
        if self._owner_chat(msg) and text.split()[0].split("@")[0] in COMMANDS:
            await writer.send(self.command(text))
            return
        if self._takes_over(msg):
            self._take_over(msg, text)
            return
        if msg.by_owner:  # notes in the owner's own chat that are not commands
            return
        if not self.is_allowed(msg):
            self.stats.ignored += 1
            if msg.sender_key not in self._ignored_logged:
                self._ignored_logged.add(msg.sender_key)
                log.info("ignoring %s (%s) in %s: not in bot.allow (add \"%s\" to let them talk to the clone)",
                         msg.sender_key, msg.sender_name, msg.chat_key, msg.sender_key)
            return
        if msg.is_group and self.bot.groups == "never":
            return
        asks = not (msg.is_group and self.bot.groups == "mention" and not msg.addressed)
        late = self.clock() - msg.time > self.rules.session_gap_s  # a backlog from while the bot was down
        speaker = msg.sender_name if msg.is_group else ""
        self.history.add(msg.chat_key, Said(USER, speaker, text, msg.time), chat_name=msg.chat_name,
                         is_group=msg.is_group, wants_answer=asks and not late)
        if not asks:
            return
        if late:
            log.info("%s: not answering a message from %.0f s ago", msg.chat_key, self.clock() - msg.time)
            return
        state = self._chats.setdefault(msg.chat_key, _ChatState())
        state.writer = writer
        if self._silenced(msg.chat_key, state):
            return
        if state.answering:
            state.again = True
            return
        self._schedule(msg.chat_key, state)

    def _silenced(self, key: str, state: _ChatState) -> bool:
        return self.paused_all or key in self.paused or self.clock() < state.takeover_until

    def _take_over(self, msg: Incoming, text: str) -> None:
        state = self._chats.setdefault(msg.chat_key, _ChatState())
        state.takeover_until = self.clock() + self.bot.takeover_s
        if state.timer is not None:
            state.timer.cancel()
        # The owner's own words are the best example of the owner: they join the history as the assistant turn,
        # but only of chats the clone takes part in; what the owner writes to anyone else is not kept.
        if self.history.conversation(msg.chat_key) is not None or {msg.chat_key, f"{msg.channel}:*"} & self.allow:
            self.history.add(msg.chat_key, owner_said(text, msg.time), chat_name=msg.chat_name,
                             is_group=msg.is_group)
        log.info("%s: the owner wrote; the clone stays silent there for %.0f s", msg.chat_key, self.bot.takeover_s)

    # ---- answering -------------------------------------------------------------------------------------------

    def _schedule(self, key: str, state: _ChatState) -> None:
        if state.timer is not None and not state.timer.done():
            state.timer.cancel()  # debounce: the burst is still going on
        state.timer = asyncio.create_task(self._answer_after(key, state), name=f"answer {key}")

    async def _answer_after(self, key: str, state: _ChatState) -> None:
        await self.sleep(self.bot.debounce_s)
        state.answering = True
        try:
            await self._answer(key, state)
        except Exception:  # noqa: BLE001
            self.stats.errors += 1
            log.exception("%s: failed to answer", key)
        finally:
            state.answering = False
        if state.again:
            state.again = False
            if not self._silenced(key, state):
                self._schedule(key, state)

    async def _answer(self, key: str, state: _ChatState) -> None:
        now = self.clock()
        while state.replies and state.replies[0] <= now - self.bot.rate_window_s:
            state.replies.popleft()
        if len(state.replies) >= self.bot.rate_limit:
            self.stats.rate_limited += 1
            log.warning("%s: rate limit (%d replies in %.0f s): not answering", key, self.bot.rate_limit,
                        self.bot.rate_window_s)
            return
        conversation = self.history.conversation(key)
        writer = state.writer
        if conversation is None or writer is None or not self.history.wants_answer(key):
            return  # nothing to answer (forgotten, expired, or the owner answered meanwhile)
        messages = conversation.prompt(self.cfg.persona.system_prompt, self.rules)
        await writer.typing()
        typing = asyncio.create_task(self._keep_typing(writer), name=f"typing {key}")
        try:
            text = await self.engine.reply(messages)
        finally:
            typing.cancel()
        parts = split_reply(text)
        if not parts:
            log.info("%s: the model produced an empty reply; nothing sent", key)
            return
        if self._silenced(key, state):  # paused or taken over while generating
            return
        state.replies.append(self.clock())
        for i, part in enumerate(parts):
            if i:
                await writer.typing()
                await self.sleep(min(MAX_PAUSE_S, self.bot.message_pause_s * (1 + len(part) / 40)))
            try:
                await writer.send(part)
            except SendFailed as exc:  # what never reached the friend was never said
                log.warning("%s: reply stopped after %d of %d message(s): %s", key, i, len(parts), exc)
                return
            self.history.add(key, owner_said(part, self.clock()), chat_name=conversation.chat_name,
                             is_group=conversation.is_group)
            log.debug("%s: message %d of %d delivered and stored", key, i + 1, len(parts))
        self.stats.answered += 1

    async def _keep_typing(self, writer: ChatWriter) -> None:
        """Telegram shows "typing…" for about 5 s per call: repeat it while a slow model is generating."""
        while True:
            await self.sleep(TYPING_REFRESH_S)
            await writer.typing()

    # ---- sessions --------------------------------------------------------------------------------------------

    def expire_idle(self) -> list[str]:
        """End every session idle for longer than the session gap (APScheduler runs this periodically)."""
        ended = []
        for key in self.history.idle(self.clock() - self.rules.session_gap_s):
            state = self._chats.get(key)
            if state is not None and (state.answering or (state.timer is not None and not state.timer.done())):
                continue
            self.history.end(key)
            if state is not None and state.takeover_until <= self.clock():
                del self._chats[key]  # nothing left to remember about the chat; a takeover still running stays
            ended.append(key)
        if ended:
            log.info("ended %d idle session(s): %s", len(ended), ", ".join(ended))
        return ended

    def answer_pending(self, channel: Channel) -> list[str]:
        """After a restart: answer the channel's chats whose conversation ends on friends' words that asked for an
        answer and are recent enough (within the session gap), as if those words had just arrived."""
        prefix = f"{channel.name}:"
        recent = self.clock() - self.rules.session_gap_s
        keys = []
        for key in self.history.keys():
            conversation = self.history.conversation(key)
            if (not key.startswith(prefix) or conversation is None or not self.history.wants_answer(key)
                    or conversation.last < recent):
                continue
            state = self._chats.setdefault(key, _ChatState())
            if state.writer is not None or self._silenced(key, state):
                continue  # a new message got there first
            state.writer = channel.writer(key[len(prefix):], conversation.is_group)
            self._schedule(key, state)
            keys.append(key)
        if keys:
            log.info("answering %d chat(s) left unanswered before the restart: %s", len(keys), ", ".join(keys))
        return keys

    async def settle(self, key: str) -> None:
        """Wait until the chat has no answer pending or being sent (scripted console, tests)."""
        state = self._chats.get(key)
        while state is not None and state.timer is not None and not state.timer.done():
            await asyncio.gather(state.timer, return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel pending answers (a half-debounced burst is answered after the restart, from history)."""
        timers = [s.timer for s in self._chats.values() if s.timer is not None and not s.timer.done()]
        for t in timers:
            t.cancel()
        await asyncio.gather(*timers, return_exceptions=True)

    # ---- owner commands --------------------------------------------------------------------------------------

    def command(self, text: str) -> str:
        name, *args = text.split()
        name = name.split("@")[0]
        target = args[0] if args else None
        if name == "/pause":
            if target:
                self.paused.add(target)
                return f"paused in {target}"
            self.paused_all = True
            return "paused everywhere (/resume to answer again)"
        if name == "/resume":
            if target:
                self.paused.discard(target)
                return f"answering again in {target}"
            self.paused_all = False
            self.paused.clear()
            for state in self._chats.values():
                state.takeover_until = 0.0
            return "answering again everywhere"
        if name == "/forget":
            if not target:
                return "usage: /forget <chat> (one of: " + (", ".join(self.history.keys()) or "none") + ") or all"
            keys = self.history.keys() if target == "all" else [target]
            for k in keys:
                forgotten_state = self._chats.pop(k, None)
                if forgotten_state is not None and forgotten_state.timer is not None:
                    forgotten_state.timer.cancel()
            forgotten = [k for k in keys if self.history.forget(k)]
            return f"forgot {len(forgotten)} chat(s)" if forgotten else f"no history for {target}"
        return self.status()

    def status(self) -> str:
        now = self.clock()
        s = self.stats
        lines = [("PAUSED everywhere" if self.paused_all else "answering") +
                 (f"; paused in {', '.join(sorted(self.paused))}" if self.paused else ""),
                 f"messages {s.received}, replies {s.answered}, ignored {s.ignored}, rate-limited "
                 f"{s.rate_limited}, errors {s.errors}; ended conversations {self.history.ended()}"]
        for key in self.history.keys():
            chat = self.history.conversation(key)
            if chat is None:
                continue
            state = self._chats.get(key)
            took = state is not None and state.takeover_until > now
            lines.append(f"- {key} ({chat.chat_name}): {len(chat.turns)} turns, idle {int(now - chat.last)} s"
                         + (" — you took over" if took else ""))
        return "\n".join(lines)
