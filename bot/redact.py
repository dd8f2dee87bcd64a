"""Secrets (bot tokens, puppet tokens) never reach a log line.

A log record factory scrubs every record of the process at creation (message and traceback), whatever logger
or handler emits it: httpx logs request URLs holding the Telegram token at INFO, wechaty logs its token at
WARNING and hpack the ``:authority`` header (the puppet token) at DEBUG. Logger filters would miss child
loggers, handler filters any handler added later.
"""
from __future__ import annotations

import logging
import traceback
from typing import Any

_SECRETS: set[str] = set()
_REDACTED = "[REDACTED]"


def redact_in_logs(secret: str) -> None:
    """Replace ``secret`` in every log record created from now on in this process (idempotent)."""
    if not _SECRETS:
        make_record = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            _redact(record)
            return record

        logging.setLogRecordFactory(factory)
    _SECRETS.add(secret)


def _scrub(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, _REDACTED)
    return text


def _redact(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # bad args: logging reports that itself when the record is emitted
        return
    if (clean := _scrub(message)) != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None:
        formatted = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if (clean := _scrub(formatted)) != formatted:
            record.exc_text = clean  # what a Formatter prints instead of formatting exc_info again
