"""Seeded fuzzing of every export parser over the fixtures in tests/fixtures/<format>/ (found at run time, so a format
added later is fuzzed as soon as it has fixtures).

Each mutant — truncation, byte flips, invalid UTF-8/UTF-16, re-encodings, wrong CSV field counts, bad JSON escapes,
deep nesting, huge lines, NUL bytes, empty and near-empty files — must come out of ``read_all``, ``inspect`` and
``build`` without an exception, and the messages the damage did not touch must still be there, unchanged, or be
counted as skipped: a parser that glues a broken header onto the previous message, re-decodes a whole file because of
one byte, or drops a file without a word fails here.

``python tests/test_fuzz.py --per-format 250 [--root CHECKOUT]`` runs the same mutator at a larger scale and counts
exceptions and broken expectations (against another checkout's data_prep with ``--root``).
"""
from __future__ import annotations

import bisect
import codecs
import contextlib
import io
import random
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[1]
SEED = 1729
PER_FILE = 14  # mutants per fixture file in CI: every mutator once, ~2,000 exports in about ten seconds
DEEP = 100_000  # nesting depth of the deep-JSON mutants: far past the recursion limit
HUGE = 300_000  # characters in a huge line

Reader = Callable[..., Iterator]


# --- the mutator -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mutant:
    what: str
    original: bytes        # the file the damage is measured against (a re-encoded copy for encoding mutants)
    data: bytes
    lines: tuple[int, int] | None = None  # original lines the damage touches; None: nothing is damaged
    cut: int | None = None                # truncation: bytes of `original` that survive as whole lines


class _Layout:
    """Where the lines of an export's bytes start, whatever its encoding (UTF-16 newlines are two bytes)."""

    def __init__(self, data: bytes):
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            self.unit, self.le = 2, data.startswith(codecs.BOM_UTF16_LE)
        elif len(data) >= 4 and data[1::2].count(0) > len(data) // 8 > data[0::2].count(0):
            self.unit, self.le = 2, True
        elif len(data) >= 4 and data[0::2].count(0) > len(data) // 8 > data[1::2].count(0):
            self.unit, self.le = 2, False
        else:
            self.unit, self.le = 1, True
        nl = b"\n" if self.unit == 1 else (b"\n\x00" if self.le else b"\x00\n")
        self.newlines = [i for i in _find_all(data, nl) if i % self.unit == 0]

    def line(self, pos: int) -> int:
        """1-based line of the byte at `pos`."""
        return bisect.bisect_right(self.newlines, self.align(pos) - 1) + 1

    def is_newline(self, pos: int) -> bool:
        i = bisect.bisect_left(self.newlines, pos - self.unit + 1)
        return i < len(self.newlines) and self.newlines[i] <= pos

    def line_start(self, pos: int) -> int:
        """Start of the line holding `pos` (the byte after the previous newline)."""
        i = bisect.bisect_right(self.newlines, pos - 1)
        return self.newlines[i - 1] + self.unit if i else 0

    def align(self, pos: int) -> int:
        return pos - pos % self.unit


def _find_all(data: bytes, sub: bytes) -> Iterator[int]:
    i = data.find(sub)
    while i >= 0:
        yield i
        i = data.find(sub, i + 1)


def _damage(data: bytes, layout: _Layout, start: int, end: int, new: bytes = b"") -> tuple[int, int]:
    """Original lines touched by changing bytes [start, end) into ``new`` (an insertion when start == end).

    A newline or a blank line among them also touches the next line: the record structure of most formats hangs on
    line breaks and separator lines, so the message after them may legitimately merge or split. A new line break
    touches the line before: the first half of a split header reads like a continuation of the message before it.
    """
    first, last = layout.line(start), layout.line(max(start, end - 1))
    if (start == end and start and layout.is_newline(start - 1)) or b"\n" in new or b"\r" in new:
        first = max(1, first - 1)  # the line before may absorb what is now on a line of its own
    if any(layout.is_newline(p) for p in range(start, max(end, start + 1))):
        last += 1
    while last <= len(layout.newlines) and _blank(data, layout, last):
        last += 1  # a blank separator line touched: the line after it too
    return first, last


