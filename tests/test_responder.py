"""The responder's rules with a deterministic engine (the model is beside the point here) and real sqlite."""
from __future__ import annotations

import asyncio
import logging

import pytest

from bot.chat import Incoming, SendFailed
from bot.history import History
from bot.responder import Responder
from core.chat_format import SPEAKER_SEPARATOR, USER
from core.config import load
from core.conversation import Rules, Said
from scripted import Recorder, ScriptedEngine

RULES = Rules.from_config(load())  # the default config's conversation rules

PERSONA = "你是林小夏。"


class Clock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def friend(text: str, *, sender: str = "111", name: str = "Alice", chat: str | None = None, group: bool = False,
           addressed: bool = True, by_owner: bool = False, channel: str = "telegram", time: float | None = None):
    return Incoming(channel=channel, chat_id=chat or sender, chat_name=name if not group else "周末群",
                    is_group=group, sender_id=sender, sender_name=name, text=text, addressed=addressed,
                    by_owner=by_owner, time=1_700_000_000.0 if time is None else time)


@pytest.fixture
def make(tmp_path):
    made = []

    def build(engine=None, **bot):
        settings = {"allow": ["telegram:111", "telegram:-100"], "owner": ["telegram:999"], "debounce_s": 0.0,
                    "message_pause_s": 0.0, "data_dir": str(tmp_path / "bot")} | bot
        cfg = load(overrides={"persona.system_prompt": PERSONA, **{f"bot.{k}": v for k, v in settings.items()}})
        history = History(cfg.path(cfg.bot.data_dir), RULES)
        clock = Clock()
        r = Responder(cfg, engine or ScriptedEngine(), history, clock=clock)
        r.test_clock = clock
        made.append(history)
        return r

    yield build
    for h in made:
        h.close()


async def say(r: Responder, msg: Incoming, chat: Recorder | None = None) -> Recorder:
    chat = chat or Recorder()
    await r.on_message(msg, chat)
    await r.settle(msg.chat_key)
    return chat


async def test_allowed_friend_gets_an_answer_and_both_turns_are_kept(make):
    r = make()
    chat = await say(r, friend("在吗"))
    assert chat.sent == ["收到~"] and chat.typings >= 1
    conversation = r.history.conversation("telegram:111")
    assert [(t.role, [ln.text for ln in t.lines]) for t in conversation.turns] == [("user", ["在吗"]),
                                                                                  ("assistant", ["收到~"])]
    assert r.engine.prompts[0] == [{"role": "system", "content": PERSONA}, {"role": "user", "content": "在吗"}]


async def test_strangers_are_ignored_logged_once_and_not_stored(make, caplog):
    r = make()
    caplog.set_level(logging.INFO, logger="bot.responder")
    for text in ("hi", "hello?", "在吗"):
        assert (await say(r, friend(text, sender="555", name="Mallory"))).sent == []
    notes = [rec.getMessage() for rec in caplog.records if "telegram:555" in rec.getMessage()]
    assert len(notes) == 1 and 'add "telegram:555"' in notes[0]
    assert r.history.conversation("telegram:555") is None and r.engine.prompts == [] and r.stats.ignored == 3


async def test_empty_allowlist_denies_everyone(make):
    r = make(allow=[], owner=[])
    assert (await say(r, friend("在吗"))).sent == []


async def test_a_burst_is_answered_once_as_one_user_turn(make):
    r = make(debounce_s=0.2)
    chat = Recorder()
    for text in ("在吗", "问你个事", "周末有空吗"):
        await r.on_message(friend(text), chat)
        await asyncio.sleep(0.05)
    await r.settle("telegram:111")
    assert len(r.engine.prompts) == 1 and chat.sent == ["收到~"]
    assert r.engine.prompts[0][-1] == {"role": "user", "content": "在吗\n问你个事\n周末有空吗"}


async def test_a_reply_holding_several_messages_is_sent_as_several(make):
    r = make(engine=ScriptedEngine(lambda m: "哈哈哈好啊\n\n几点？~"))
    chat = await say(r, friend("周末去爬山吗"))
    assert chat.sent == ["哈哈哈好啊", "几点？~"] and chat.typings == 2
    assert [ln.text for ln in r.history.conversation("telegram:111").turns[-1].lines] == ["哈哈哈好啊", "几点？~"]


