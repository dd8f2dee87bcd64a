"""History trimming (property tests) and the sqlite store."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.history import History, trim
from core.chat_format import Line, Turn, to_messages

texts = st.text(alphabet="abc你好哈~ ", min_size=1, max_size=30)
turn = st.tuples(st.sampled_from(["user", "assistant"]), st.lists(texts, min_size=1, max_size=4))
# what the responder trims: a chat whose newest turn is the friend's, waiting for an answer
turn_lists = st.builds(lambda head, last: [*head, ("user", last)], st.lists(turn, max_size=30),
                       st.lists(texts, min_size=1, max_size=4))


def as_turns(spec) -> list[Turn]:
    return [Turn(role, [Line("阿杰" if role == "user" else "", t) for t in lines]) for role, lines in spec]


def size(turns: list[Turn]) -> int:
    return sum(len(m["content"]) + 3 for m in to_messages(turns, "persona", "群", True))


@settings(max_examples=300, deadline=None)
@given(turn_lists, st.integers(min_value=30, max_value=400))
def test_trim_fits_the_budget_starts_on_a_user_turn_and_keeps_the_newest(spec, budget):
    turns = as_turns(spec)
    kept = trim(turns, lambda t: size(t) <= budget)
    assert kept and kept[0].role == "user"
    assert size(kept) <= budget
    # a suffix of the history: the newest turns, in order (the first one possibly cut to its newest part)
    n = len(kept)
    assert kept[1:] == turns[len(turns) - n + 1:]
    first = turns[len(turns) - n]
    assert first.role == "user"
    assert [ln.text for ln in first.lines][-len(kept[0].lines):][1:] == [ln.text for ln in kept[0].lines][1:]
    # maximal: one more whole exchange would not fit
    earlier = [i for i, t in enumerate(turns[:len(turns) - n]) if t.role == "user"]
    if earlier and kept[0] == first:
        assert size(turns[earlier[-1]:]) > budget


def test_trim_of_a_history_without_a_friend_turn_is_empty():
    assert trim(as_turns([("assistant", ["我先说"])]), lambda t: True) == []


def test_trim_without_pressure_keeps_everything_from_the_first_user_turn():
    turns = as_turns([("assistant", ["我先说"]), ("user", ["你好"]), ("assistant", ["嗨~"])])
    assert trim(turns, lambda t: True) == turns[1:]


def test_store_merges_a_side_s_messages_into_one_turn_and_ends_sessions(tmp_path):
    h = History(tmp_path)
    try:
        h.append("tg:1", "user", [Line("", "在吗")], chat_name="A", is_group=False, now=10)
        h.append("tg:1", "user", [Line("", "问个事")], chat_name="A", is_group=False, now=11)
        h.append("tg:1", "assistant", [Line("", "说~")], chat_name="A", is_group=False, now=12)
        log = h.get("tg:1")
        assert [(t.role, len(t.lines)) for t in log.turns] == [("user", 2), ("assistant", 1)]
        assert log.updated == 12 and h.idle(older_than=13) == ["tg:1"] and h.idle(older_than=12) == []
        h.end_session("tg:1")
        assert h.get("tg:1") is None and h.archived() == 1 and h.keys() == []
    finally:
        h.close()
