"""What a channel hands to the clone and what the clone hands back: the contract between `bot/channels/*` and
`bot/responder.py`.

A channel (Telegram, WeChat, console) turns each text message it receives into an :class:`Incoming` and passes
it, with a :class:`ChatWriter` bound to that chat, to the clone's ``on_message`` callback. The channel decides nothing
about *whether* to answer: allowlist, group rules, takeover, debouncing and rate limits live in the responder,
the same for every channel. The channel only reports facts (is it a group, was the clone mentioned, did the
account owner write it) and knows how to send text and show typing in its app.

Sending is all or nothing for the caller: :meth:`ChatWriter.send` returns once the app accepted the message, or raises
:class:`SendFailed`. A failure that can pass (a flood limit, a server error, a dropped connection, a reconnect in
progress) is retried by the channel with backoff, within a bounded number of attempts and time; one that cannot
(the user blocked the bot, the chat is gone, the request is refused) fails at once. So the responder records a
reply in the history only once ``send`` returned: what was never delivered was never said.
"""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Incoming:
    channel: str            # "telegram", "wechat", "console"
    chat_id: str            # the channel's id of the chat (private chat: usually the friend's id)
    chat_name: str          # group title or the friend's display name
    is_group: bool
    sender_id: str
    sender_name: str
    text: str
    addressed: bool = True  # private chat, or in a group: the clone was @mentioned or replied to
    by_owner: bool = False  # the account owner wrote it themself (WeChat: a self message from the phone)
    time: float = field(default_factory=time.time)

    @property
    def chat_key(self) -> str:
        return f"{self.channel}:{self.chat_id}"

    @property
    def sender_key(self) -> str:
        return f"{self.channel}:{self.sender_id}"


class SendFailed(Exception):
    """A message did not reach the chat: the channel gave up retrying, or the failure was one that retrying cannot
    mend. The message names the chat and the last error; ``__cause__`` is that error."""


class ChatWriter(Protocol):
    """Writes into one chat. A channel makes one per incoming message (in groups it may quote or @mention that
    message's sender), and one for a chat by id (:meth:`Channel.writer`)."""

    async def typing(self) -> None:
        """Show "typing…" where the app has it (a no-op elsewhere)."""

    async def send(self, text: str) -> None:
        """Send one chat message; returns once it was delivered. Raises :class:`SendFailed` (and nothing else but
        cancellation) when it was not, after the channel's bounded retries. A text too long for one message of the
        app is sent as several; if a later one fails, the earlier ones were delivered."""


OnMessage = Callable[[Incoming, ChatWriter], Awaitable[None]]


class Channel(Protocol):
    name: str

    async def run(self, on_message: OnMessage) -> None:
        """Connect, deliver every text message to ``on_message`` and reconnect with backoff when the service
        drops. Returns only when cancelled (then disconnects cleanly). ``on_message`` returns quickly; an
        exception from it is logged and never stops the channel."""

    def writer(self, chat_id: str, is_group: bool) -> ChatWriter:
        """A writer into the chat ``chat_id`` (an Incoming's), without quoting or mentioning anyone: to answer,
        after a restart, what was left unanswered. Its sends wait for the channel to connect, within the send
        retry bounds."""
