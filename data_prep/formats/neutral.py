"""The neutral chat format: JSONL (one object a line) or CSV (header row). See docs/neutral-format.md.

It is the door for every exporter we do not read natively (convert to it), and it reads back the JSON lines the
``inspect`` command prints, so a parsed and hand-edited export round-trips.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Literal, overload

from ..records import Kind, Message
from ..sources import ExportError, ParseLog, read_text
from . import SimpleFormat

REQUIRED = ("chat", "sender", "time", "text", "is_me")
OPTIONAL = ("is_group", "kind", "quote", "chat_id", "sender_id")
_JSONL_KEYS = ("chat", "sender", "time", "text")  # enough to recognise a JSON line as ours
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
# Exact spellings seen in practice, looked up before the lenient (strip + lower) path. 1/0 also match True/False.
_BOOLS: dict[object, bool] = {True: True, False: False, "true": True, "false": False, "True": True,
                              "False": False, "1": True, "0": False, "yes": True, "no": False}
_KINDS = {k.value: k for k in Kind}
_NUMBER = re.compile(r"\s*[-+]?\d+(?:\.\d*)?\s*")
_MS_THRESHOLD = 1e11  # no chat happened after the year 5138: larger epoch numbers are milliseconds
_DELIMITERS = (",", "\t", ";")  # comma; tab for Excel's "Unicode text"; semicolon for European-locale Excel
_CHUNK = 4096  # JSON lines decoded per json.loads call


class BadRow(ValueError):
    """A row that cannot become a message; its message is the (short, stable) skip reason."""


# --- sniffing -------------------------------------------------------------------------------------------------
def _first_line(text: str) -> tuple[str, bool]:
    """The first non-empty line, stripped, and whether it is complete (a newline follows it in ``text``)."""
    pos = 0
    while pos < len(text):
        end = text.find("\n", pos)
        line = text[pos:] if end < 0 else text[pos:end]
        if line.strip():
            return line.strip(), end >= 0
        if end < 0:
            break
        pos = end + 1
    return "", True


def _jsonl_keys_present(line: str, complete: bool) -> bool:
    if complete:
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            return False
        return isinstance(obj, dict) and all(k in obj for k in _JSONL_KEYS)
    # A first line longer than the sniffed head: look for the keys in what we have.
    return all(re.search(rf'"{k}"\s*:', line) for k in _JSONL_KEYS)


def csv_delimiter(header: str) -> str | None:
    """The delimiter that makes ``header`` a neutral CSV header, if any."""
    for delim in _DELIMITERS:
        names = {n.strip().strip('"').strip().lower() for n in header.split(delim)}
        if all(k in names for k in REQUIRED):
            return delim
    return None


def sniff(path: Path, head: str) -> bool:
    line, complete = _first_line(head)
    if line.startswith("{"):
        return _jsonl_keys_present(line, complete)
    return csv_delimiter(line) is not None


# --- field conversion (the lenient paths; to_message inlines the common cases) -----------------------------------
def to_bool(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
    if value is None or value == "":
        raise BadRow(f"neutral: missing {field}")
    raise BadRow(f"neutral: bad {field}")


def to_time(value: object) -> datetime:
    """ISO 8601 (naive = local time as written; with an offset → local naive) or unix seconds (ms if huge)."""
    if value is None or value == "":
        raise BadRow("neutral: missing time")
    try:
        if isinstance(value, str) and not _NUMBER.fullmatch(value):
            dt = datetime.fromisoformat(value.strip())
            return dt if dt.tzinfo is None else dt.astimezone().replace(tzinfo=None)
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            ts = float(value)
            return datetime.fromtimestamp(ts / 1000 if abs(ts) >= _MS_THRESHOLD else ts)
    except (ValueError, OverflowError, OSError):
        pass
    raise BadRow("neutral: bad time")


@overload
def to_str(value: object, field: str, required: Literal[True] = True) -> str: ...
@overload
def to_str(value: object, field: str, required: bool) -> str | None: ...
def to_str(value: object, field: str, required: bool = True) -> str | None:
    """Strings as they are; numbers (ids written without quotes) as text; empty → missing (None if optional)."""
    if value is None or value == "":
        if required:
            raise BadRow(f"neutral: missing {field}")
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise BadRow(f"neutral: bad {field}")


def to_kind(value: object) -> Kind:
    if value is None or value == "":
        return Kind.TEXT
    kind = _KINDS.get(value.strip().lower()) if isinstance(value, str) else None
    if kind is None:
        raise BadRow("neutral: bad kind")
    return kind


def to_message(row: dict, source: str) -> tuple[Message, bool]:
    """A message from one row's fields, and whether its is_group was given (else it is inferred later).

    Runs once per row of files with millions of rows, so the usual types are checked inline and anything else
    takes the lenient helpers above (which also produce the skip reason).
    """
    get = row.get
    chat = get("chat")
    if type(chat) is not str or not chat:
        chat = to_str(chat, "chat")
    sender = get("sender")
    if type(sender) is not str:  # "" is a sender the export did not name (a notice, an unattributed quote reply),
        sender = to_str(sender, "sender")  # as every parser gives it; cleaning drops it unless it is yours
    value = get("time")
    time = None
    if type(value) is str and value[4:5] == "-":  # ISO date; numbers never have "-" there
        try:
            time = datetime.fromisoformat(value)
        except ValueError:
            pass
    if time is None or time.tzinfo is not None:
        time = to_time(value)
    text = get("text")
    if type(text) is not str:  # "" is a valid text (a photo without caption); a missing one is not
        text = to_str(text, "text")
    value = get("is_me")
    by_owner = _BOOLS.get(value) if type(value) in (bool, str, int) else None
    if by_owner is None:
        by_owner = to_bool(value, "is_me")
    value = get("is_group")
    has_group = value is not None and value != ""
    is_group = False
    if has_group:
        given = _BOOLS.get(value) if type(value) in (bool, str, int) else None
        is_group = to_bool(value, "is_group") if given is None else given
    value = get("kind")
    kind = Kind.TEXT if value is None else _KINDS[value] if type(value) is str and value in _KINDS else to_kind(value)
    value = get("chat_id")
    chat_id = value if type(value) is str and value else to_str(value, "chat_id", False) or chat
    value = get("quote")
    quote = value if type(value) is str and value else to_str(value, "quote", False)
    value = get("sender_id")
    sender_id = value if type(value) is str and value else to_str(value, "sender_id", False)
    return Message(chat_id, chat, is_group, sender, by_owner, time, kind, text, quote, sender_id, source), has_group


_FIELDS = REQUIRED + OPTIONAL


def misspelt(names: Iterable[str]) -> tuple[str, str] | None:
    """(name, field) for a column or key that is not a field but close to a missing one (``knd`` for ``kind``).
    Unknown names are ignored by design, so a misspelt ``kind`` would silently make every photo a text message."""
    names = list(names)
    missing = [f for f in _FIELDS if f not in names]
    for name in names:
        if name not in _FIELDS:
            for f in missing:
                if _edits(name, f) <= (1 if len(f) <= 5 else 2):
                    return name, f
    return None


def _edits(a: str, b: str) -> int:
    """Edit distance counting a swap of neighbours as one edit (``knid`` → ``kind``)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                d = min(d, prev2[j - 2] + 1)
            cur.append(d)
        prev2, prev = prev, cur
    return prev[-1]


