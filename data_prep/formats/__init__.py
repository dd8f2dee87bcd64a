"""Export formats. Each module exposes a `FORMAT` object; the registry picks one per file by sniffing content.

A format module provides:
- ``name``: short id used by ``--format`` and in reports;
- ``sniff(path, head) -> bool``: True if the file's content (``head`` = its first ~8 KiB, decoded) is this format;
  extensions are only a hint;
- ``parse(path, log, me) -> Iterator[Message]``: messages in file order. Recoverable problems go to
  ``log.skip(path, line, reason)``; a file that cannot be read at all raises ``ExportError`` with file and line.
  ``me`` is the set of names/ids from ``--me``/config that identify the owner, for formats that do not mark the
  owner's own messages themselves (compare case-sensitively after strip()).
"""
from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..records import Message
from ..sources import ExportError, ParseLog, head, take_decodings


class Format(Protocol):
    name: str

    def sniff(self, path: Path, head: str) -> bool: ...

    def parse(self, path: Path, log: ParseLog, me: frozenset[str]) -> Iterator[Message]: ...


@dataclass(frozen=True)
class SimpleFormat:
    """A format made of two functions: most modules need nothing more."""

    name: str
    sniff: Callable[[Path, str], bool]
    parse: Callable[[Path, ParseLog, frozenset[str]], Iterator[Message]]


# The format table. Each module's sniffer says only whether a file looks like its own format; detect() asks them in
# this order and takes the first yes. Module name = format name.
_MODULES: tuple[str, ...] = (
    "wechatexporter", "qq", "liuhen", "pywxdump", "weflow", "ciphertalk", "echotrace", "chatlab", "chatlog", "qqnt",
    "telegram", "whatsapp", "neutral",
)

# Files two sniffers both accept: (winner, loser, why the file is the winner's). _check_table() enforces that every
# winner comes before its loser in _MODULES, so reordering the table cannot silently change who wins.
OVERLAPS: tuple[tuple[str, str, str], ...] = (
    ("qq", "liuhen", "QQ's txt message header `time name` is also 留痕's TXT header; only QQ writes a `(QQ号)` or "
                     "`<email>` after the name, or 消息分组/消息对象 blocks"),
    ("weflow", "echotrace", 'WeFlow\'s JSON has EchoTrace\'s "session" + "messages" shape; its "weflow" header is '
                            "WeFlow's"),
    ("ciphertalk", "echotrace", 'CipherTalk\'s 详细 JSON has the same shape; its "exportInfo" header is CipherTalk\'s'),
)


class FormatTableError(RuntimeError):
    """The format table names a module that is missing or does not match it: a broken install, never skipped."""


def all_formats() -> tuple[Format, ...]:
    """Every format, in sniffing order. A module listed in the table that cannot be imported is an error."""
    out = []
    for mod in _MODULES:
        try:
            fmt = importlib.import_module(f"{__name__}.{mod}").FORMAT
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{mod}":
                raise FormatTableError(f"format module data_prep/formats/{mod}.py is missing") from e
            raise
        if fmt.name != mod:
            raise FormatTableError(f"data_prep/formats/{mod}.py defines format {fmt.name!r}, expected {mod!r}")
        out.append(fmt)
    _check_table(_MODULES, OVERLAPS)
    return tuple(out)


def _check_table(order: tuple[str, ...], overlaps: tuple[tuple[str, str, str], ...]) -> None:
    for winner, loser, _ in overlaps:
        if winner not in order or loser not in order:
            raise FormatTableError(f"overlap {winner} > {loser} names a format missing from the table")
        if order.index(winner) > order.index(loser):
            raise FormatTableError(f"{winner} must be sniffed before {loser}")


def by_name(name: str) -> Format:
    for fmt in all_formats():
        if fmt.name == name:
            return fmt
    raise ValueError(f"unknown format {name!r}; known: {', '.join(f.name for f in all_formats())}")