async def test_groups_answer_only_when_addressed_but_keep_the_context_with_speakers(make):
    r = make()
    group = dict(chat="-100", group=True)
    assert (await say(r, friend("今晚吃啥", sender="222", name="阿杰", addressed=False, **group))).sent == []
    chat = await say(r, friend("小夏你来吗", sender="111", name="Alice", **group))
    assert chat.sent == ["收到~"]
    prompt = r.engine.prompts[0]
    assert prompt[0]["content"] == f"{PERSONA}\n（群聊：周末群）"
    assert prompt[-1]["content"] == f"阿杰{SPEAKER_SEPARATOR}今晚吃啥\nAlice{SPEAKER_SEPARATOR}小夏你来吗"


@pytest.mark.parametrize("policy, answered", [("all", True), ("never", False)])
async def test_group_policy(make, policy, answered):
    r = make(groups=policy)
    chat = await say(r, friend("今晚吃啥", chat="-100", group=True, addressed=False))
    assert bool(chat.sent) is answered


async def test_owner_writing_in_a_chat_takes_over_for_a_while(make):
    r = make(takeover_s=600)
    await say(r, friend("在吗"))
    await say(r, friend("我来回吧", chat="111", by_owner=True, sender="me", name="林小夏"))
    assert (await say(r, friend("好的"))).sent == []  # silent: the owner is talking
    turns = r.history.conversation("telegram:111").turns
    assert [t.role for t in turns] == ["user", "assistant", "user"] and turns[1].lines[-1].text == "我来回吧"
    r.test_clock.now += 601
    assert (await say(r, friend("还在吗", time=r.test_clock.now))).sent == ["收到~"]


async def test_what_the_owner_writes_outside_the_clones_chats_is_not_kept(make):
    r = make()
    await say(r, friend("我到了", channel="wechat", chat="wxid_stranger", sender="wxid_me", by_owner=True))
    assert r.history.conversation("wechat:wxid_stranger") is None and r.history.keys() == []


async def test_owner_in_a_telegram_group_is_a_takeover_too(make):
    r = make()
    await say(r, friend("我在", sender="999", name="Owner", chat="-100", group=True))
    assert (await say(r, friend("小夏？", chat="-100", group=True))).sent == []


async def test_owner_commands(make):
    r = make()
    owner = dict(sender="999", name="Owner")
    assert "paused everywhere" in (await say(r, friend("/pause", **owner))).sent[0]
    assert (await say(r, friend("在吗"))).sent == []
    await say(r, friend("/resume", **owner))
    assert (await say(r, friend("在吗"))).sent == ["收到~"]
    status = (await say(r, friend("/status", **owner))).sent[0]
    assert "telegram:111 (Alice)" in status and "replies 1" in status
    assert "no history" in (await say(r, friend("/forget telegram:nope", **owner))).sent[0]
    assert (await say(r, friend("/forget telegram:111", **owner))).sent == ["forgot 1 chat(s)"]
    assert r.history.conversation("telegram:111") is None
    assert (await say(r, friend("/pause", sender="111"))).sent == ["收到~"]  # a friend's "/pause" is just text


async def test_per_chat_rate_limit(make):
    r = make(rate_limit=2, rate_window_s=60)
    answers = [(await say(r, friend(f"第{i}条"))).sent for i in range(3)]
    assert answers == [["收到~"], ["收到~"], []] and r.stats.rate_limited == 1
    other = await say(r, friend("hi", sender="-100", chat="-100"))  # other chats are not limited
    assert other.sent == ["收到~"]
    r.test_clock.now += 61
    assert (await say(r, friend("又来了", time=r.test_clock.now))).sent == ["收到~"]


async def test_typing_is_shown_for_as_long_as_a_slow_model_generates(make, monkeypatch):
    monkeypatch.setattr("bot.responder.TYPING_REFRESH_S", 0.05)

    class Slow(ScriptedEngine):
        async def reply(self, messages):
            await asyncio.sleep(0.3)
            return await super().reply(messages)

    chat = await say(make(engine=Slow()), friend("在吗"))
    assert chat.sent == ["收到~"] and chat.typings >= 4


