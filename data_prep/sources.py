"""Reading export files: encoding detection, line numbering, and the skip/error log every parser reports to."""
from __future__ import annotations

import codecs
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
class Decoding:
    """How one file's bytes became text: the encoding, and the characters that could not be decoded."""

    encoding: str
    replaced: int = 0               # undecodable bytes / lone surrogates, each now U+FFFD
    first_line: int | None = None   # line of the first of them
    escapes: bool = False           # the text holds \uD8xx-style escapes: JSON may decode them to lone surrogates


@dataclass
class ParseLog:
    """What parsers did not turn into messages. Nothing is dropped without a line here."""

    skips: list[Skip] = field(default_factory=list)
    errors: list[ExportError] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # path -> format name
    keep_examples: int = 20  # per reason; counts are always complete
    counts: Counter = field(default_factory=Counter)
    decodings: dict[str, Decoding] = field(default_factory=dict)  # path -> how its text was decoded

    def skip(self, path: Path | str, line: int | None, reason: str) -> None:
        self.counts[reason] += 1
        if self.counts[reason] <= self.keep_examples:
            self.skips.append(Skip(str(path), line, reason))

    def error(self, err: ExportError) -> None:
        self.errors.append(err)

    def decoded(self, path: Path | str, decoding: Decoding) -> None:
        self.decodings[str(path)] = decoding

    def replaced(self, path: Path | str, line: int | None, n: int = 1) -> None:
        """Count characters replaced after decoding (lone surrogates from JSON escapes)."""
        d = self.decodings.setdefault(str(path), Decoding(""))  # "": read without read_text, encoding unknown
        d.replaced += n
        if line is not None and (d.first_line is None or line < d.first_line):
            d.first_line = line

    def replaced_chars(self) -> dict[str, Decoding]:
        return {p: d for p, d in self.decodings.items() if d.replaced}

    def guessed_encodings(self) -> dict[str, str]:
        """Files decoded as something other than UTF-8/UTF-16: a guess the report must show."""
        return {p: d.encoding for p, d in self.decodings.items()
                if d.encoding and not d.encoding.startswith(("utf-8", "utf-16"))}

    def decoding_notes(self) -> list[str]:
        """One line per file whose text is not exactly its bytes: characters replaced, or an encoding guessed."""
        notes = [f"{p}:{d.first_line}: {d.replaced} character(s) could not be decoded and are now U+FFFD (the first "
                 "on this line)" if d.first_line else f"{p}: {d.replaced} character(s) replaced by U+FFFD"
                 for p, d in self.replaced_chars().items()]
        notes += [f"{p}: not UTF-8 or UTF-16, read as {enc}" for p, enc in self.guessed_encodings().items()]
        return notes


# --- decoding ----------------------------------------------------------------------------------------------------
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig", "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16-be"))
_SAMPLE = 1 << 16  # bytes looked at to choose an encoding
_NON_ASCII = re.compile("[^\x00-\x7f]")

_bad_offsets: list[int] = []  # filled by _note_bad during one decode; parsers run one file at a time


def _note_bad(err: UnicodeError) -> tuple[str, int]:
    _bad_offsets.append(err.start)  # type: ignore[attr-defined]
    return "\ufffd", err.end  # type: ignore[attr-defined]


codecs.register_error("chatclone-count", _note_bad)


