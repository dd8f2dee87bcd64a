"""Retrying a send, the same way for every channel: a failure that can pass is retried with exponential backoff
(or after the wait the service asked for), within a bounded number of attempts and a bounded total time; then, or
at once for a failure that cannot pass, :class:`bot.chat.SendFailed`."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.chat import SendFailed

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SendRetry:
    attempts: int = 6  # tries in all, the first included (at least 1)
    initial_s: float = 1.0  # first backoff; doubles after each failure
    max_s: float = 30.0  # longest backoff
    # A reply that cannot be delivered within this is given up: by then it answers a conversation that moved on,
    # and the responder should not hold the chat for it.
    budget_s: float = 120.0


# What a failed attempt means: None = retrying cannot help; 0 = retry after the backoff; > 0 = the service asked
# to wait this many seconds.
Classify = Callable[[Exception], float | None]


async def send_with_retry(attempt: Callable[[], Awaitable[T]], classify: Classify, policy: SendRetry,
                          what: str) -> T:
    """``attempt()``'s result, retried as ``classify`` and ``policy`` allow; otherwise SendFailed("<what> failed
    ...") from the last error. Cancellation is never caught."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    backoff = policy.initial_s
    n = 0
    while True:
        n += 1
        try:
            return await attempt()
        except Exception as exc:  # noqa: BLE001 - the contract: send raises SendFailed, whatever went wrong
            error = f"{type(exc).__name__}: {exc}"
            wait = classify(exc)
            if wait is None:
                raise SendFailed(f"{what} failed: {error}") from exc
            wait = wait or backoff
            if n == policy.attempts or loop.time() - started + wait > policy.budget_s:
                raise SendFailed(f"{what} failed after {n} attempt(s) in {loop.time() - started:.1f} s: "
                                 f"{error}") from exc
            log.warning("%s failed (%s); attempt %d of %d in %.3g s", what, error, n + 1, policy.attempts, wait)
            await asyncio.sleep(wait)
            backoff = min(backoff * 2, policy.max_s)