def _blank(data: bytes, layout: _Layout, line: int) -> bool:
    start = layout.newlines[line - 2] + layout.unit if line > 1 else 0
    end = layout.newlines[line - 1] if line - 1 < len(layout.newlines) else len(data)
    return not data[start:end].replace(b"\x00", b"").strip()


def _text_of(data: bytes) -> tuple[str, str] | None:
    """The text and its encoding, for mutants that re-encode a file; None if it is not clean text."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                     (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(enc), enc
            except UnicodeDecodeError:
                return None
    for enc in ("utf-8", "gb18030"):
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            pass
    return None


def _insert(what: str, data: bytes, rng: random.Random, piece: bytes, at_line_start: bool = False) -> Mutant:
    layout = _Layout(data)
    pos = layout.align(rng.randrange(len(data) + 1)) if data else 0
    if at_line_start:
        pos = layout.line_start(pos)
    return Mutant(what, data, data[:pos] + piece + data[pos:], _damage(data, layout, pos, pos, piece))


def _truncate(data: bytes, rng: random.Random) -> Mutant:
    layout = _Layout(data)
    k = rng.randrange(len(data)) if data else 0
    return Mutant(f"truncated at byte {k}", data, data[:k], cut=layout.line_start(k))


def _flip(data: bytes, rng: random.Random) -> Mutant:
    if not data:
        return Mutant("empty", data, data, cut=0)
    k = rng.randrange(len(data))
    new = bytes([data[k] ^ rng.randrange(1, 256)])
    return Mutant(f"byte {k} {data[k]:#04x}->{new[0]:#04x}", data, data[:k] + new + data[k + 1:],
                  _damage(data, _Layout(data), k, k + 1, new))


_BAD_UTF8 = (b"\xff", b"\xc3", b"\xe4\xb8", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80\x80", b"\xc0\xaf")


def _bad_utf8(data: bytes, rng: random.Random) -> Mutant:
    piece = rng.choice(_BAD_UTF8)
    if _Layout(data).unit == 2:
        piece = piece.ljust(2, b"\x00")[:2]
    return _insert(f"invalid UTF-8 {piece!r}", data, rng, piece)


def _bom_cut(data: bytes, rng: random.Random) -> Mutant:
    """A BOM-marked copy cut mid-character: every 留痕 CSV has a BOM, and copies get interrupted."""
    decoded = _text_of(data)
    if decoded is None:
        return _flip(data, rng)
    text = decoded[0].lstrip("\ufeff")
    original = codecs.BOM_UTF8 + text.encode("utf-8")
    multi = [i for i, c in enumerate(original) if c >= 0xC0]  # starts of multi-byte characters
    if not multi:
        return _insert("BOM file with a stray byte", original, rng, b"\xb5")
    k = rng.choice(multi) + 1
    return Mutant(f"UTF-8 BOM copy cut mid-character at byte {k}", original, original[:k],
                  cut=_Layout(original).line_start(k))


def _utf16(data: bytes, rng: random.Random) -> Mutant:
    """UTF-16 with or without BOM, LE or BE, then an odd byte count or a lone surrogate (or nothing wrong at all:
    BOM-less UTF-16 starting with a CJK character must read like the original)."""
    decoded = _text_of(data)
    if decoded is None:
        return _flip(data, rng)
    text = decoded[0].lstrip("\ufeff")
    enc, bom = rng.choice((("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE),
                           ("utf-16-le", b"")))
    original = bom + text.encode(enc)
    how = rng.randrange(3)
    if how == 0:
        return Mutant(f"{enc} bom={bool(bom)} clean", original, original)
    if how == 1:
        k = rng.randrange(len(original) + 1) | 1  # odd: cuts a code unit in half
        k = min(k, len(original) - 1) if original else 0
        return Mutant(f"{enc} bom={bool(bom)} odd length {k}", original, original[:k],
                      cut=_Layout(original).line_start(k))
    lone = "\ud800".encode(enc, "surrogatepass")
    return _insert(f"{enc} bom={bool(bom)} lone surrogate", original, rng, lone)


def _reencode(data: bytes, rng: random.Random) -> Mutant:
    decoded = _text_of(data)
    if decoded is None:
        return _flip(data, rng)
    text, enc = decoded
    target = "utf-8" if enc != "utf-8" else "gb18030"
    try:
        return Mutant(f"re-encoded as {target}", data, text.lstrip("\ufeff").encode(target))
    except UnicodeEncodeError:
        return _flip(data, rng)


def _stray_byte(data: bytes, rng: random.Random) -> Mutant:
    """One byte that is not UTF-8 in an otherwise UTF-8 file: it must not re-decode the whole file."""
    decoded = _text_of(data)
    if decoded is None or decoded[1] != "utf-8":
        return _flip(data, rng)
    return _insert("stray byte", data, rng, rng.choice((b"\xb5", b"\xe9", b"\x93", b"\xa1")))


def _fields(data: bytes, rng: random.Random) -> Mutant:
    """A delimiter added or removed in one line (CSV field counts; separators in other formats)."""
    layout = _Layout(data)
    if layout.unit == 2 or not data:
        return _flip(data, rng)
    delim = rng.choice((b",", b"\t", b";")) if b"," not in data else b","
    found = list(_find_all(data, delim))
    if found and rng.random() < 0.5:
        k = rng.choice(found)
        return Mutant("field removed", data, data[:k] + data[k + 1:], _damage(data, layout, k, k + 1))
    return _insert("field added", data, rng, delim * rng.randrange(1, 4))


_ESCAPES = (b"\\ud800", b"\\udfff", b"\\ud83d", b"\\x0c", b"\\u12", b"\\q", b"\\")


def _escape(data: bytes, rng: random.Random) -> Mutant:
    """A JSON escape that is invalid, or valid but a lone surrogate, inside a string value."""
    layout = _Layout(data)
    if layout.unit == 2:
        return _flip(data, rng)
    strings = list(_find_all(data, b'": "'))
    if not strings:
        return _insert("bad escape", data, rng, rng.choice(_ESCAPES))
    k = rng.choice(strings) + 4
    piece = rng.choice(_ESCAPES)
    return Mutant(f"escape {piece!r}", data, data[:k] + piece + data[k:], _damage(data, layout, k, k))


def _deep(data: bytes, rng: random.Random) -> Mutant:
    """Very deep nesting: as a JSON value, as a line of its own, or as the whole file."""
    layout = _Layout(data)
    deep = b"[" * DEEP + b"]" * DEEP
    values = list(_find_all(data, b'": ')) if layout.unit == 1 else []
    how = rng.randrange(3)
    if how == 0 and values:
        k = rng.choice(values) + 3
        return Mutant("deep value", data, data[:k] + deep + b"," + data[k:], _damage(data, layout, k, k))
    if how == 1:
        line = b'{"chat": "x", "sender": "y", "time": 1, "is_me": true, "text": "t", "z": ' + deep + b"}\n"
        return _insert("deep line", data, rng, line if layout.unit == 1 else line.decode().encode("utf-16-le"),
                       at_line_start=True)
    return Mutant("deep file", data, b'{"a": ' + deep + b"}", cut=0)


def _huge(data: bytes, rng: random.Random) -> Mutant:
    piece = rng.choice((b"x", "好".encode(), b"9")) * (HUGE // 3) + b"\n"
    if _Layout(data).unit == 2:
        piece = piece.decode().encode("utf-16-le")
    return _insert("huge line", data, rng, piece, at_line_start=True)


def _nul(data: bytes, rng: random.Random) -> Mutant:
    n = rng.choice((1, 2, 16)) if _Layout(data).unit == 1 else 2
    return _insert(f"{n} NUL bytes", data, rng, b"\x00" * n)


_WHOLE = (b"", b"{}", b"[]", b"null", b"\xef\xbb\xbf", b"\xff\xfe", b"\n\n \n", b"\x00" * 64, b"\xef\xbb\xbf{}")


def _whole(data: bytes, rng: random.Random) -> Mutant:
    piece = rng.choice(_WHOLE)
    return Mutant(f"whole file {piece[:8]!r}", data, piece, cut=0)


MUTATORS = (_truncate, _flip, _flip, _bad_utf8, _bom_cut, _utf16, _reencode, _stray_byte, _fields, _escape, _deep,
            _huge, _nul, _whole)


def mutants(data: bytes, rng: random.Random, n: int) -> list[Mutant]:
    """n mutants of one export: every mutator in turn, starting at a random one."""
    start = rng.randrange(len(MUTATORS))
    return [MUTATORS[(start + i) % len(MUTATORS)](data, rng) for i in range(n)]


# --- seeds -----------------------------------------------------------------------------------------------------
def seeds() -> list[tuple[str, Path]]:
    """(format, file) for every fixture under tests/fixtures/<format>/ of a format the registry knows."""
    from data_prep.formats import by_name

    out = []
    for folder in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        try:
            by_name(folder.name)
        except ValueError:
            continue
        out += [(folder.name, f) for f in sorted(folder.rglob("*")) if f.is_file()]
    return out


# --- checking one mutant ---------------------------------------------------------------------------------------
@dataclass
class Outcome:
    messages: list
    skips: int
    errors: list
    escaped: BaseException | None


def read(path: Path, fmt: str | None, reader: Reader | None = None) -> Outcome:
    from data_prep.formats import read_all
    from data_prep.sources import ParseLog

    log = ParseLog()
    msgs: list = []
    try:
        for m in (reader or read_all)([path], log, frozenset(), fmt):
            msgs.append(m)
    except Exception as e:  # what the fuzzer looks for
        return Outcome(msgs, sum(log.counts.values()), log.errors, e)
    return Outcome(msgs, sum(log.counts.values()), log.errors, None)


def _line(msg) -> int | None:
    tail = msg.source.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def expectation(path: Path, fmt: str, m: Mutant, reader: Reader | None = None) -> tuple[int, Counter]:
    """How many messages the mutant must still yield or count as skipped, and the texts that must come out unchanged.

    Truncation: the complete lines before the cut, parsed on their own. Other damage: every message whose lines the
    damage does not touch, plus one for the touched ones together (read, or counted as skipped).
    """
    if m.cut is not None:
        path.write_bytes(m.original[:m.cut])
        got = read(path, fmt, reader).messages
        last = max((_line(x) or 0 for x in got), default=0)
        return len(got), Counter(x.text for x in got if (_line(x) or 0) < last)
    path.write_bytes(m.original)
    got = read(path, fmt, reader).messages
    if m.lines is None:
        return len(got), Counter(x.text for x in got)
    starts = sorted({_line(x) for x in got if _line(x) is not None})
    first, last = m.lines
    bare = _bare_starts(m.original, got)
    if any(first <= s <= last for s in bare):
        # A damaged bare line (a notice, a quote) cannot be told from a continuation line: the message before it
        # may take it in, so that message counts as touched too.
        i = bisect.bisect_left(starts, min(s for s in bare if first <= s <= last))
        first = min(first, starts[i - 1]) if i else first
    untouched = []
    for x in got:
        s = _line(x)
        if s is None:
            continue
        i = bisect.bisect_right(starts, s)
        end = starts[i] - 1 if i < len(starts) else float("inf")
        if end < first or s > last:
            untouched.append(x)
    touched = len(got) - len(untouched)
    return len(untouched) + (1 if touched else 0), Counter(x.text for x in untouched)


def _short(e: BaseException) -> str:
    return f"{type(e).__name__}({str(e)[:160]!r})"


def _bare_starts(original: bytes, messages: list) -> set[int]:
    """Start lines of messages that have no header of their own: no digit on the line (no time), or the whole
    line is the message's text."""
    decoded = _text_of(original)
    if decoded is None:
        return set()
    lines = decoded[0].replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out = set()
    for x in messages:
        s = _line(x)
        if s is not None and s <= len(lines):
            line = lines[s - 1].strip().lstrip("\ufeff")
            if line == x.text.strip() or not any(c.isdigit() for c in line):
                out.add(s)
    return out


