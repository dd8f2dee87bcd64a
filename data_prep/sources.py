"""Reading export files: encoding detection, line numbering, and the skip/error log every parser reports to."""
from __future__ import annotations

import codecs
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# Invisible direction marks some exporters (WhatsApp, Telegram) sprinkle into text.
_INVISIBLE = re.compile("[\ufeff\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NBSP = re.compile("[\u202f\u00a0]")


class ExportError(Exception):
    """A problem in an export file, located as precisely as the format allows."""

    def __init__(self, path: Path | str, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


@dataclass
class Skip:
    path: str
    line: int | None
    reason: str


@dataclass
class ParseLog:
    """What parsers did not turn into messages. Nothing is dropped without a line here."""

    skips: list[Skip] = field(default_factory=list)
    errors: list[ExportError] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # path -> format name
    keep_examples: int = 20  # per reason; counts are always complete
    counts: Counter = field(default_factory=Counter)

    def skip(self, path: Path | str, line: int | None, reason: str) -> None:
        self.counts[reason] += 1
        if self.counts[reason] <= self.keep_examples:
            self.skips.append(Skip(str(path), line, reason))

    def error(self, err: ExportError) -> None:
        self.errors.append(err)


def decode(data: bytes, path: Path | str = "<bytes>") -> tuple[str, str]:
    """Decode export bytes: BOMs first, then strict UTF-8, then GB18030 (a superset of GBK/GB2312).

    UTF-8 is tried before any guessing because WeChat exports that users call "garbled" are usually valid UTF-8.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return data.decode("utf-16"), "utf-16"
    if len(data) >= 4 and data[1] == 0 and data[3] == 0 and data[0] != 0:
        return data.decode("utf-16-le"), "utf-16-le"  # BOM-less UTF-16 from some Windows tools
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_err:
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            line = data[: utf8_err.start].count(b"\n") + 1
            raise ExportError(path, line, "not valid UTF-8, UTF-16 or GB18030 text; re-export as UTF-8") from None


def read_text(path: Path) -> str:
    """The whole file as text with invisible marks removed and line ends normalised to \\n."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ExportError(path, None, f"cannot read: {e.strerror}") from None
    if not data.strip():
        raise ExportError(path, None, "file is empty")
    text, _ = decode(data, path)
    return normalise(text.replace("\r\n", "\n").replace("\r", "\n"))


_INVISIBLE_CHARS = "\ufeff\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def normalise(text: str) -> str:
    # `in` is a fast substring search; a regex scan of a 300 MB export costs seconds even when nothing matches.
    if any(c in text for c in _INVISIBLE_CHARS):
        text = _INVISIBLE.sub("", text)
    if "\u202f" in text or "\u00a0" in text:
        text = _NBSP.sub(" ", text)
    return text


def head(path: Path, size: int = 8192) -> str:
    """The start of a file, decoded leniently, for format sniffing."""
    try:
        with open(path, "rb") as f:
            data = f.read(size)
    except OSError:
        return ""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return data[len(bom):].decode(enc, errors="ignore")
    if len(data) >= 4 and data[1] == 0 and data[3] == 0 and data[0] != 0:
        return data.decode("utf-16-le", errors="ignore")
    text = data.decode("utf-8", errors="replace")
    if text.count("\ufffd") <= 1:  # one for a character cut at the read boundary
        return normalise(text)
    return normalise(data.decode("gb18030", errors="ignore"))


def first_line(text: str) -> str:
    """The first non-blank line, stripped: what most sniffers and header checks look at."""
    for line in text.split("\n", 20):
        line = line.strip().lstrip("\ufeff")
        if line:
            return line
    return ""
