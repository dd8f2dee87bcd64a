"""WhatsApp "Export chat" text files, Android and iOS layouts (spec section 6).

    Android: ``1/22/23, 6:30 PM - User 1: text``      iOS: ``[8/15/23, 9:12:33 AM] Dr. Feather: text``

A line that does not start with a header continues the previous message. ``read_text`` has already removed U+200E and
the other direction marks and turned U+202F / U+00A0 (before AM/PM) into plain spaces.

Day/month order is not marked. It is decided per file from every header date: a first field > 12 anywhere means
day-first, otherwise a second field > 12 means month-first, otherwise day-first (WhatsApp's default outside the US).
A line whose own date is unambiguous (first or second field > 12) uses that order even if the file's default differs,
because the phone's locale can change mid-file. A 4-digit first field is year-month-day.

WhatsApp does not mark the owner: ``me`` must name them. Group vs private is inferred: group system lines (``created
group``, ``added``, ``left``...), an iOS "sender" that only ever posts such lines (the group subject), or more than one
party besides the owner, where one phone-number sender is taken as the other party's second name (messages from
before they were saved as a contact, or from an old number). Chat name: ``WhatsApp Chat with NAME.txt`` /
``WhatsApp Chat - NAME/_chat.txt``, else the file stem.

A line that is one slip away from a header (a flipped or stray byte in the date, a cut character) starts a message
that cannot be read: it is a counted skip with its continuation lines, never text of the previous message.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from ..records import Kind, Message
from ..sources import ParseLog, near_header, normalise, read_text
from . import SimpleFormat

# [date, time] (iOS) or date, time - (Android); the conditional (?(1)…) picks the closing form from the opening '['.
_HEADER = re.compile(
    r"(\[)?(\d{1,4})[./-] ?(\d{1,2})[./-] ?(\d{1,4})[,.]? (?:klo )?(\d{1,2})[.:](\d{2})(?:[.:](\d{2}))?"
    r"(?: ?([AaPp])\.? ?[Mm]\.?)?(?(1)\] | - )(.*)")
# A line that starts like a header but does not parse (LangChain's `3:22_AM`): a corrupted message, not a
# continuation of the previous one.
_BROKEN_HEADER = re.compile(r"\[?\d{1,4}[./-]\d{1,2}[./-]\d{1,4},? \S{1,15}(?: \S{1,6})?(?:\] | - )[^:]{1,80}: ")
# A sender shown as a phone number: someone not (or no longer) in the phone's contacts.
_PHONE = re.compile(r"\+?\d[\d ()./-]{5,}\d")

_CHAT_FILE = re.compile(
    r"(?:WhatsApp[ -]Chat|Chat de WhatsApp|Discussion WhatsApp|Conversa do WhatsApp|Chat WhatsApp)"
    r"\s*(?:with|mit|con|avec|com|met|-)\s+(.+)", re.I)
# Notices iOS attributes to a person (the peer: e2e banner, security code changes...) start like this; a tuple
# for one C-level startswith per message before the regex.
_NOTICE_PREFIXES = ("Messages and calls are end-to-end", "Messages to this", "Your security code", "You ",
                    "Disappearing messages")
_FIRST_OVER_12 = re.compile(
    r"^\[?(?:1[3-9]|2\d|3[01])[./-] ?\d{1,2}[./-] ?\d{1,4}[,.]? (?:klo )?\d{1,2}[.:]\d\d", re.M)
_SECOND_OVER_12 = re.compile(
    r"^\[?\d{1,2}[./-] ?(?:1[3-9]|2\d|3[01])[./-] ?\d{1,4}[,.]? (?:klo )?\d{1,2}[.:]\d\d", re.M)
_EDITED = re.compile(r"\s*<This message was edited>$")

# Notices that are never typed by a person, even when iOS attributes them to the peer or the group.
_SYSTEM_PHRASE = re.compile(
    r"Messages and calls are end-to-end encrypted|Messages to this (?:group|chat) are now"
    r"|(?:.+ )?created group [\"“]|You created group|.* changed the subject (?:from .+ )?to [\"“]"
    r"|(?:.+ )?(?:changed|deleted) this group's (?:icon|settings)|(?:.+ )?changed the group description"
    r"|.+ joined using this group's invite link$|Your security code with .+ changed|.+ changed their phone number"
    r"|You were added$|You're now an admin$|Disappearing messages (?:were|are) |You (?:un)?blocked this contact",
    re.I)
_GROUP_EVENT = re.compile(
    r"created group|\badded\b|\bremoved\b|\bleft$|joined using this group|changed the subject|this group"
    r"|changed the group description|you're now an admin|you were added", re.I)

_MEDIA_OMITTED = re.compile(r"<(?:Media omitted|Medien ausgeschlossen|Multimedia omitido|Médias omis|Mídia oculta)>",
                            re.I)
_IOS_OMITTED = re.compile(r"(image|video|audio|sticker|GIF|Contact card) omitted|(?:.*\s)?(document) omitted", re.I)
_ATTACHED = re.compile(r"<attached: ([^>]+)>")
_FILE_ATTACHED = re.compile(
    r"(\S.*?) \((?:file attached|Datei angehängt|archivo adjunto|fichier joint|arquivo anexado|file allegato)\)")
_RECALL = re.compile(r"(?:This message was deleted|You deleted this message)\.?", re.I)
_CALL = re.compile(r"(?:Missed )?(?:group )?(?:voice|video) call(?:, .*)?", re.I)
_LOCATION = re.compile(r"(?:location: https?://\S+|live location shared|.*\blive location\b.*)", re.I)
_VIEW_ONCE = re.compile(r"null|You received a view once message.*", re.I)

_OMITTED_KIND = {"image": Kind.IMAGE, "video": Kind.VIDEO, "audio": Kind.VOICE, "sticker": Kind.STICKER,
                 "gif": Kind.IMAGE, "contact card": Kind.CARD, "document": Kind.FILE}
# File names: iOS `00000042-PHOTO-2020-….jpg`, Android `IMG-20210428-WA0001.jpg`; else by extension.
_NAME_KIND = (("PHOTO", Kind.IMAGE), ("IMG-", Kind.IMAGE), ("VIDEO", Kind.VIDEO), ("VID-", Kind.VIDEO),
              ("AUDIO", Kind.VOICE), ("PTT-", Kind.VOICE), ("AUD-", Kind.VOICE), ("STICKER", Kind.STICKER),
              ("STK-", Kind.STICKER), ("GIF", Kind.IMAGE), ("CONTACT", Kind.CARD))
_EXT_KIND = {"jpg": Kind.IMAGE, "jpeg": Kind.IMAGE, "png": Kind.IMAGE, "heic": Kind.IMAGE, "gif": Kind.IMAGE,
             "mp4": Kind.VIDEO, "mov": Kind.VIDEO, "3gp": Kind.VIDEO, "opus": Kind.VOICE, "m4a": Kind.VOICE,
             "ogg": Kind.VOICE, "aac": Kind.VOICE, "mp3": Kind.VOICE, "webp": Kind.STICKER, "vcf": Kind.CARD}


def sniff(path: Path, head: str) -> bool:
    # head() leaves direction marks and U+202F in BOM-marked files; headers must match as parse() will see them.
    seen = 0
    for line in normalise(head).split("\n", 60)[:60]:
        line = line.strip()
        if line:
            m = _HEADER.match(line)
            if m and m[9].strip():
                return True
            seen += 1
            if seen >= 5:  # a few lines of junk before the first message at most
                return False
    return False


def chat_name_for(path: Path) -> str:
    """`WhatsApp Chat with Bob.txt` -> Bob; `WhatsApp Chat - Family/_chat.txt` -> Family; else the file stem."""
    if path.name == "_chat.txt" and path.parent.name:
        m = _CHAT_FILE.fullmatch(path.parent.name)
        return m[1].strip() if m else path.parent.name
    m = _CHAT_FILE.fullmatch(path.stem)
    return m[1].strip() if m else path.stem


def _attachment_kind(name: str) -> Kind:
    upper = name.upper()
    for key, kind in _NAME_KIND:
        if key in upper:
            return kind
    return _EXT_KIND.get(name.rsplit(".", 1)[-1].lower(), Kind.FILE) if "." in name else Kind.FILE


def _kind(text: str) -> Kind:
    # Cheap first-character/suffix gates in front of the regexes: almost every message is plain text.
    nl = text.find("\n")
    first = (text if nl < 0 else text[:nl]).strip()
    if not first:
        return Kind.TEXT
    c, last = first[0], first[-1]
    if c == "<":
        if _MEDIA_OMITTED.fullmatch(first):
            return Kind.OTHER  # Android does not say which media it was
        m = _ATTACHED.fullmatch(first)
        if m:
            return _attachment_kind(m[1])
    elif last == "d" and first.endswith("omitted"):
        m = _IOS_OMITTED.fullmatch(first)
        if m:
            return _OMITTED_KIND[(m[1] or m[2]).lower()]
    elif last == ")":
        m = _FILE_ATTACHED.fullmatch(first)
        if m:
            return _attachment_kind(m[1])
    if nl >= 0 or len(first) > 120:
        return Kind.TEXT
    if c in "TtYy" and _RECALL.fullmatch(first):
        return Kind.RECALL
    if "call" in first and _CALL.fullmatch(first):
        return Kind.CALL
    if ("ocation" in first or "OCATION" in first) and _LOCATION.fullmatch(first):
        return Kind.LOCATION
    if c in "nNYy" and _VIEW_ONCE.fullmatch(first):
        return Kind.OTHER
    return Kind.TEXT


def _split_author(rest: str) -> tuple[str | None, str]:
    """`Name: text` -> (Name, text) on the FIRST ': '; author-less system lines -> (None, rest)."""
    author, sep, text = rest.partition(": ")
    if not sep or not author:
        if rest.endswith(":") and len(rest) > 1 and not _SYSTEM_PHRASE.match(rest):
            return rest[:-1].lstrip("~").strip(), ""
        return None, rest
    # Author-less notices quote subjects and group names, which may contain ': ' themselves
    # (`X changed the subject from "a: b" to "c"`).
    if len(author) > 80 or ('"' in author or "“" in author) and _SYSTEM_PHRASE.match(rest) \
            and not _SYSTEM_PHRASE.match(text):
        return None, rest
    if author[0] == "~":
        author = author.lstrip("~").strip()  # `~ Name`: not in the phone's contacts, same person
    return author, text


def _day_first(text: str) -> bool:
    """The file's day/month order: any first field > 12 -> day-first; else any second field > 12 -> month-first;
    else day-first. Two C-level scans of the whole text instead of a Python test per header."""
    if _FIRST_OVER_12.search(text):
        return True
    return not _SECOND_OVER_12.search(text)


def _time(m: re.Match, day_first: bool) -> datetime | None:
    a, b, c = int(m[2]), int(m[3]), int(m[4])
    if len(m[2]) == 4:
        year, month, day = a, b, c
    else:
        if a > 12:
            day_first_here = True
        elif b > 12:
            day_first_here = False
        else:
            day_first_here = day_first
        day, month = (a, b) if day_first_here else (b, a)
        year = c + 2000 if c < 100 else c
    hour = int(m[5])
    if m[8]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if m[8] in "Pp" else 0)
    try:
        return datetime(year, month, day, hour, int(m[6]), int(m[7] or 0))
    except ValueError:
        return None


class _Builder:
    """Turns finished header+continuation records into Messages and keeps what the whole-file decisions need."""

    __slots__ = ("path", "log", "me", "chat_name", "prefix", "out", "authors", "group_event")

    def __init__(self, path: Path, log: ParseLog, me: frozenset[str], chat_name: str):
        self.path, self.log, self.me, self.chat_name = path, log, me, chat_name
        self.prefix = f"{path}:"
        self.out: list[Message] = []
        # author -> [notice count, only notices so far, any group event, any notice phrase]
        self.authors: dict[str, list] = {}
        self.group_event = False

    def add(self, line_no: int, time: datetime, rest: str, more: list[str] | None) -> None:
        author: str | None
        author, sep, text = rest.partition(": ")
        if not sep or not author or author[0] == "~" or len(author) > 80 or '"' in author or "“" in author:
            author, text = _split_author(rest)  # the rare cases
        if more is not None:
            while more and not more[-1].strip():
                more.pop()
            if more:
                text = "\n".join([text, *more])
        if text.endswith("edited>"):
            text = _EDITED.sub("", text)
        text = text.rstrip()
        if not text:
            self.log.skip(self.path, line_no, "whatsapp: empty message")
            return
        if author is None:
            kind, by_owner = Kind.SYSTEM, False
            if not self.group_event and _GROUP_EVENT.search(text):
                self.group_event = True
        else:
            st = self.authors.get(author)
            if st is None:
                st = self.authors[author] = [0, True, False, False]
            if st[1]:  # still possibly the group subject: only its first real message costs regex work
                event, phrase = bool(_GROUP_EVENT.search(text)), bool(_SYSTEM_PHRASE.match(text))
                if event or phrase:
                    st[0] += 1
                    st[2] = st[2] or event
                    st[3] = st[3] or phrase
                else:
                    st[1] = False
            kind = Kind.SYSTEM if text.startswith(_NOTICE_PREFIXES) and _SYSTEM_PHRASE.match(text) \
                or "changed their phone number" in text else _kind(text)
            by_owner = author in self.me
        self.out.append(Message(self.chat_name, self.chat_name, False, author or "", by_owner, time, kind, text, None,
                                None, f"{self.prefix}{line_no}"))

    def parties(self, subjects: set[str]) -> int:
        """How many people besides the owner wrote here. One phone-number sender next to named ones is taken as a
        second name of one of them: a private chat export has exactly one other party."""
        others = [a for a in self.authors if a not in subjects and a not in self.me]
        numbers = sum(1 for a in others if _PHONE.fullmatch(a))
        named = len(others) - numbers
        if named and not any(a in self.me for a in self.authors):
            named -= 1  # the owner is among them, not recognised (no `me` given)
        return named + numbers - (1 if named and numbers else 0)

    def finish(self) -> list[Message]:
        """Group flag and group-subject notices, decided from the whole file."""
        # iOS attributes group notices to the group subject, which never writes anything else. A person whose only
        # message happens to read like one ("I left") is not enough: ask for the chat's name, a notice phrase no
        # person types, or several such lines.
        subjects = {a for a, (n, only, event, phrase) in self.authors.items()
                    if only and event and (a == self.chat_name or n > 1 or phrase)}
        is_group = self.group_event or bool(subjects) or self.parties(subjects) > 1
        if is_group and self.chat_name in self.authors:
            subjects.add(self.chat_name)  # in a group, lines "by" the group's own name are notices
        if is_group or subjects:
            for m in self.out:
                m.is_group = is_group
                if m.sender in subjects:
                    m.kind, m.by_owner = Kind.SYSTEM, False
        return self.out


def _damaged_header(line: str) -> bool:
    """A line that is not a header but was meant to be one (see the module doc): its message is lost, not glued on."""
    if line[:1] != "[" and _BROKEN_HEADER.match(line):
        return True
    return near_header(line, _HEADER)


def parse(path: Path, log: ParseLog, me: frozenset[str]) -> Iterator[Message]:
    text = read_text(path)
    day_first = _day_first(text)
    lines = text.split("\n")
    out = _Builder(path, log, me, chat_name_for(path))
    times: dict[str, datetime | None] = {}  # many messages share a minute: parse each header time once
    # The message being read: header at lines[start - 1], continuation lines[start:i]. Plain locals instead of a
    # per-message container keep garbage-collector work down on million-message files.
    start = -1  # -1: none
    time: datetime | None = None
    at = datetime.min  # the time of the message being read (while start >= 0)
    rest = ""
    swallow = False  # inside a message whose header was unusable (already counted as one skip)
    for i, line in enumerate(lines):
        c = line[:1]
        if c == "[" or "0" <= c <= "9":
            m = _HEADER.match(line)
            if m:
                if start >= 0:
                    out.add(start, at, rest, lines[start:i] if i > start else None)
                key = line[:m.start(9)]
                try:
                    time = times[key]
                except KeyError:
                    time = times[key] = _time(m, day_first)
                if time is None:
                    log.skip(path, i + 1, "whatsapp: bad date/time")
                    start, swallow = -1, True
                else:
                    start, at, rest, swallow = i + 1, time, m[9], False
                continue
        if _damaged_header(line):
            if start >= 0:
                out.add(start, at, rest, lines[start:i] if i > start else None)
            log.skip(path, i + 1, "whatsapp: malformed header line")
            start, swallow = -1, True
            continue
        if start < 0 and not swallow and line.strip():
            log.skip(path, i + 1, "whatsapp: text before first message")
    if start >= 0:
        out.add(start, at, rest, lines[start:] if len(lines) > start else None)
    yield from out.finish()


FORMAT = SimpleFormat("whatsapp", sniff, parse)
