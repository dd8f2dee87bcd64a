"""Mask personal data with typed placeholders, so the model learns "a phone number goes here", not the number.

One regex finds candidates (web and mail addresses, WeChat ids, dotted quads, runs of digits with the separators
people type); numbers are then told apart by structure (ID check digit and birth date, Luhn and card prefix, mobile
prefix, area code) and by the words right before them ("QQ", "座机", "订单号"). Word lists and number tables live
in pii_words.toml.
"""
from __future__ import annotations

import re
import tomllib
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

PLACEHOLDER = {
    "url": "<URL>", "email": "<EMAIL>", "id_card": "<ID>", "bank_card": "<CARD>", "phone": "<PHONE>",
    "landline": "<LANDLINE>", "ip": "<IP>", "qq": "<QQ>", "wechat_id": "<WXID>",
}

Span = tuple[int, int, str]  # start, end, type

_WORDS = tomllib.loads(Path(__file__).with_name("pii_words.toml").read_text(encoding="utf-8"))
_NUM = _WORDS["numbers"]
_MOBILE_PREFIXES = frozenset(_NUM["mobile_prefixes"])
_PROVINCES = frozenset(_NUM["id_provinces"])
_CARD_PREFIXES = {int(n): tuple(p) for n, p in _NUM["card_prefixes"].items()}

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_TODAY = date.today()


# ---------------------------------------------------------------------------------------------- checksums, shapes
def _valid_date(y: int, m: int, d: int) -> bool:
    try:
        return date(1900, 1, 1) <= date(y, m, d) <= _TODAY
    except ValueError:
        return False


