"""Small helpers the format tests share."""
from __future__ import annotations

from pathlib import Path

from data_prep.sources import ParseLog


def run_format(fmt, path: Path, me: frozenset[str] = frozenset()):
    """All messages a format parses from ``path``, and its log."""
    log = ParseLog()
    return list(fmt.FORMAT.parse(path, log, me)), log


def lines(msgs) -> list[int]:
    return [int(m.source.rsplit(":", 1)[1]) for m in msgs]


def skips(log: ParseLog) -> list[tuple[int | None, str]]:
    return [(s.line, s.reason) for s in log.skips]