def problems(path: Path, fmt: str, m: Mutant, reader: Reader | None = None) -> list[str]:
    """What is wrong with how the parsers treat mutant `m` written at `path` (format `fmt`); [] if nothing."""
    want, texts = expectation(path, fmt, m, reader)
    path.write_bytes(m.data)
    out: list[str] = []
    auto = read(path, None, reader)
    if auto.escaped is not None:
        out.append(f"read_all (format sniffed) raised {_short(auto.escaped)}")
    got = read(path, fmt, reader)
    if got.escaped is not None:
        out.append(f"read_all raised {_short(got.escaped)}")
        return out
    if got.errors:
        return out  # reported as unreadable, with its location: nothing silent
    if not got.messages and not got.skips:
        path.write_bytes(m.original)
        if read(path, fmt, reader).messages:
            out.append("nothing read and nothing reported")
        path.write_bytes(m.data)
    if len(got.messages) + got.skips < want:
        out.append(f"{want} messages expected, {len(got.messages)} read + {got.skips} skipped")
    missing = texts - Counter(x.text for x in got.messages)
    if sum(missing.values()) > got.skips:  # an untouched message may be skipped (counted), never changed unseen
        out.append(f"untouched messages changed or lost: {list(missing)[:3]!r}")
    return out


# --- the tests -------------------------------------------------------------------------------------------------
import pytest  # noqa: E402  (the scale run above needs no pytest)

