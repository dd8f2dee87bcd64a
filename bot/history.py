"""Per-chat rolling history: stored in sqlitedict, trimmed to the prompt budget before each generation.

A chat's history is the live *session*, in the same turns the dataset was built from (core.chat_format.Turn):
a friend's burst is one user turn with speaker-tagged lines, the owner's (or the clone's) burst one assistant
turn. When a chat has been idle for the session gap it is archived and starts empty, so a live conversation looks
like a training window and never grows without bound.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.chat_format import Line, Turn

MAX_STORED_TURNS = 200  # storage bound only; what the model sees is decided by trim()


@dataclass
class ChatLog:
    chat_name: str
    is_group: bool
    turns: list[Turn] = field(default_factory=list)
    updated: float = 0.0

    def to_json(self) -> dict:
        return {"chat_name": self.chat_name, "is_group": self.is_group, "updated": self.updated,
                "turns": [{"role": t.role, "lines": [[ln.speaker, ln.text] for ln in t.lines]} for t in self.turns]}

    @classmethod
    def from_json(cls, d: dict) -> ChatLog:
        return cls(d["chat_name"], d["is_group"], [Turn(t["role"], [Line(s, x) for s, x in t["lines"]])
                                                   for t in d["turns"]], d["updated"])


class History:
    """One sqlite file under bot.data_dir for the live sessions, one for the archive of ended ones.

    sqlitedict serialises every call through one worker thread per file, so one instance is shared by all
    channels; every change is committed at once (a restart loses nothing)."""

    def __init__(self, data_dir: Path):
        from sqlitedict import SqliteDict

        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "history.sqlite"
        # WAL: a commit is an append, not a rewrite plus fsync of the whole journal, so committing every change
        # (nothing lost on a crash) stays cheap on the event loop's hot path
        kw = {"autocommit": True, "encode": json.dumps, "decode": json.loads, "journal_mode": "WAL"}
        self._live = SqliteDict(str(self.path), tablename="chats", **kw)
        self._archive = SqliteDict(str(data_dir / "archive.sqlite"), tablename="sessions", **kw)

    def get(self, key: str) -> ChatLog | None:
        raw = self._live.get(key)
        return ChatLog.from_json(raw) if raw else None

    def keys(self) -> list[str]:
        return list(self._live.keys())

    def append(self, key: str, role: str, lines: list[Line], *, chat_name: str, is_group: bool,
               now: float | None = None) -> ChatLog:
        """Add lines to the chat: to its last turn when that side spoke last (a burst), else as a new turn."""
        log = self.get(key) or ChatLog(chat_name, is_group)
        log.chat_name, log.is_group = chat_name, is_group
        if log.turns and log.turns[-1].role == role:
            log.turns[-1].lines.extend(lines)
        else:
            log.turns.append(Turn(role, list(lines)))
        del log.turns[:-MAX_STORED_TURNS]
        log.updated = time.time() if now is None else now
        self._live[key] = log.to_json()
        return log

    def forget(self, key: str) -> bool:
        """Drop a chat's live session without archiving it."""
        if key not in self._live:
            return False
        del self._live[key]
        return True

    def end_session(self, key: str) -> None:
        """Move the chat's session to the archive; the next message starts a fresh one."""
        raw = self._live.get(key)
        if raw is None:
            return
        self._archive[f"{key}@{raw['updated']:.3f}"] = raw
        del self._live[key]

    def idle(self, older_than: float) -> list[str]:
        return [k for k, v in self._live.items() if v["updated"] < older_than]

    def archived(self) -> int:
        return len(self._archive)

    def close(self) -> None:
        self._live.close()
        self._archive.close()


def trim(turns: list[Turn], fits: Callable[[list[Turn]], bool]) -> list[Turn]:
    """The newest turns that fit the budget, starting on a user turn (as every training window does).

    Whole oldest turns go first; ``fits`` is monotone in the number of kept turns, so the cut is found by binary
    search (a few tokenizations, not one per turn). If even the last user turn alone is too long, its oldest lines
    go, then the start of its oldest remaining line: the result always fits."""
    starts = [i for i, t in enumerate(turns) if t.role == "user"]
    if not starts:
        return []
    if fits(turns[starts[0]:]):  # the usual case within a session: everything fits, one tokenization
        return turns[starts[0]:]
    lo, hi = 0, len(starts) - 1  # find the earliest start whose suffix fits
    if fits(turns[starts[hi]:]):
        while lo < hi:
            mid = (lo + hi) // 2
            if fits(turns[starts[mid]:]):
                hi = mid
            else:
                lo = mid + 1
        return turns[starts[lo]:]
    last = turns[starts[-1]:]
    user, rest = last[0], last[1:]
    lines = list(user.lines)
    while len(lines) > 1 and not fits([Turn("user", lines), *rest]):
        lines.pop(0)
    head = lines[0]
    text = head.text
    while text and not fits([Turn("user", [Line(head.speaker, text), *lines[1:]]), *rest]):
        text = text[len(text) // 4 + 1:]  # drop the oldest part of the line
    return [Turn("user", [Line(head.speaker, text), *lines[1:]]), *rest]


def reply_lines(reply_parts: list[str]) -> list[Line]:
    """The owner's (or clone's) messages as assistant lines: no speaker, as in training."""
    return [Line("", part) for part in reply_parts if part]