def _lenient(data: bytes, codec: str) -> tuple[str, list[int]]:
    """``data`` decoded with each undecodable sequence as U+FFFD, and the byte offsets of those sequences."""
    _bad_offsets.clear()
    try:
        return data.decode(codec, errors="chatclone-count"), list(_bad_offsets)
    finally:
        _bad_offsets.clear()


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when NUL bytes sit on one side of the byte pairs, as ASCII, digits and newlines do
    in UTF-16; a CJK first character (no NUL) does not matter. Stray NULs in 8-bit text fall on both sides."""
    sample = data[:_SAMPLE]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    odd, even = sample[1::2].count(0), sample[0::2].count(0)
    need = max(2, pairs // 64)
    if odd >= need and even * 4 <= odd:
        return "utf-16-le"
    if even >= need and odd * 4 <= even:
        return "utf-16-be"
    return None


def _prefer_gb18030(data: bytes, first_bad: int) -> bool:
    """Whether bytes that are not UTF-8 from ``first_bad`` on are GB18030 (GBK/GB2312) text.

    Judged on a window: GB18030 only when invalid UTF-8 sequences outnumber valid multi-byte ones (before and after
    the first bad byte), there are at least two of them, and GB18030 decodes the window with far fewer errors.
    One stray byte in a UTF-8 file therefore stays one replaced character instead of re-decoding the whole file.
    """
    window = data[first_bad:first_bad + _SAMPLE]
    utf8, utf8_bad = _lenient(window, "utf-8")
    _, gb_bad = _lenient(window, "gb18030")
    before = data[max(0, first_bad - _SAMPLE):first_bad].decode("utf-8", errors="ignore")
    good = len(_NON_ASCII.findall(before)) + len(_NON_ASCII.findall(utf8)) - len(utf8_bad)
    return len(utf8_bad) >= 2 and len(utf8_bad) > good and len(gb_bad) * 4 < len(utf8_bad)


def decode(data: bytes) -> tuple[str, Decoding]:
    """Export bytes as text: a BOM first, then BOM-less UTF-16, then UTF-8, then GB18030 (a superset of GBK/GB2312).

    UTF-8 is tried before any guessing because WeChat exports that users call "garbled" are usually valid UTF-8.
    Nothing is rejected for a few bad bytes: each undecodable sequence becomes U+FFFD and is counted, with the line
    of the first, so the caller can report it.
    """
    codec: str | None = None
    name, body = "", data
    for bom, label, c in _BOMS:
        if data.startswith(bom):
            codec, name, body = c, label, data[len(bom):]
            break
    if codec is None:
        guess = _utf16_without_bom(data)
        if guess is None:
            try:
                return data.decode("utf-8"), Decoding("utf-8")
            except UnicodeDecodeError as e:
                guess = "gb18030" if _prefer_gb18030(data, e.start) else "utf-8"
        codec = name = guess
    text, bad = _lenient(body, codec)
    if not bad:
        return text, Decoding(name)
    before, _ = _lenient(body[:bad[0]], codec)
    return text, Decoding(name, len(bad), _line_count(before))


def _line_count(text: str) -> int:
    """The line the end of ``text`` is on, counting \\r\\n, \\n and lone \\r as read_text does."""
    return text.count("\n") + text.count("\r") - text.count("\r\n") + 1


_TEXT = re.compile("[^\\s\x00\ufeff]")
_decodings: dict[str, Decoding] = {}  # what read_text decoded since read_all last collected it


def take_decodings() -> dict[str, Decoding]:
    """How the files read since the last call were decoded (read_all moves this into its log after each file)."""
    out = dict(_decodings)
    _decodings.clear()
    return out


def read_text(path: Path) -> str:
    """The whole file as text with invisible marks removed and line ends normalised to \\n.

    How it was decoded (encoding, replaced characters) is kept for read_all to report: see take_decodings.
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ExportError(path, None, f"cannot read: {e.strerror}") from None
    if not data.strip():
        raise ExportError(path, None, "file is empty")
    text, decoding = decode(data)
    # JSON \uD800-style escapes are the only way to a lone surrogate; two substring scans cost almost nothing
    decoding.escapes = "\\ud" in text or "\\uD" in text
    _decodings[str(path)] = decoding
    if not _TEXT.search(text):  # only blanks, NULs or a BOM: nothing to read (a search, not a copy of the text)
        raise ExportError(path, None, "file is empty")
    return normalise(text.replace("\r\n", "\n").replace("\r", "\n"))


_INVISIBLE_CHARS = "\ufeff\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def numbered(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """The rows of a ``csv.reader`` with the line each starts on: a quoted field may span lines, and the reader's
    ``line_num`` is the line a record ends on."""
    end = reader.line_num
    for row in reader:
        line, end = end + 1, reader.line_num
        yield line, row


def normalise(text: str) -> str:
    # `in` is a fast substring search; a regex scan of a 300 MB export costs seconds even when nothing matches.
    if any(c in text for c in _INVISIBLE_CHARS):
        text = _INVISIBLE.sub("", text)
    if "\u202f" in text or "\u00a0" in text:
        text = _NBSP.sub(" ", text)
    return text


def head(path: Path, size: int = 8192) -> str:
    """The start of a file, decoded as read_text would decode the whole file, for format sniffing."""
    try:
        with open(path, "rb") as f:
            data = f.read(size)
    except OSError:
        return ""
    return normalise(decode(data)[0])


_REPAIRS = "0/.-:, []APM"  # characters a header is made of: a slip in one of them is undone by one of these
_SIX_DIGITS = re.compile(r"(?:\D*\d){6}")  # a date and a time keep at least this many digits after one slip


def near_header(line: str, header: re.Pattern[str], span: int = 32) -> bool:
    """Whether ``line`` is one slip away from matching ``header``: a run of up to 6 characters inserted, or one
    character changed or lost, within its first ``span`` characters (a flipped or stray byte, a cut character).

    Line formats use it to tell a damaged header, which starts a message that cannot be read and must be a counted
    skip, from a continuation line of the previous message. It is meant for headers that start with a date: lines
    with fewer than six digits up front are rejected at once, the others cost a few hundred matches.
    """
    if "\x00" in line[:span] or "\ufffd" in line[:span]:
        # NUL runs (a zeroed block) and undecodable bytes are damage however long: never part of a header
        line = line.replace("\x00", "").replace("\ufffd", "")
        if header.match(line):
            return True
    if not _SIX_DIGITS.match(line, 0, span):
        return False
    match = header.match
    for i in range(min(span, len(line))):
        head, tail = line[:i], line[i + 1:]
        for n in range(1, 7):
            if match(head + line[i + n:]):
                return True
        for c in _REPAIRS:
            if match(head + c + tail) or match(head + c + line[i:]):
                return True
    return False


def first_line(text: str) -> str:
    """The first non-blank line, stripped: what most sniffers and header checks look at."""
    for line in text.split("\n", 20):
        line = line.strip().lstrip("\ufeff")
        if line:
            return line
    return ""