# --- rows -----------------------------------------------------------------------------------------------------
def jsonl_rows(text: str) -> Iterator[tuple[int, object]]:
    """(line number, decoded value or BadRow) for every non-blank line.

    Lines are decoded a chunk at a time as one JSON array, which is several times faster than one json.loads per
    line; a chunk that does not decode cleanly (a bad or blank line in it) is redone line by line.
    """
    lines = text.rstrip().split("\n")  # no empty last line to spoil the last chunk
    loads = json.loads
    for base in range(0, len(lines), _CHUNK):
        chunk = lines[base:base + _CHUNK]
        try:
            values = loads("[" + ",".join(chunk) + "]")
        except (ValueError, RecursionError):
            values = None
        if values is not None and len(values) == len(chunk):
            yield from zip(range(base + 1, base + len(chunk) + 1), values, strict=True)
            continue
        for n, line in enumerate(chunk, base + 1):
            if not line.strip():
                continue
            try:
                yield n, loads(line)
            except ValueError:
                yield n, BadRow("neutral: invalid JSON line")
            except RecursionError:
                yield n, BadRow("neutral: JSON line nested too deeply")


def csv_rows(path: Path, text: str) -> Iterator[tuple[int, object]]:
    body = text.lstrip("\n")
    offset = len(text) - len(body)  # blank lines before the header
    delim = csv_delimiter(body.split("\n", 1)[0])
    if delim is None:
        raise ExportError(path, offset + 1, f"CSV header lacks one of the columns {', '.join(REQUIRED)}")
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=delim)
    header = [h.strip().lower() for h in next(reader)]
    slip = misspelt(header)
    if slip:
        raise ExportError(path, offset + 1, f"CSV header column {slip[0]!r} looks like a misspelt {slip[1]!r}; "
                                            "rename it (other columns are ignored, and this one would be)")
    need = max(header.index(k) for k in REQUIRED) + 1
    prev_end = reader.line_num
    try:
        for row in reader:
            start, prev_end = prev_end + 1 + offset, reader.line_num  # line_num is where the record ends
            if len(row) >= need:
                yield start, dict(zip(header, row, strict=False))
            elif row and (len(row) > 1 or row[0].strip()):  # blank lines are not rows
                yield start, BadRow("neutral: too few columns")
    except csv.Error as e:  # only raised for malformed quoting at the end of the file
        raise ExportError(path, prev_end + 1 + offset, f"CSV: {e}") from None


