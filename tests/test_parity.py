"""Training and serving see one conversation: random chats fed through the dataset path (sessions, samples, the
training sequences) and through the live path (the responder, message by message, with real sqlite) give the
model the same prompt tokens before every owner turn, private and group, with multi-line messages, bursts,
stalls, long silences, the owner writing themself, and conversations longer than the prompt budget."""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.chat import Incoming
from bot.history import History
from bot.responder import TYPING_REFRESH_S, Responder
from core.chat_format import IGNORE_INDEX, encode_sample, prompt_ids
from core.config import load
from core.conversation import Rules
from data_prep.records import Kind, Message
from data_prep.samples import SampleStats, build_samples
from data_prep.sessions import SessionStats, by_chat, split_sessions
from scripted import Recorder

PERSONA = "你是林小夏。"
RULES = Rules(burst_gap_s=300, session_gap_s=3600, max_turn_lines=4, max_turns=6)
CUTOFF, BUDGET = 400, 128  # the budget is small enough that long conversations are fitted
DEBOUNCE_S = 4.0
T0 = 1_700_000_000.0
FRIENDS = ["阿杰", "小美", "Tom"]
# gaps well inside or well beyond the rules' thresholds, so a reply stored at its first message's time (the clone
# sends a burst at once) decides every rule as the export's times do
GAPS = [1, 45, RULES.burst_gap_s + 200, RULES.session_gap_s + 500]

line = st.text(alphabet="哈好的吗你在干嘛 abc~？", min_size=1, max_size=10)
text = st.lists(line, min_size=1, max_size=3).map("\n".join)
event = st.tuples(st.booleans(), st.sampled_from(FRIENDS), text, st.sampled_from(GAPS))
chats = st.tuples(st.booleans(), st.lists(event, min_size=1, max_size=40))


@dataclass
class Event:
    by_owner: bool
    speaker: str
    text: str  # ends with a unique marker "#<index>", to find each owner turn in the training sequences
    time: float


def events(spec) -> list[Event]:
    out, t = [], T0
    for i, (by_owner, speaker, body, gap) in enumerate(spec):
        t += gap
        out.append(Event(by_owner, "me" if by_owner else speaker, f"{body} #{i}", t))
    return out


def trained_prefixes(tok, evs: list[Event], is_group: bool) -> dict[int, list[int]]:
    """Dataset path: the tokens before each trained owner turn, by the index of the owner's first message."""
    msgs = [Message("chat", "周末群" if is_group else "阿杰", is_group, e.speaker, e.by_owner,
                    datetime(1970, 1, 1) + timedelta(seconds=e.time), Kind.TEXT, e.text) for e in evs]
    sessions = []
    for chat in by_chat(msgs, SessionStats()).values():
        sessions += split_sessions(chat, RULES, SessionStats())
    out = {}
    for sample in build_samples(sessions, PERSONA, RULES.max_turns, SampleStats()):
        for enc in encode_sample(tok, sample.messages, CUTOFF, BUDGET):
            labelled = [i for i, x in enumerate(enc.labels) if x != IGNORE_INDEX]
            starts = [i for i in labelled if i == 0 or enc.labels[i - 1] == IGNORE_INDEX]
            for start in starts:
                end = next((i for i in range(start, len(enc.labels)) if enc.labels[i] == IGNORE_INDEX),
                           len(enc.labels))
                first = int(re.search(r"#(\d+)", tok.decode(enc.input_ids[start:end]))[1])
                assert first not in out, "an owner turn trained twice"
                out[first] = enc.input_ids[:start]
    return out


class TokenEngine:
    """What LocalEngine does with a prompt (fit, render, tokenize), without the model: records the tokens and
    answers what the test says the owner answered."""

    def __init__(self, tok):
        self.tok, self.answer, self.prompts = tok, "", []

    async def reply(self, messages: list[dict]) -> str:
        self.prompts.append(prompt_ids(self.tok, messages, BUDGET)[0])
        return self.answer

    async def aclose(self) -> None:
        pass


async def live_prefixes(tok, evs: list[Event], is_group: bool, data_dir) -> dict[int, list[int]]:
    """Live path: the prompt tokens the responder sends after each friend message, by that message's index. The
    owner's messages arrive as the clone's reply when they answer a friend directly, else as the owner writing."""
    cfg = load(overrides={"persona.system_prompt": PERSONA, "bot.allow": ["telegram:*"], "bot.groups": "all",
                          "bot.takeover_s": 0, "bot.debounce_s": DEBOUNCE_S, "bot.message_pause_s": 0,
                          "bot.rate_limit": 10_000, "bot.data_dir": str(data_dir)})
    clock, gate = [T0], asyncio.Event()

    async def sleep(s: float) -> None:
        if s == DEBOUNCE_S:
            await gate.wait()  # the test decides when a friend has stopped typing
        elif s == TYPING_REFRESH_S:
            await asyncio.Future()  # cancelled when the reply is ready
        else:
            await asyncio.sleep(0)

    engine, history = TokenEngine(tok), History(data_dir, RULES)
    responder = Responder(cfg, engine, history, clock=lambda: clock[0], sleep=sleep)
    chat, out, i = Recorder(), {}, 0
    name = "周末群" if is_group else "阿杰"
    try:
        while i < len(evs):
            e = evs[i]
            clock[0] = e.time
            if e.by_owner:  # the owner writing themself
                await responder.on_message(Incoming("telegram", "chat", name, is_group, "me", "me", e.text,
                                                    by_owner=True, time=e.time), chat)
                i += 1
                continue
            await responder.on_message(Incoming("telegram", "chat", name, is_group, e.speaker, e.speaker, e.text,
                                                time=e.time), chat)
            burst: list[Event] = []  # the owner's messages that answer this one: the clone says them
            for nxt in evs[i + 1:]:
                gap = nxt.time - (burst[-1] if burst else e).time
                if not nxt.by_owner or gap > (RULES.burst_gap_s if burst else RULES.session_gap_s):
                    break
                burst.append(nxt)
            engine.answer = "\n".join(b.text for b in burst)
            if burst:
                clock[0] = burst[0].time
            before = len(engine.prompts)
            gate.set()
            await responder.settle("telegram:chat")
            gate.clear()
            if len(engine.prompts) > before:
                out[i] = engine.prompts[-1]
            i += 1 + len(burst)
    finally:
        await responder.aclose()
        history.close()
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(chats)
def test_every_trained_owner_turn_is_prompted_live_with_the_same_tokens(tok, tmp_path_factory, spec):
    is_group, raw = spec
    evs = events(raw)
    trained = trained_prefixes(tok, evs, is_group)
    live = asyncio.run(live_prefixes(tok, evs, is_group, tmp_path_factory.mktemp("bot")))
    for owner_first, tokens in trained.items():
        assert live.get(owner_first - 1) == tokens, (owner_first, tok.decode(tokens),
                                                     tok.decode(live.get(owner_first - 1) or []))
