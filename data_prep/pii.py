"""Mask personal data with typed placeholders, so the model learns "a phone number goes here", not the number."""
from __future__ import annotations

import re
from collections import Counter

PLACEHOLDER = {
    "url": "<URL>", "email": "<EMAIL>", "id_card": "<ID>", "bank_card": "<CARD>", "phone": "<PHONE>",
    "ip": "<IP>", "qq": "<QQ>", "wechat_id": "<WXID>",
}

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# One alternation, scanned once per message; order = precedence (a URL's digits are not a phone).
_PATTERN = re.compile(
    r"(?P<url>\b(?:https?://|www\.)[^\s<>\"'，。！？、）】]+)"
    r"|(?P<email>\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
    r"|(?P<wechat_id>\bwxid_[A-Za-z0-9_-]{4,}|微信号[:：\s]*[A-Za-z][A-Za-z0-9_-]{5,19}\b)"
    r"|(?P<qq>(?i:qq)[^\d\n]{0,5}?[1-9]\d{4,10}(?!\d))"
    r"|(?P<ip>(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.]))"
    r"|(?P<intl>(?<![\w+])\+\d{1,3}[\s-]?\(?\d{1,4}\)?(?:[\s-]?\d{2,4}){2,4}(?!\d))"
    r"|(?P<mobile_sep>(?<!\d)1[3-9]\d[\s-]\d{4}[\s-]\d{4}(?!\d))"
    r"|(?P<card_sep>(?<!\d)\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,4})?(?!\d))"
    r"|(?P<digits>(?<!\d)\d{11,19}[Xx]?(?!\d))"
)


def id_card_valid(s: str) -> bool:
    if len(s) != 18 or not s[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(s[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == s[17].upper()


def luhn_valid(s: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(s)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _classify_digits(s: str) -> str | None:
    if len(s) == 18 and id_card_valid(s):
        return "id_card"
    if s.isdigit() and 13 <= len(s) <= 19 and luhn_valid(s):
        return "bank_card"
    if len(s) == 11 and s[0] == "1" and s[1] in "3456789":
        return "phone"
    return None


def mask(text: str, counts: Counter) -> str:
    """Replace personal data in ``text``; ``counts`` gets one increment per masked item by type."""
    if not _QUICK.search(text):
        return text

    def repl(m: re.Match) -> str:
        kind = m.lastgroup
        value = m.group()
        if kind in ("digits", "card_sep"):
            kind = _classify_digits(value.replace(" ", "").replace("-", ""))
            if kind is None:
                return value  # order numbers, amounts: not personal
        elif kind in ("intl", "mobile_sep"):
            kind = "phone"
        counts[kind] += 1
        # keep the words that introduced the id ("QQ号：", "微信号 ") and mask only the id itself
        lead = _ID_LEAD.match(value).group() if kind in ("qq", "wechat_id") else ""
        return lead + PLACEHOLDER[kind]

    return _PATTERN.sub(repl, text)


_ID_LEAD = re.compile(r"(?i:qq)[^\d\n]*|微信号[:：\s]*|")

# Cheap pre-check: nearly all chat messages contain no digit run, '@', 'www' or 'wxid', so skip the big regex.
_QUICK = re.compile(r"\d{5}|\d{3}[\s-]\d{4}|\d{4}[\s-]\d{4}|\+\d|@|www\.|://|wxid_|微信号|(?i:qq)|\d+\.\d+\.\d+\.\d+")