def detect(path: Path) -> Format | None:
    start = head(path)
    if not start.strip():
        return None
    for fmt in all_formats():
        if fmt.sniff(path, start):
            return fmt
    return None


# Files inside export folders that are never chats (media, indexes, our own outputs).
_IGNORED_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".mp4", ".mp3", ".amr", ".silk", ".opus", ".ogg",
                     ".pdf", ".zip", ".html", ".js", ".css", ".db", ".md", ".log"}


def discover(paths: list[Path], log: ParseLog, fmt_name: str | None = None) -> list[tuple[Path, Format]]:
    """Expand folders and choose a format for each file. Unrecognised files are logged, never silently ignored."""
    files: list[Path] = []
    for p in paths:
        if not p.exists():
            log.error(ExportError(p, None, "path does not exist"))
        elif p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")))
        else:
            files.append(p)
    forced = by_name(fmt_name) if fmt_name else None
    chosen = []
    for f in files:
        if f.suffix.lower() in _IGNORED_SUFFIXES or f.name.upper().startswith(("LICENSE", "README")):
            continue
        try:
            fmt = forced or detect(f)
        except Exception as e:  # a sniffer choking on odd bytes loses this file, not the run
            log.error(ExportError(f, None, f"format detection failed: {type(e).__name__}: {e}"))
            continue
        if fmt is None:
            log.skip(f, None, "file: not a recognised chat export")
            continue
        chosen.append((f, fmt))
    return chosen


def read_all(paths: list[Path], log: ParseLog, me: frozenset[str], fmt_name: str | None = None) -> Iterator[Message]:
    """Every message of every export file under ``paths``. A broken file is logged with its location and skipped.

    No exception from a parser escapes: whatever stops one file becomes that file's error (at the last message read
    when the parser could not say where), and the other files are still read. Lone surrogates (JSON ``\\ud800``
    escapes) are replaced and counted here, so nothing downstream fails to encode a message.
    """
    for path, fmt in discover(paths, log, fmt_name):
        log.files[str(path)] = fmt.name
        last: Message | None = None
        check: bool | None = None  # whether this file's messages can hold lone surrogates
        take_decodings()  # drop what parses outside read_all left behind
        try:
            for last in fmt.parse(path, log, me):
                if check is None:
                    check = _collect_decodings(log, path)
                if check:
                    _replace_surrogates(last, log)
                yield last
        except ExportError as e:
            log.error(e)
        except RecursionError:
            where = " after this line" if last is not None else ""
            log.error(ExportError(path, _line(last), f"nested too deeply to read{where} (corrupted JSON?)"))
        except Exception as e:  # noqa: BLE001 - a parser bug or input it did not foresee; the run goes on
            where = "after this line" if last is not None else "before the first message"
            log.error(ExportError(path, _line(last), f"reading stopped {where}: {type(e).__name__}: {e}"))
        finally:
            _collect_decodings(log, path)


def _collect_decodings(log: ParseLog, path: Path) -> bool:
    """Move how the files just read were decoded into ``log``. Returns whether ``path``'s messages need the
    surrogate check: its text has \\uD8xx-style escapes, or the parser read it without read_text (unknown)."""
    for p, decoding in take_decodings().items():
        log.decoded(p, decoding)
    read = log.decodings.get(str(path))
    return read is None or read.escapes


def _line(msg: Message | None) -> int | None:
    tail = msg.source.rsplit(":", 1)[-1] if msg is not None else ""
    return int(tail) if tail.isdigit() else None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _replace_surrogates(m: Message, log: ParseLog) -> None:
    """Replace lone surrogates in a message's strings by U+FFFD, counted at the message's line."""
    for name in ("text", "quote", "sender", "chat_name", "chat_id", "sender_id"):
        value = getattr(m, name)
        if value and not value.isascii() and _SURROGATE.search(value):
            fixed, n = _SURROGATE.subn("\ufffd", value)
            setattr(m, name, fixed)
            log.replaced(m.source.rsplit(":", 1)[0] if _line(m) else m.source, _line(m), n)