SEEDS = seeds() if __name__ != "__main__" else []


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A copy of the fixtures: mutants are written over their seed, so companions (manifest.json, users.json,
    account index.txt) stay beside them."""
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(FIXTURES, root / "fixtures")
    return root / "fixtures"


def _run_seed(workspace: Path, fmt: str, seed: Path, n: int, rng: random.Random,
              reader: Reader | None = None) -> list[str]:
    path = workspace / seed.relative_to(FIXTURES)
    original = seed.read_bytes()
    found = []
    try:
        for m in mutants(original, rng, n):
            found += [f"{seed.relative_to(FIXTURES)} [{m.what}]: {p}" for p in problems(path, fmt, m, reader)]
    finally:
        path.write_bytes(original)
    return found


@pytest.mark.parametrize("fmt", sorted({f for f, _ in SEEDS}))
def test_mutated_exports(workspace: Path, fmt: str) -> None:
    rng = random.Random(f"{SEED}:{fmt}")
    found = []
    for f, seed in SEEDS:
        if f == fmt:
            found += _run_seed(workspace, fmt, seed, PER_FILE, rng)
    assert not found, "\n".join(found[:20])


def _batch(workspace: Path, out: Path) -> list[Path]:
    """One mutant of each kind that used to crash a run, plus a seeded mix, as files in a fresh folder."""
    rng = random.Random(SEED)
    out.mkdir()
    batch = []
    for n, (fmt, seed) in enumerate(SEEDS):
        data = seed.read_bytes()
        m = MUTATORS[n % len(MUTATORS)](data, rng)
        f = out / f"{n:03d}_{fmt}{seed.suffix}"
        f.write_bytes(m.data)
        batch.append(f)
    chats = (FIXTURES / "neutral" / "chats.jsonl").read_text(encoding="utf-8")
    specials = {
        "surrogate.jsonl": chats.replace('"did you eat?"', '"did you \\ud800eat?"').encode(),
        "deep.jsonl": b"[" * DEEP + b"]" * DEEP + b"\n" + chats.encode(),
        "bom_cut.csv": (FIXTURES / "liuhen/per_contact/Zhang_San/Zhang_San_utf8.csv").read_bytes()[:133],
        "odd_utf16.txt": b"\xff\xfe" + (FIXTURES / "whatsapp/WhatsApp Chat with Bob.txt").read_text(
            encoding="utf-8").encode("utf-16-le")[:-1],
        "deep.json": b'{"chatInfo": {"name": "x"}, "messages": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        "empty.json": b"{}",
    }
    for name, data in specials.items():
        (out / name).write_bytes(data)
        batch.append(out / name)
    return batch


def test_inspect_survives_mutants(workspace: Path, tmp_path: Path) -> None:
    batch = _batch(workspace, tmp_path / "in")
    assert inspect_escape(tmp_path / "in") is None
    for f in batch[-6:]:
        assert inspect_escape(f) is None, f.name


def test_build_survives_mutants_and_reports_them(workspace: Path, tmp_path: Path) -> None:
    _batch(workspace, tmp_path / "in")
    shutil.copy(FIXTURES / "neutral" / "chats.jsonl", tmp_path / "in" / "good.jsonl")  # the owner's replies
    assert build_escape([tmp_path / "in"], tmp_path / "out") is None
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "## Files that could not be read" in report and "nested too deeply" in report
    assert "surrogate.jsonl:1: 2 character(s) could not be decoded" in report  # its text and a quote
    assert "bom_cut.csv:" in report and "odd_utf16.txt:" in report
    rows = (tmp_path / "out" / "train.jsonl").read_text(encoding="utf-8") + \
        (tmp_path / "out" / "dev.jsonl").read_text(encoding="utf-8")
    assert "\ud800" not in rows


def _build_cfg(inputs: list[Path], out: Path):
    from core.config import load

    return load(overrides={"dataset.out_dir": str(out), "dataset.inputs": [str(p) for p in inputs],
                           "persona.names": ["Me"]})


def test_failed_build_leaves_previous_outputs(tmp_path: Path, monkeypatch) -> None:
    from data_prep import report
    from data_prep.build import OUTPUTS, build

    good = FIXTURES / "neutral" / "chats.jsonl"
    out = tmp_path / "out"
    build(_build_cfg([good], out), progress=False)
    before = {n: (out / n).read_bytes() for n in OUTPUTS}

    def broken(r, folder):  # fails after train/dev/profile are written
        raise OSError("disk full")

    monkeypatch.setattr(report, "write_report", broken)
    with pytest.raises(OSError, match="disk full"):
        build(_build_cfg([good, FIXTURES / "neutral" / "chats.csv"], out), progress=False)
    assert {n: (out / n).read_bytes() for n in OUTPUTS} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no half-written folder left behind


def test_build_keeps_other_files_in_the_output_folder(tmp_path: Path) -> None:
    from data_prep.build import OUTPUTS, build

    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    (out / "train.jsonl").write_text("stale", encoding="utf-8")
    build(_build_cfg([FIXTURES / "neutral" / "chats.jsonl"], out), progress=False)
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (out / "train.jsonl").read_text(encoding="utf-8") != "stale"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert {p.name for p in out.iterdir()} == {*OUTPUTS, "notes.txt"}


def test_report_does_not_import_build() -> None:
    import subprocess

    code = "import sys, data_prep.report; sys.exit('data_prep.build' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


@pytest.mark.parametrize("rel", ["neutral/chats.jsonl", "qqnt/chunked/chunks/c000001.jsonl"])
def test_deep_json_line_is_one_counted_skip(workspace: Path, rel: str) -> None:
    path = workspace / rel
    original = path.read_bytes()
    first, rest = original.split(b"\n", 1)
    try:
        want = len(read(path, None).messages)
        base = read(path, None).skips
        path.write_bytes(first + b"\n" + b"[" * DEEP + b"]" * DEEP + b"\n" + rest)
        got = read(path, None)
        assert (len(got.messages), got.skips - base, got.errors, got.escaped) == (want, 1, [], None)
    finally:
        path.write_bytes(original)


# --- negative controls: the checks above would see an escape or a silent loss ---------------------------------
def _fake(parse) -> object:
    from data_prep.formats import SimpleFormat

    return SimpleFormat("fake", lambda path, head: True, parse)


def _one_message(path: Path):
    from datetime import datetime

    from data_prep.records import Kind, Message

    return Message("c", "c", False, "a", False, datetime(2024, 1, 1), Kind.TEXT, "hi", source=f"{path}:7")


@pytest.mark.parametrize("error", [ValueError("boom"), RecursionError(), UnicodeDecodeError("utf-8", b"x", 0, 1, "bad"),
                                   KeyError("k")])
def test_control_raising_parser_is_reported_not_raised(tmp_path: Path, monkeypatch, error: Exception) -> None:
    from data_prep import formats

    def parse(path, log, me):
        yield _one_message(path)
        raise error

    bad, other = tmp_path / "a.txt", tmp_path / "b.txt"
    bad.write_text("x", encoding="utf-8")
    other.write_text("y", encoding="utf-8")
    monkeypatch.setattr(formats, "by_name", lambda name: _fake(parse))
    got = read(tmp_path, "fake")
    assert got.escaped is None
    assert len(got.messages) == 2  # the second file is still read
    assert [(e.path, e.line) for e in got.errors] == [(str(bad), 7), (str(other), 7)]


def test_control_checker_catches_an_escape(tmp_path: Path, monkeypatch) -> None:
    from data_prep import formats
    from data_prep.sources import ExportError

    def naive_read_all(paths, log, me, fmt_name=None):  # how read_all was: only ExportError caught
        for path, fmt in formats.discover(paths, log, fmt_name):
            try:
                yield from fmt.parse(path, log, me)
            except ExportError as e:
                log.error(e)

    def parse(path, log, me):
        path.read_bytes().decode("utf-8")  # strict, like the old BOM path
        yield _one_message(path)

    monkeypatch.setattr(formats, "by_name", lambda name: _fake(parse))
    path = tmp_path / "x.txt"
    m = Mutant("cut", b"ok \xe4\xbd\xa0", b"ok \xe4", cut=0)
    assert any("raised UnicodeDecodeError" in p for p in problems(path, "fake", m, naive_read_all))
    assert not problems(path, "fake", m)  # the real read_all reports it instead


def test_control_checker_catches_glued_and_dropped_messages(workspace: Path, monkeypatch) -> None:
    from data_prep import formats
    from data_prep.formats import whatsapp

    def gluing(path, log, me):  # drops every message whose header is damaged, gluing nothing and counting nothing
        text = path.read_text(encoding="utf-8", errors="replace").split("\n")
        for m in whatsapp.parse(path, log, me):
            if m.text in text[int(m.source.rsplit(":", 1)[1]) - 1]:
                yield m
        log.counts.clear()

    monkeypatch.setattr(formats, "by_name", lambda name: _fake(gluing))
    seed = FIXTURES / "whatsapp" / "WhatsApp Chat with Team.txt"
    path = workspace / seed.relative_to(FIXTURES)
    data = seed.read_bytes()
    k = data.index(b"6:33")  # the header of "hey all"
    m = Mutant("flip", data, data[:k] + b"x" + data[k + 1:], _damage(data, _Layout(data), k, k + 1))
    try:
        assert any("expected" in p for p in problems(path, "fake", m))
    finally:
        path.write_bytes(data)


def test_control_checker_catches_a_whole_file_redecoded(workspace: Path, monkeypatch) -> None:
    from data_prep import sources

    def old_decode(data: bytes):  # how decoding was: any invalid UTF-8 switched the whole file to GB18030
        try:
            return data.decode("utf-8"), sources.Decoding("utf-8")
        except UnicodeDecodeError:
            return data.decode("gb18030", errors="replace"), sources.Decoding("gb18030")

    seed = FIXTURES / "whatsapp" / "WhatsApp Chat - Family" / "_chat.txt"  # “Family” is not ASCII
    path = workspace / seed.relative_to(FIXTURES)
    data = seed.read_bytes()
    m = Mutant("stray byte at the end", data, data + b"\xb5x\n", _damage(data, _Layout(data), len(data), len(data)))
    try:
        assert not problems(path, "whatsapp", m)
        monkeypatch.setattr(sources, "decode", old_decode)
        assert any("changed or lost" in p for p in problems(path, "whatsapp", m))
    finally:
        path.write_bytes(data)


# --- scale run -------------------------------------------------------------------------------------------------
def inspect_escape(path: Path) -> BaseException | None:
    """Run `python -m data_prep inspect PATH` in process, printing to a UTF-8 byte stream like a real stdout."""
    from data_prep.__main__ import _inspect

    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            _inspect([path], frozenset(), None)
            out.flush()
    except Exception as e:
        return e
    return None


def build_escape(inputs: list[Path], out_dir: Path) -> BaseException | None:
    """Run the dataset build on `inputs`; a DatasetError (nothing usable, said clearly) is not an escape."""
    from core.config import load
    from data_prep.build import DatasetError, build

    cfg = load(overrides={"dataset.out_dir": str(out_dir), "dataset.inputs": [str(p) for p in inputs],
                          "persona.names": ["Me"]})
    try:
        build(cfg, progress=False)
    except DatasetError:
        return None
    except Exception as e:
        return e
    return None


def _scale(per_format: int, seed: int) -> None:
    import tempfile

    counts: Counter = Counter()
    kinds: Counter = Counter()
    examples: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "fixtures"
        shutil.copytree(FIXTURES, work)
        owner = work / "neutral" / "chats.jsonl"  # gives every build messages of the owner to write out
        by_fmt: dict[str, list[Path]] = {}
        for fmt, f in seeds():
            by_fmt.setdefault(fmt, []).append(f)
        for fmt, files in by_fmt.items():
            rng = random.Random(f"{seed}:{fmt}")
            for i in range(per_format):
                seed_file = files[i % len(files)]
                path = work / seed_file.relative_to(FIXTURES)
                original = seed_file.read_bytes()
                m = mutants(original, rng, 1)[0]
                counts["mutants"] += 1
                try:
                    ps = problems(path, fmt, m)  # leaves the mutant at `path`
                    raised = [p for p in ps if "raised" in p]
                    counts[fmt, "read_all exception"] += bool(raised)
                    counts[fmt, "silent loss"] += bool(ps) and not raised
                    examples += [f"{seed_file.relative_to(FIXTURES)} [{m.what}]: {p}" for p in ps[:1]]
                    for p in raised[:1]:
                        kinds[p.split("raised ", 1)[1].split("(", 1)[0]] += 1
                    counts[fmt, "inspect exception"] += inspect_escape(path) is not None
                    e = build_escape([path, owner] if path != owner else [path], Path(tmp) / "out")
                    counts[fmt, "build exception"] += e is not None
                finally:
                    path.write_bytes(original)
    print(f"{counts.pop('mutants')} mutated exports ({per_format} per format)")
    for (fmt, what), n in sorted(counts.items()):
        if n:
            print(f"  {fmt:16} {what:20} {n}")
    for what in ("read_all exception", "inspect exception", "build exception", "silent loss"):
        print(f"total {what}: {sum(n for (_, w), n in counts.items() if w == what)}")
    print("read_all exception types:", dict(kinds))
    print("\n".join(e[:300] for e in examples[:20]))


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-format", type=int, default=250)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--root", type=Path, default=ROOT, help="checkout whose data_prep is fuzzed")
    args = ap.parse_args()
    sys.path.insert(0, str(args.root.resolve()))
    _scale(args.per_format, args.seed)
