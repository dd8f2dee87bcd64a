"""Reading JSON exports without losing line numbers: array items streamed out of the whole-file text, each with the
line it starts on, and JSON-lines files read line by line. Shared by the JSON formats."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..sources import ExportError, ParseLog

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\r\n]*")
_KEY_CACHE: dict[str, re.Pattern[str]] = {}


def bad_json(path: Path, e: json.JSONDecodeError) -> ExportError:
    return ExportError(path, e.lineno, f"invalid JSON ({e.msg}, column {e.colno}); the export may be truncated")


def skip_ws(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]  # matches the empty string at worst


def value_at(text: str, pos: int, path: Path) -> tuple[Any, int]:
    """The JSON value starting at ``pos`` and the position after it; a syntax error names its line."""
    try:
        return _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as e:
        raise bad_json(path, e) from None


def find_key(text: str, key: str, start: int = 0, opens: str = "") -> int | None:
    """The position after ``"key":`` (and ``opens``, e.g. '[', if given) at or after ``start``.

    A key inside a string value has its quotes escaped, so an unescaped ``"key":`` is always a real key; callers
    pick keys that occur once in the document (top-level keys)."""
    cache_key = key + "\0" + opens
    pat = _KEY_CACHE.get(cache_key)
    if pat is None:
        pat = _KEY_CACHE[cache_key] = re.compile(rf'"{re.escape(key)}"\s*:\s*' + (re.escape(opens) if opens else ""))
    m = pat.search(text, start)
    return m.end() if m else None


def key_value(text: str, key: str, path: Path, start: int = 0) -> tuple[Any, int] | None:
    """(value, end position) of the first ``"key": value`` at or after ``start``; None if the key is absent."""
    pos = find_key(text, key, start)
    return None if pos is None else value_at(text, pos, path)


def array_items(text: str, start: int, path: Path, what: str = "messages") -> Iterator[tuple[int, Any]]:
    """(line, value) for each item of the JSON array whose '[' ends just before ``start``."""
    idx = skip_ws(text, start)
    if text.startswith("]", idx):
        return
    line, pos = 1 + text.count("\n", 0, idx), idx
    while True:
        obj, end = value_at(text, idx, path)
        line += text.count("\n", pos, idx)
        pos = idx
        yield line, obj
        idx = skip_ws(text, end)
        c = text[idx:idx + 1]
        if c == "]":
            return
        if c != ",":
            why = f'the file ends inside "{what}" (truncated export?)' if not c else \
                f"invalid JSON: expected ',' or ']' between {what}"
            raise ExportError(path, 1 + text.count("\n", 0, idx), why)
        idx = skip_ws(text, idx + 1)


def json_lines(path: Path, text: str, log: ParseLog, reason: str, comments: bool = False) -> Iterator[tuple[int, Any]]:
    """(line, value) of each line of a JSON-lines file. Blank lines (and ``#`` comment lines where the format has
    them) are not records; a line that is not JSON is skipped under ``reason``."""
    for i, raw in enumerate(text.split("\n"), 1):
        s = raw.strip()
        if not s or (comments and s.startswith("#")):
            continue
        try:
            yield i, json.loads(s)
        except (json.JSONDecodeError, RecursionError):  # a line nested too deeply is as unreadable as a broken one
            log.skip(path, i, reason)
