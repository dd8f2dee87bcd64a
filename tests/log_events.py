"""Waiting for a log record, for tests that must act once something was tried (no fixed sleeps)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator


class LogSeen(logging.Handler):
    """Sets ``seen`` when a record containing ``text`` is emitted (on the event loop's thread)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


@contextlib.contextmanager
def log_seen(logger: str, text: str) -> Iterator[asyncio.Event]:
    """An Event set once ``logger`` logs a record containing ``text``."""
    handler = LogSeen(text)
    logging.getLogger(logger).addHandler(handler)
    try:
        yield handler.seen
    finally:
        logging.getLogger(logger).removeHandler(handler)
