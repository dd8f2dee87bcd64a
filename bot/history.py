"""What was said in each chat, kept in sqlite under bot.data_dir, and each chat's current conversation.

Every message is one row, appended when it is said (a friend's on arrival, each part of a reply once delivered), so
the file grows with what was said and a kill loses nothing already written. The current conversation of a chat is
held in memory as a core.conversation.Conversation, to which the same rules as the dataset's apply, and rebuilt
from its rows after a restart. Per-chat facts (name, group or not, which conversations have ended) live in a
sqlitedict table beside the rows.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from core.chat_format import OWNER, USER
from core.conversation import Conversation, Rules, Said

FILE = "history.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    chat TEXT NOT NULL,
    conversation INTEGER NOT NULL,
    role TEXT NOT NULL,
    speaker TEXT NOT NULL,
    text TEXT NOT NULL,
    time REAL NOT NULL,
    wants_answer INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (chat, conversation, id);
"""


@dataclass
class _Live:
    number: int                 # the conversation's number within its chat
    conversation: Conversation
    wants_answer: bool          # its last turn is friends' and one of their messages asked for an answer


class History:
    """One instance is shared by all channels; every change is written at once (a restart loses nothing)."""

    def __init__(self, data_dir: Path, rules: Rules):
        from sqlitedict import SqliteDict

        data_dir.mkdir(parents=True, exist_ok=True)
        self.rules = rules
        self.path = data_dir / FILE
        # autocommit, WAL and synchronous=NORMAL: each message is a small append that survives the process being
        # killed (not a power cut), cheap enough to write on the event loop
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        # outer_stack off: otherwise every statement captures the caller's stack for its error messages, half a
        # millisecond of source-file lookups on the event loop per write
        self._chats = SqliteDict(str(self.path), tablename="chats", autocommit=True, encode=json.dumps,
                                 decode=json.loads, journal_mode="WAL", outer_stack=False)
        self._live: dict[str, _Live | None] = {}
        self._facts: dict[str, dict] = {}
        self._upgrade(data_dir)
        # a mirror of the chats table: read on every message, so kept in memory; every change is written through
        self._facts = dict(self._chats.items())

    # ---- reading -----------------------------------------------------------------------------------------------

    def conversation(self, key: str) -> Conversation | None:
        """The chat's current conversation, or None when it has none (never spoke, ended, forgotten)."""
        live = self._current(key)
        return live.conversation if live else None

    def wants_answer(self, key: str) -> bool:
        live = self._current(key)
        return bool(live and live.wants_answer)

    def keys(self) -> list[str]:
        """Chats with a current conversation."""
        return [k for k in self._facts if self._current(k) is not None]

    def idle(self, older_than: float) -> list[str]:
        return [k for k in self.keys() if self._current(k).conversation.last < older_than]  # type: ignore[union-attr]

    def ended(self) -> int:
        """Conversations that have ended (kept for the owner; never shown to the model again)."""
        return sum(f["ended"] for f in self._facts.values())

    def rows(self, key: str) -> list[tuple[int, str, str, str, float]]:
        """Everything stored for a chat: (conversation, role, speaker, text, time), oldest first."""
        return self._db.execute("SELECT conversation, role, speaker, text, time FROM messages WHERE chat = ? "
                                "ORDER BY id", (key,)).fetchall()

    # ---- writing -----------------------------------------------------------------------------------------------

    def add(self, key: str, said: Said, *, chat_name: str, is_group: bool, wants_answer: bool = False
            ) -> Conversation:
        """Store a message and add it to the chat's conversation; a message that does not continue the current one
        (a long silence, a stalled side) ends it and opens the next."""
        facts = self._facts.get(key)
        if facts is None or (facts["name"], facts["is_group"]) != (chat_name, is_group):
            facts = {"ended": 0, **(facts or {}), "name": chat_name, "is_group": is_group}
            self._chats[key] = self._facts[key] = facts
        live = self._current(key)
        if live is None or not live.conversation.continues_with(said, self.rules):
            if live is not None:
                self.end(key)
            number = self._last_number(key) + 1
            live = _Live(number, Conversation(chat_name, is_group, said.time, said.time), False)
            self._live[key] = live
        live.conversation.chat_name, live.conversation.is_group = chat_name, is_group
        live.conversation.add(said, self.rules)
        live.wants_answer = said.role == USER and (wants_answer or live.wants_answer)
        self._db.execute("INSERT INTO messages (chat, conversation, role, speaker, text, time, wants_answer) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (key, live.number, said.role, said.speaker, said.text, said.time, int(wants_answer)))
        return live.conversation

    def end(self, key: str) -> None:
        """End the chat's current conversation: the next message opens a fresh one."""
        live = self._current(key)
        if live is None:
            return
        self._chats[key] = self._facts[key] = {**self._facts[key], "ended": live.number}
        self._live[key] = None

    def forget(self, key: str) -> bool:
        """Delete everything stored for the chat, ended conversations included."""
        known = key in self._facts
        deleted = self._db.execute("DELETE FROM messages WHERE chat = ?", (key,)).rowcount
        if known:
            del self._chats[key]
            del self._facts[key]
        self._live.pop(key, None)
        return known or deleted > 0

    def close(self) -> None:
        self._chats.close()
        self._db.close()

    def _upgrade(self, data_dir: Path) -> None:
        """Histories written before messages were rows (one JSON document of turns per chat, ended sessions in
        archive.sqlite) become rows: the live session as the current conversation, archived ones as ended."""
        old = [(k, v) for k, v in self._chats.items() if "turns" in v]
        archive = data_dir / "archive.sqlite"
        if archive.exists():  # read with sqlite itself: opening it, sqlitedict would switch its journal mode
            with contextlib.closing(sqlite3.connect(f"file:{archive}?mode=ro", uri=True)) as db:
                ended = [(k.rsplit("@", 1)[0], {**json.loads(v), "ended": True})
                         for k, v in db.execute('SELECT key, value FROM "sessions"')]
            old = sorted(ended, key=lambda kv: kv[1]["updated"]) + old
        for key, doc in old:
            number = self._last_number(key) + 1
            self._db.executemany(
                "INSERT INTO messages (chat, conversation, role, speaker, text, time) VALUES (?, ?, ?, ?, ?, ?)",
                [(key, number, t["role"], speaker, text, doc["updated"]) for t in doc["turns"]
                 for speaker, text in t["lines"]])
            self._chats[key] = self._facts[key] = {"name": doc["chat_name"], "is_group": doc["is_group"],
                                "ended": number if doc.get("ended") else number - 1}
        for leftover in (archive, archive.with_name(archive.name + "-wal"), archive.with_name(archive.name + "-shm")):
            leftover.unlink(missing_ok=True)

    # ---- loading -----------------------------------------------------------------------------------------------

    def _last_number(self, key: str) -> int:
        row = self._db.execute("SELECT MAX(conversation) FROM messages WHERE chat = ?", (key,)).fetchone()
        return max(row[0] or 0, self._facts.get(key, {}).get("ended", 0))

    def _current(self, key: str) -> _Live | None:
        if key not in self._live:
            self._live[key] = self._load(key)
        return self._live[key]

    def _load(self, key: str) -> _Live | None:
        facts = self._facts.get(key)
        number = self._last_number(key)
        if facts is None or number <= facts["ended"]:
            return None
        rows = self._db.execute("SELECT role, speaker, text, time, wants_answer FROM messages WHERE chat = ? AND "
                                "conversation = ? ORDER BY id", (key, number)).fetchall()
        live = _Live(number, Conversation(facts["name"], facts["is_group"], rows[0][3], rows[0][3]), False)
        for role, speaker, text, time, wants in rows:
            live.conversation.add(Said(role, speaker, text, time), self.rules)
            live.wants_answer = role == USER and (bool(wants) or live.wants_answer)
        return live


def owner_said(text: str, time: float) -> Said:
    """The owner's (or the clone's) message: no speaker, as in training."""
    return Said(OWNER, "", text, time)
