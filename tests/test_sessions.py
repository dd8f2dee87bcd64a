"""Messages → sessions → samples: bursts, gaps, who opens, group rendering, windows, dedupe, split."""
from core.chat_format import split_reply
from core.config import Dataset
from core.conversation import Rules
from data_prep.clean import CleanStats, clean
from data_prep.records import Kind
from data_prep.samples import SampleStats, build_samples, split
from data_prep.sessions import SessionStats, by_chat, split_sessions

DS = Dataset()


def sessions_of(msgs, **kw):
    stats = SessionStats()
    chats = by_chat(msgs, stats)
    out = []
    for m in chats.values():
        out += split_sessions(m, Rules(kw.get("burst", 300), kw.get("session", 3600), kw.get("lines", 12), 16), stats)
    return out, stats


def test_bursts_merge_and_sessions_split(msg):
    msgs = [
        msg("阿杰", "在吗", 0), msg("阿杰", "周末去爬山？", 0.5),
        msg("me", "好呀~", 2, me=True), msg("me", "几点", 2.2, me=True),
        msg("阿杰", "八点", 3),
        msg("阿杰", "到了吗", 200),  # > session gap: new conversation
        msg("me", "到啦~", 201, me=True),
    ]
    sessions, _ = sessions_of(msgs)
    assert len(sessions) == 2
    first = sessions[0].conversation.turns
    assert [t.role for t in first] == ["user", "assistant", "user"]
    assert [ln.text for ln in first[0].lines] == ["在吗", "周末去爬山？"]
    assert [ln.text for ln in first[1].lines] == ["好呀~", "几点"]


def test_unanswered_pause_opens_new_session(msg):
    msgs = [msg("a", "吃了吗", 0), msg("me", "吃了~", 1, me=True), msg("me", "你呢", 20, me=True)]
    sessions, _ = sessions_of(msgs, burst=300)
    assert len(sessions) == 2 and sessions[1].conversation.turns[0].role == "assistant"


def test_sorts_and_dedupes_reexported_messages(msg):
    a = [msg("a", "hi", 1), msg("me", "hey~", 2, me=True)]
    b = [msg("me", "hey~", 2, me=True), msg("a", "hi", 1)]  # same chat exported twice, other order
    sessions, stats = sessions_of(a + b)
    assert stats.duplicates == 2
    assert [t.role for t in sessions[0].conversation.turns] == ["user", "assistant"]


def test_samples_drop_owner_openers_and_unanswered_tail(msg):
    msgs = [msg("me", "在干嘛~", 0, me=True), msg("a", "上班", 1), msg("me", "冲鸭~", 2, me=True),
            msg("a", "你呢", 3)]
    sessions, _ = sessions_of(msgs)
    stats = SampleStats()
    samples = build_samples(sessions, "persona", 16, stats)
    assert len(samples) == 1
    roles = [m["role"] for m in samples[0].messages]
    assert roles == ["system", "user", "assistant"]
    assert samples[0].messages[2]["content"] == "冲鸭~"
    assert stats.dropped["owner turns opening a conversation (no prompt)"] == 1


def test_group_user_turns_carry_speaker_names(msg):
    msgs = [msg("阿杰", "谁去吃火锅", 0, chat="g", group=True), msg("小美", "我！", 0.2, chat="g", group=True),
            msg("林小夏", "我我我~", 1, me=True, chat="g", group=True)]
    sessions, _ = sessions_of(msgs)
    s = build_samples(sessions, "你是林小夏", 16, SampleStats())[0]
    assert s.messages[0] == {"role": "system", "content": "你是林小夏\n（群聊：g）"}
    assert s.messages[1]["content"] == "阿杰：谁去吃火锅\n小美：我！"
    assert s.messages[2]["content"] == "我我我~"


def test_long_friend_turn_keeps_newest_lines(msg):
    msgs = [msg("a", f"line{i}", i * 0.1) for i in range(20)] + [msg("me", "ok~", 3, me=True)]
    sessions, stats = sessions_of(msgs, lines=5)
    assert [ln.text for ln in sessions[0].conversation.turns[0].lines] == [f"line{i}" for i in range(15, 20)]
    assert stats.trimmed_lines == 15


def test_windows_start_on_user_and_end_on_assistant(msg):
    msgs = []
    for i in range(10):
        msgs += [msg("a", f"q{i}", i * 2), msg("me", f"a{i}~", i * 2 + 1, me=True)]
    sessions, _ = sessions_of(msgs)
    samples = build_samples(sessions, "", 6, SampleStats())
    assert [len(s.messages) for s in samples] == [6, 6, 6, 2]
    for s in samples:
        assert s.messages[0]["role"] == "user" and s.messages[-1]["role"] == "assistant"


def test_duplicate_samples_dropped(msg):
    msgs = [msg("a", "在吗", 0), msg("me", "在~", 1, me=True), msg("a", "在吗", 100), msg("me", "在~", 101, me=True)]
    sessions, _ = sessions_of(msgs)
    stats = SampleStats()
    assert len(build_samples(sessions, "", 16, stats)) == 1
    assert stats.dropped["duplicate samples"] == 1


def test_split_by_session_latest_to_dev(msg):
    msgs = []
    for day in range(10):
        base = day * 24 * 60
        msgs += [msg("a", f"q{day}", base), msg("me", f"r{day}~", base + 1, me=True),
                 msg("a", f"q{day}b", base + 2), msg("me", f"r{day}b~", base + 3, me=True)]
    sessions, _ = sessions_of(msgs)
    samples = build_samples(sessions, "", 2, SampleStats())  # two windows per session
    train, dev = split(samples, 0.2)
    assert len(dev) == 4 and len(train) == 16
    assert {s.session for s in train}.isdisjoint({s.session for s in dev})
    assert min(s.time for s in dev) > max(s.time for s in train)


def test_clean_counts_every_drop(msg):
    ds = Dataset(exclude_chats=["work*"], blocklist=["密码"], groups=False)
    msgs = [msg("a", "[图片]", 0, kind=Kind.IMAGE), msg("a", "[图片]", 1), msg("a", "", 2),
            msg("a", "hi", 3, chat="work-group"), msg("a", "hi", 4, chat="g", group=True),
            msg("a", "我的密码是123", 5), msg("a", "x" * 500, 6), msg("a", "call 13800138000", 7),
            msg("a", "hi", 8, chat="filehelper"), msg("", "quoted reply", 8.5), msg("me", "ok~", 9, me=True)]
    stats = CleanStats()
    kept = list(clean(msgs, ds, stats))
    assert [m.text for m in kept] == ["call <PHONE>", "ok~"]
    assert stats.dropped == {
        "not text: image": 1, "media placeholder only": 1, "empty text": 1, "chat in dataset.exclude_chats": 1,
        "group chat (dataset.groups = false)": 1, "contains a dataset.blocklist word": 1,
        "longer than dataset.max_message_chars": 1, "service/official account chat": 1,
        "sender unknown (e.g. a quote reply in a group)": 1}
    assert stats.pii == {"phone": 1}
    assert sum(stats.dropped.values()) + len(kept) == len(msgs)


def test_split_reply_is_inverse_of_burst_join():
    assert split_reply("好呀~\n几点\n") == ["好呀~", "几点"]
