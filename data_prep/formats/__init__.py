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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from ..records import Message
from ..sources import ExportError, ParseLog, head


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


# Order matters: more specific sniffers first (e.g. PyWxDump CSV before the neutral CSV).
_MODULES = ["wechatexporter", "liuhen", "pywxdump", "qq", "qqnt", "telegram", "whatsapp", "neutral"]


def all_formats() -> list[Format]:
    out = []
    for mod in _MODULES:
        try:
            out.append(importlib.import_module(f"{__name__}.{mod}").FORMAT)
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{mod}":
                raise
    return out


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
        fmt = forced or detect(f)
        if fmt is None:
            log.skip(f, None, "file: not a recognised chat export")
            continue
        chosen.append((f, fmt))
    return chosen


def read_all(paths: list[Path], log: ParseLog, me: frozenset[str], fmt_name: str | None = None) -> Iterator[Message]:
    """Every message of every export file under ``paths``. A broken file is logged with its location and skipped."""
    for path, fmt in discover(paths, log, fmt_name):
        log.files[str(path)] = fmt.name
        try:
            yield from fmt.parse(path, log, me)
        except ExportError as e:
            log.error(e)
