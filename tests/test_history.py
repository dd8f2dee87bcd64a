"""The bot's store (real sqlite): what was said is appended and read back as the same conversation, conversations
end by the dataset's rules, /forget leaves nothing, the file grows with what was said; and the one trimming rule
(core.chat_format.fit) as a property."""
from __future__ import annotations

import json
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.history import History, owner_said
from core.chat_format import USER, fit
from core.conversation import Rules, Said

RULES = Rules(burst_gap_s=300, session_gap_s=3600, max_turn_lines=3, max_turns=16)


def friend(text: str, time: float, speaker: str = "") -> Said:
    return Said(USER, speaker, text, time)


def add(h: History, said: Said, key: str = "tg:1", group: bool = False):
    return h.add(key, said, chat_name="A", is_group=group, wants_answer=said.role == USER)


def lines(conversation) -> list[tuple[str, list[str]]]:
    return [(t.role, [ln.text for ln in t.lines]) for t in conversation.turns]


@pytest.fixture
def h(tmp_path):
    history = History(tmp_path, RULES)
    yield history
    history.close()


def test_messages_become_turns_and_read_back_the_same_after_a_restart(tmp_path):
    h = History(tmp_path, RULES)
    add(h, friend("在吗", 10))
    add(h, friend("问个事\n很急", 11))  # one message, two text lines: one line of the turn
    add(h, owner_said("说~", 12))
    before = lines(h.conversation("tg:1"))
    assert before == [("user", ["在吗", "问个事\n很急"]), ("assistant", ["说~"])]
    assert not h.wants_answer("tg:1")
    add(h, friend("好", 13))
    h.close()
    again = History(tmp_path, RULES)
    try:
        assert lines(again.conversation("tg:1")) == [*before, ("user", ["好"])]
        assert again.wants_answer("tg:1") and again.keys() == ["tg:1"]
    finally:
        again.close()


def test_a_long_silence_and_a_stalled_side_open_new_conversations(h):
    add(h, friend("a", 0))
    add(h, owner_said("b", 10))
    add(h, friend("c", 10 + 3601))  # silence: a new conversation
    assert lines(h.conversation("tg:1")) == [("user", ["c"])] and h.ended() == 1
    add(h, friend("d", 10 + 3601 + 301))  # the friend went on, unanswered, after the burst gap: stalled
    assert lines(h.conversation("tg:1")) == [("user", ["d"])] and h.ended() == 2
    add(h, friend("e", 10 + 3601 + 302))  # within the burst gap: the same turn
    assert lines(h.conversation("tg:1")) == [("user", ["d", "e"])]
    assert [r[0] for r in h.rows("tg:1")] == [1, 1, 2, 3, 3]  # everything kept, by conversation


def test_a_flooding_friends_turn_keeps_its_newest_lines(h):
    for i in range(50):
        add(h, friend(f"m{i}", i, "阿杰"), group=True)
    conversation = h.conversation("tg:1")
    assert lines(conversation) == [("user", ["m47", "m48", "m49"])] and conversation.trimmed_lines == 47
    assert len(h.rows("tg:1")) == 50


def test_ending_and_forgetting(tmp_path):
    h = History(tmp_path, RULES)
    try:
        add(h, friend("a", 0))
        add(h, friend("x", 0), key="tg:2")
        assert h.idle(older_than=1) == ["tg:1", "tg:2"] and h.idle(older_than=0) == []
        h.end("tg:1")
        assert h.conversation("tg:1") is None and h.ended() == 1 and h.keys() == ["tg:2"]
        add(h, friend("b", 5))
        assert lines(h.conversation("tg:1")) == [("user", ["b"])]
        assert h.forget("tg:1") and not h.forget("tg:1")
        assert h.rows("tg:1") == [] and h.conversation("tg:1") is None and h.ended() == 0
        assert h.rows("tg:2")  # other chats untouched
    finally:
        h.close()
    with sqlite3.connect(tmp_path / "history.sqlite") as db:  # nothing of the forgotten chat left in the file
        assert db.execute("SELECT COUNT(*) FROM messages WHERE chat = 'tg:1'").fetchone() == (0,)


def test_the_file_grows_with_what_was_said(h, tmp_path):
    add(h, friend("开始", 0))
    h._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    start = (tmp_path / "history.sqlite").stat().st_size
    big = "长" * 30_000  # ~90 KB of UTF-8
    for i in range(20):
        add(h, friend(big, 1 + i))
    h._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    grown = (tmp_path / "history.sqlite").stat().st_size - start
    said = 20 * len(big.encode())
    assert said <= grown < 1.5 * said  # appending, not rewriting the chat on every message


def test_a_history_written_as_documents_of_turns_is_upgraded(tmp_path):
    from sqlitedict import SqliteDict

    doc = {"chat_name": "A", "is_group": False, "updated": 100.0,
           "turns": [{"role": "user", "lines": [["", "在吗"]]}, {"role": "assistant", "lines": [["", "在~"]]}]}
    with SqliteDict(str(tmp_path / "history.sqlite"), tablename="chats", encode=json.dumps, decode=json.loads,
                    autocommit=True) as old:
        old["tg:1"] = {**doc, "turns": [{"role": "user", "lines": [["", "后来"]]}]}
    with SqliteDict(str(tmp_path / "archive.sqlite"), tablename="sessions", encode=json.dumps, decode=json.loads,
                    autocommit=True) as archive:
        archive["tg:1@50.000"] = {**doc, "updated": 50.0}
    h = History(tmp_path, RULES)
    try:
        assert lines(h.conversation("tg:1")) == [("user", ["后来"])] and h.ended() == 1
        assert [r[:4] for r in h.rows("tg:1")] == [(1, "user", "", "在吗"), (1, "assistant", "", "在~"),
                                                   (2, "user", "", "后来")]
        assert not (tmp_path / "archive.sqlite").exists()
    finally:
        h.close()


# ---- the trimming rule ----

exchanges = st.lists(st.tuples(st.text(alphabet="ab你好", min_size=1, max_size=30),
                               st.text(alphabet="ab你好", min_size=1, max_size=30)), min_size=1, max_size=20)


def size(messages: list[dict]) -> int:
    return sum(len(m["content"]) + 3 for m in messages)


@settings(max_examples=300, deadline=None)
@given(exchanges, st.text(alphabet="x", min_size=1, max_size=40), st.integers(min_value=20, max_value=500))
def test_fit_keeps_the_system_turn_and_the_newest_whole_exchanges_that_fit(pairs, last, budget):
    messages = [{"role": "system", "content": "persona"}]
    for user, owner in pairs:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": owner}]
    messages.append({"role": "user", "content": last})
    kept, dropped = fit(messages, budget, size)
    assert kept[0] == messages[0] and kept[1]["role"] == "user"
    assert kept[1:] == messages[1 + dropped:]  # the newest messages, whole and in order
    last_exchange = [messages[0], messages[-1]]
    assert size(kept) <= budget or kept == last_exchange  # too long alone: returned whole, cut by the caller
    if dropped:  # maximal: one more exchange would not fit
        assert size([messages[0], *messages[dropped - 1:]]) > budget