async def test_an_error_in_one_chat_does_not_stop_the_others(make, caplog):
    engine = ScriptedEngine()
    engine.fail_for = {"boom"}
    r = make(engine=engine)
    assert (await say(r, friend("boom"))).sent == []
    assert (await say(r, friend("hi", sender="-100", chat="-100"))).sent == ["收到~"]
    assert r.stats.errors == 1 and any("failed to answer" in rec.getMessage() for rec in caplog.records)


async def test_history_survives_a_restart(make, tmp_path):
    r = make()
    await say(r, friend("记住我"))
    r.history.close()
    again = History(tmp_path / "bot", RULES)
    try:
        assert [t.role for t in again.conversation("telegram:111").turns] == ["user", "assistant"]
    finally:
        again.close()
    r.history = History(tmp_path / "bot", RULES)  # so the fixture can close it


async def test_idle_sessions_end_after_the_training_session_gap(make):
    r = make()
    assert r.rules.session_gap_s == r.cfg.dataset.session_gap_s == 3600
    await say(r, friend("在吗"))
    r.test_clock.now += 1800
    assert r.expire_idle() == []
    r.test_clock.now += 1801
    assert r.expire_idle() == ["telegram:111"]
    assert r.history.conversation("telegram:111") is None and r.history.ended() == 1
    await say(r, friend("新话题", time=r.test_clock.now))
    assert r.engine.prompts[-1][1:] == [{"role": "user", "content": "新话题"}]  # a fresh session


async def test_stale_backlog_is_not_answered(make):
    r = make()
    assert (await say(r, friend("昨天的消息", time=r.test_clock.now - 86400))).sent == []


async def test_long_threads_are_trimmed_to_the_budget_keeping_the_newest_turns(make):
    engine = ScriptedEngine()
    engine.max_prompt_tokens = 120
    r = make(engine=engine, rate_limit=100)
    for i in range(40):
        await say(r, friend(f"第{i}条消息，讲点什么"))
    prompt = engine.prompts[-1]
    assert engine.count_tokens(prompt) <= 120
    assert prompt[0]["content"] == PERSONA and prompt[1]["role"] == "user"
    assert prompt[-1]["content"] == "第39条消息，讲点什么"


class FailingAfter(Recorder):
    """Delivers ``n`` messages, then every send fails as a channel does once its retries are spent."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    async def send(self, text: str) -> None:
        if len(self.sent) >= self.n:
            raise SendFailed("telegram: sending to chat 111 failed after 6 attempt(s)")
        await super().send(text)


async def test_a_reply_is_stored_as_delivered_and_stops_at_a_failed_send(make):
    r = make(engine=ScriptedEngine(lambda messages: "好呀\n几点\n在哪"))
    chat = await say(r, friend("周末去爬山？"), FailingAfter(1))
    assert chat.sent == ["好呀"] and r.stats.errors == 0
    turns = r.history.conversation("telegram:111").turns
    assert [(t.role, [ln.text for ln in t.lines]) for t in turns] == [("user", ["周末去爬山？"]),
                                                                     ("assistant", ["好呀"])]


async def test_nothing_delivered_leaves_the_chat_waiting_for_an_answer(make):
    r = make()
    await say(r, friend("在吗"), FailingAfter(0))
    assert r.history.wants_answer("telegram:111")
    assert [t.role for t in r.history.conversation("telegram:111").turns] == ["user"]


class Channel:
    name = "telegram"

    def __init__(self):
        self.writers: dict[str, Recorder] = {}

    def writer(self, chat_id: str, is_group: bool) -> Recorder:
        return self.writers.setdefault(chat_id, Recorder())


async def test_chats_left_waiting_are_answered_after_a_restart(make, tmp_path):
    r = make(groups="mention")
    clock = r.test_clock
    for msg in (friend("在吗"),  # waiting
                friend("你好", sender="-100", chat="-100", group=True, addressed=False),  # group chatter: no
                friend("昨天的", sender="222", chat="222", time=clock.now - 7200)):  # stale: no
        r.history.add(msg.chat_key, Said(USER, msg.sender_name if msg.is_group else "", msg.text, msg.time),
                      chat_name=msg.chat_name, is_group=msg.is_group,
                      wants_answer=msg.addressed or not msg.is_group)
    channel = Channel()
    assert r.answer_pending(channel) == ["telegram:111"]
    await r.settle("telegram:111")
    assert channel.writers["111"].sent == ["收到~"] and not r.history.wants_answer("telegram:111")
    assert r.answer_pending(channel) == []  # answered: nothing left