def id_card_valid(s: str) -> bool:
    """An 18-character ID number: province, birth date and check character (GB 11643) all right."""
    if len(s) != 18 or not s[:17].isdigit() or s[:2] not in _PROVINCES:
        return False
    if not _valid_date(int(s[6:10]), int(s[10:12]), int(s[12:14])):
        return False
    total = sum(int(c) * w for c, w in zip(s[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == s[17].upper()


def _old_id_valid(s: str) -> bool:
    """A 15-digit ID number (issued before 1999): province and a 19YYMMDD birth date; it has no check digit."""
    return len(s) == 15 and s[:2] in _PROVINCES and _valid_date(1900 + int(s[6:8]), int(s[8:10]), int(s[10:12]))


def _id_shaped(s: str) -> bool:
    """18 digits that read as an ID number but for the check digit: a mistyped ID, not a card."""
    return s[:2] in _PROVINCES and _valid_date(int(s[6:10]), int(s[10:12]), int(s[12:14]))


def luhn_valid(s: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(s)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(d: str) -> bool:
    prefixes = _CARD_PREFIXES.get(len(d))
    return prefixes is not None and d.isdigit() and d.startswith(prefixes) and luhn_valid(d) and \
        not (len(d) == 18 and _id_shaped(d))


def _mobile(d: str) -> bool:
    return len(d) == 11 and d[:3] in _MOBILE_PREFIXES


def _landline(d: str) -> bool:
    """Area code (010, 02x, or 0 + three digits from 3xx to 9xx) and a 7-8 digit local number starting 2-8."""
    local = d[3:] if d[:2] in ("01", "02") else d[4:]
    return d[:1] == "0" and d[1:2] != "0" and 7 <= len(local) <= 8 and local[0] in "2345678" and \
        (d[:3] == "010" or d[1] != "1")


def _area_code(d: str) -> bool:
    return d == "010" or (len(d) == 3 and d[:2] == "02") or (len(d) == 4 and d[0] == "0" and d[1] in "3456789")


def _looks_like_date(d: str) -> bool:
    return len(d) == 8 and d[:2] in ("19", "20") and _valid_date(int(d[:4]), int(d[4:6]), int(d[6:8]))


# ---------------------------------------------------------------------------------------------- context words
def _alternation(words: list[str]) -> str:
    """Longest first, so that a regex alternation prefers "微信号" to "微信"."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


class _Context:
    """The nearest of some words before a position, within its clause and with no digit in between."""

    _STOPS = frozenset("，。！？；;!?\n,0123456789０１２３４５６７８９")

    def __init__(self, groups: dict[str, list[str]], width: int = 24):
        self._kind = {w.lower(): kind for kind, ws in groups.items() for w in ws}
        # a look-ahead finds, at every position, the longest word starting there (overlaps included)
        self._find = re.compile(f"(?=({_alternation(list(self._kind))}))")
        self._width = width

    def clause(self, text: str, end: int) -> str:
        w = text[max(0, end - self._width):end]
        for i in range(len(w) - 1, -1, -1):
            if w[i] in self._STOPS:
                return w[i + 1:].lower()
        return w.lower()

    def nearest(self, clause: str) -> tuple[str | None, int]:
        """(kind, chars between the word and the end of the clause) of the word that ends last; (None, -1).
        On the same end the longer word wins; an ASCII word must not be part of a longer ASCII word."""
        best_end, best_len, best_word = -1, 0, ""
        for m in self._find.finditer(clause):
            word = m.group(1)
            start, end = m.start(), m.start() + len(word)
            if word.isascii() and (_ascii_letter(clause, start - 1) or _ascii_letter(clause, end)):
                continue
            if (end, len(word)) > (best_end, best_len):
                best_end, best_len, best_word = end, len(word), word
        if not best_word:
            return None, -1
        kind = self._kind[best_word]
        if kind == "generic":
            # "QQ号码", "order number": the word right before "number" says which number
            head = clause[:best_end - best_len].rstrip()
            before, gap = self.nearest(head) if head else (None, -1)
            kind = before if before is not None and gap == 0 and before != "generic" else "phone"
        return kind, len(clause) - best_end


def _ascii_letter(s: str, i: int) -> bool:
    return 0 <= i < len(s) and s[i].isascii() and s[i].isalpha()


_CTX = _WORDS["context"]
_NUMBER_CONTEXT = _Context({k: _CTX[k] for k in ("phone", "generic", "mobile", "qq", "qq_glued", "wechat",
                                                  "not_personal")})
_HONG_KONG = _Context({"hk": _CTX["hong_kong"]})
_IP_CONTEXT = _Context({"version": _WORDS["ip"]["version"], "address": _WORDS["ip"]["address"]}, width=16)
_VERSION_AFTER = tuple(w.lower() for w in _WORDS["ip"]["version_after"])
_PHONE_WORDS = ("phone", "mobile")


def _hong_kong(clause: str) -> bool:
    return _HONG_KONG.nearest(clause)[0] is not None


# ---------------------------------------------------------------------------------------------- numbers
_FULLWIDTH = str.maketrans("０１２３４５６７８９＋（）", "0123456789+()")


@dataclass
class _Chunk:
    start: int      # offsets in the text
    end: int
    digits: str     # ASCII digits (an ID's final X kept)
    sep: str        # what stands between this chunk and the previous one
    paren: bool     # written as "(027)"


_CHUNK = re.compile(r"\(\+?(\d{1,4})\)|(\d+[Xx]?)")


def _chunks(text: str, start: int, end: int) -> list[_Chunk]:
    token = text[start:end]
    if token.isascii() and token.isdigit():  # the common case: one plain run of digits
        return [_Chunk(start, end, token, "", False)]
    token = token.translate(_FULLWIDTH)
    out, prev = [], None
    for m in _CHUNK.finditer(token):
        sep = token[prev:m.start()] if prev is not None else ""
        out.append(_Chunk(start + m.start(), start + m.end(), (m.group(1) or m.group(2)).upper(), sep,
                          m.group(1) is not None))
        prev = m.end()
    return out


def _international(d: str) -> str | None:
    """Digits after + or 00: mainland numbers by their shape, any other country's number is a phone."""
    if d.startswith("86"):
        rest = d[2:]
        if _mobile(rest) or (rest[:1] == "0" and _mobile(rest[1:])):  # +86 (0)138...: a stray trunk 0
            return "phone"
        return "landline" if _landline(rest if rest.startswith("0") else "0" + rest) else None
    return "phone" if 7 <= len(d) <= 15 else None


def _nanp(chunks: list[_Chunk]) -> bool:
    """US/Canada (415) 555-0132 or 415-555-0132; toll-free 800-style and mainland 400 numbers are businesses."""
    area = chunks[0].digits
    if [len(c.digits) for c in chunks] != [3, 3, 4] or area[0] in "01" or area == "400" or \
            (area[0] == "8" and area[1] == area[2]):
        return False
    return chunks[0].paren or all(c.sep.strip() in ("-", "－") for c in chunks[1:])


def _classify(chunks: list[_Chunk], plus: bool, ctx: str | None, clause: str, first: bool) -> str | None:
    d = "".join(c.digits for c in chunks)
    if ctx == "not_personal":
        return None
    if d.endswith("X"):
        return "id_card" if id_card_valid(d) else None
    if plus:
        return _international(d)
    if first and len(d) > 9 and d.startswith("00") and d[2] != "0":
        return _international(d[2:])
    if any("." in c.sep or "．" in c.sep for c in chunks):
        return "phone" if _mobile(d) else None  # 138.1234.5678; other dotted numbers are decimals or versions
    if ctx == "qq" or (ctx == "qq_glued" and len(chunks) == 1):
        if 5 <= len(d) <= 11 and d[0] != "0":
            return "qq"
    if (len(d) == 18 and id_card_valid(d)) or (len(d) == 15 and _old_id_valid(d)):
        return "id_card"
    if _card(d):
        return "bank_card"
    if (_mobile(d) or (len(d) == 13 and d.startswith("86") and _mobile(d[2:]))) and \
            (len(chunks[0].digits) > 1 or all(len(c.digits) == 1 for c in chunks)):
        return "phone"  # 138 1234 5678, 1 3 8 1 2 ..., but not 1-800-123-4567
    if ctx == "wechat":
        return None
    phone_ctx = ctx in _PHONE_WORDS
    if _landline(d) and (chunks[0].paren or phone_ctx or (len(chunks) > 1 and _area_code(chunks[0].digits))):
        return "landline"
    # UK mobiles, written 07700 900123 (a mainland number 07xx-... has a local part starting 2-8: caught above)
    if len(d) == 11 and d.startswith("07") and ((len(chunks) == 2 and len(chunks[0].digits) == 5) or phone_ctx):
        return "phone"
    if _nanp(chunks):
        return "phone"
    # a local number without area code only after a phone word
    if phone_ctx and first and 7 <= len(d) <= 8 and not _looks_like_date(d):
        if len(d) == 8 and (d[0] == "9" or (d[0] in "56" and (ctx == "mobile" or _hong_kong(clause)))):
            return "phone"
        if d[0] in "2345678":
            return "landline"
    return None


_STRONG = frozenset({"phone", "id_card", "bank_card"})


def _number_spans(text: str, start: int, end: int) -> list[Span]:
    chunks = _chunks(text, start, end)
    if not chunks:
        return []
    # "+86 …", "(+86)138…"
    plus = text[start] in "+＋" or (chunks[0].paren and text[chunks[0].start + 1] in "+＋")
    clause = _NUMBER_CONTEXT.clause(text, start)
    ctx, gap = _NUMBER_CONTEXT.nearest(clause)
    if ctx == "qq_glued" and clause[len(clause) - gap:].strip(":：") != "":
        ctx = None  # "q" counts only right before the number
    kind = _classify(chunks, plus, ctx, clause, True)
    if kind or ctx == "not_personal":
        return [(start, chunks[-1].end, kind)] if kind else []
    # two numbers written next to each other ("13711112222 13733334444"): the longest known number from each
    # chunk on; away from the start only numbers that prove themselves (mobile prefix, check digit, Luhn), or an
    # area-code landline right after a number already found ("138 1234 5678 0755-2345 6789")
    found: list[Span] = []
    i, n = 0, len(chunks)
    while i < n:
        for j in range(n - 1 if i == 0 else n, i, -1):
            kind = _classify(chunks[i:j], plus and i == 0, ctx if i == 0 else None, clause, i == 0)
            follows = i > 0 and bool(found) and found[-1][1] == chunks[i - 1].end
            if kind and (i == 0 or kind in _STRONG or (kind == "landline" and follows)):
                found.append((start if i == 0 else chunks[i].start, chunks[j - 1].end, kind))
                i = j
                break
        else:
            i += 1
    return found


# ---------------------------------------------------------------------------------------------- the scanner
_WX = _WORDS["wechat"]
_WX_STRONG = frozenset(w.lower() for w in _WX["strong"])
_URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
_URL_END = r"[A-Za-z0-9\-_~/#=&+%$*@]"
_D = "[0-9０-９]"
_SEP = r"(?:[ \u3000]{1,2}|[-－.．]| ?[-－] ?)"

# Every alternative starts with an ASCII character, a full-width digit, ＋, （ or a WeChat word: checking that first
# lets the engine pass over the Chinese text between candidates without trying each alternative there.
_FIRST = "".join(sorted({w[0] for w in _WX["strong"] + _WX["weak"]} - set(map(chr, range(128)))))
_PATTERN = re.compile(
    rf"(?=[\x00-\x7f０-９＋（{re.escape(_FIRST)}])"
    rf"(?:(?P<url>(?i:https?://|www\.){_URL_CHARS}*{_URL_END})"
    r"|(?P<email>(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
    rf"|(?P<domain>(?<![A-Za-z0-9.@_-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
    rf"(?:{_alternation(_WORDS['url']['tlds'])})(?![A-Za-z0-9-])(?::\d{{2,5}})?(?:/(?:{_URL_CHARS}*{_URL_END})?)?)"
    r"|(?P<wxid>(?<![A-Za-z0-9_])wxid_[A-Za-z0-9_-]{4,})"
    rf"|(?P<wechat>(?:(?<![A-Za-z])(?P<wx_lead>(?i:{_alternation(_WX['strong'] + _WX['weak'])}))"
    rf"|(?<![\x00-\x7f])(?P<wx_glued>(?i:{_alternation(_WX['glued'])}))(?=[:：\s]|(?![xX])[A-Za-z]))"
    rf"(?P<wx_gap>(?:\s|(?i:{_alternation(_WX['filler'])}))*)"
    r"(?P<wx_id>[A-Za-z][A-Za-z0-9_-]{5,19})(?![A-Za-z0-9_-]|[.@][A-Za-z0-9]))"
    r"|(?P<ip>(?<![0-9.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?![0-9]|\.[0-9]))"
    # digits in groups joined by single separators, maybe a leading + or 00 and an "(area code)"
    rf"|(?P<number>(?:[+＋] ?|(?<![0-9０-９.．]))(?:{_D}+|[(（][+＋]?{_D}{{1,4}}[)）])"
    rf"(?:{_SEP}?(?:{_D}+|[(（][+＋]?{_D}{{1,4}}[)）]))*(?:[Xx](?![A-Za-z]))?))"
)

# Cheap pre-check on the lower-cased text: nearly all chat messages have none of these, so the scanner above never
# runs on them. Plain alternatives without IGNORECASE or a leading look-behind let the engine skip ahead fast.
_QUICK = re.compile(
    r"[0-9０-９](?:[^0-9０-９]{0,2}[0-9０-９]){4}|[0-9]\.[0-9]+\.[0-9]+\.[0-9]|@|://|www\.|\.[a-z]{2}"
    rf"|v(?<![\x00-\x7f]v)|{_alternation([w.lower() for w in _WX['strong'] + _WX['weak']])}"
)


def _wechat_span(m: re.Match) -> Span | None:
    lead = (m.group("wx_lead") or m.group("wx_glued")).lower()
    gap = m.group("wx_gap").lower()
    wx_id = m.group("wx_id")
    strong = lead in _WX_STRONG or any(s in gap for s in (":", "：", "=", "号", "id"))
    if not strong and not re.search(r"[0-9_-]", wx_id):
        return None  # "my wechat is broken": a plain word is not an id unless introduced as one
    return (m.start("wx_id"), m.end("wx_id"), "wechat_id")


def _is_version(text: str, start: int, end: int) -> bool:
    kind, _ = _IP_CONTEXT.nearest(_IP_CONTEXT.clause(text, start))
    return kind == "version" or text[end:end + 8].lstrip(" -").lower().startswith(_VERSION_AFTER)


def spans(text: str) -> list[Span]:
    """Personal data in ``text``: (start, end, type) in order, not overlapping."""
    if not _QUICK.search(text.lower()):
        return []
    found: list[Span] = []
    for m in _PATTERN.finditer(text):
        kind = m.lastgroup
        assert kind is not None  # every alternative of _PATTERN is a named group
        if kind == "number":
            found += _number_spans(text, m.start(), m.end())
        elif kind == "wechat":
            if span := _wechat_span(m):
                found.append(span)
        elif kind == "ip":
            if not _is_version(text, m.start(), m.end()):
                found.append((m.start(), m.end(), "ip"))
        else:
            found.append((m.start(), m.end(), {"domain": "url", "wxid": "wechat_id"}.get(kind, kind)))
    return found


def mask(text: str, counts: Counter) -> str:
    """Replace personal data in ``text``; ``counts`` gets one increment per masked item by type."""
    found = spans(text)
    if not found:
        return text
    out: list[str] = []
    at = 0
    for start, end, kind in found:
        out += (text[at:start], PLACEHOLDER[kind])
        counts[kind] += 1
        at = end
    out.append(text[at:])
    return "".join(out)