# --- parsing --------------------------------------------------------------------------------------------------
def parse(path: Path, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    """Messages in file order. is_me is a required column, so ``me`` is not needed."""
    text = read_text(path)
    line, _ = _first_line(text)
    rows = jsonl_rows(text) if line.startswith("{") else csv_rows(path, text)
    yield from _messages(path, log, rows)


def _messages(path: Path, log: ParseLog, rows: Iterable[tuple[int, object]]) -> Iterator[Message]:
    """Rows → messages in file order.

    Streams while every row states is_group; from the first row that does not, holds the rest back until the
    end of the file, because "more than two distinct senders" needs the whole chat.
    Bad rows are only reported once the file has one good row: a file with none is an error, not N skips.
    """
    pending: list[tuple[int, str]] = []  # skips held until the first good row
    good = False
    key_sets: dict[tuple, str | None] = {}  # a row's keys -> the skip reason a misspelt one gives, None if fine
    held: list[tuple[Message, bool]] = []
    chat_senders: set[tuple[str, str]] = set()
    prefix = f"{path}:"
    for n, row in rows:
        try:
            if type(row) is not dict:
                raise row if isinstance(row, BadRow) else BadRow("neutral: line is not an object")
            keys = tuple(row)
            slip = key_sets.get(keys, False)
            if slip is False:
                found = misspelt(keys)
                slip = key_sets[keys] = (f"neutral: key {found[0]!r} looks like a misspelt {found[1]!r}" if found
                                         else None)
            if slip:
                raise BadRow(slip)
            msg, has_group = to_message(row, f"{prefix}{n}")
        except BadRow as e:
            if good:
                log.skip(path, n, str(e))
            else:
                pending.append((n, str(e)))
            continue
        if not good:
            good = True
            for pn, reason in pending:
                log.skip(path, pn, reason)
        if msg.sender_id or msg.sender:  # nobody in particular is not one more person in the chat
            chat_senders.add((msg.chat_id, msg.sender_id or msg.sender))
        if held or not has_group:
            held.append((msg, has_group))
        else:
            yield msg
    if not good:
        if pending:
            n, reason = pending[0]
            raise ExportError(path, n, f"no valid rows; first problem: {reason}")
        raise ExportError(path, None, "no message rows")
    if held:
        counts: dict[str, int] = {}
        for chat_id, _ in chat_senders:
            counts[chat_id] = counts.get(chat_id, 0) + 1
        for msg, has_group in held:
            if not has_group:
                msg.is_group = counts.get(msg.chat_id, 0) > 2
            yield msg


FORMAT = SimpleFormat("neutral", sniff, parse)
