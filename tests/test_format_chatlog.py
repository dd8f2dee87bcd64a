"""chatlog HTTP API answers saved as JSON or CSV (data_prep/formats/chatlog.py)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from data_prep.formats import chatlog, detect
from data_prep.records import Kind
from helpers import lines, run_format, skips

FIX = Path(__file__).parent / "fixtures" / "chatlog"
TANG, ME = "tang_mu_1994", "wxid_h7j9k1l3z5x722"


def cn(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp + "+08:00").astimezone().replace(tzinfo=None)


@pytest.mark.parametrize("name", ["tang_mu_1994.json", "羽毛球群.json", "tang_mu_1994_1970-01-01_9999-12-31.csv",
                                  "multi_talker.csv", "group_only.csv"])
def test_detected(name: str) -> None:
    assert detect(FIX / name).name == "chatlog"


def test_json_private_compact() -> None:
    msgs, log = run_format(chatlog, FIX / "tang_mu_1994.json")
    # no chat header and an empty talkerName: the chat is named after the peer
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {(TANG, "唐木", False)}
    rows = [(m.sender, m.by_owner, m.kind, m.text, m.quote) for m in msgs]
    assert rows == [
        (ME, True, Kind.TEXT, "A&B都行", None),  # Go's \u0026 escape
        ("唐木", False, Kind.TEXT, "A还是B？", None),
        ("唐木", False, Kind.TEXT, "那就A", "A还是B？"),  # 49/57: content is the reply, the quote is in refer
        ("唐木", False, Kind.IMAGE, "[图片]", None),
        ("系统消息", False, Kind.RECALL, "你撤回了一条消息", None),  # isSelf true on a system line
        ("唐木", False, Kind.MONEY, "[红包]", None),  # empty content
        (ME, True, Kind.MONEY, "[转账|发送 ￥25.00](奶茶)", None),
        ("唐木", False, Kind.FORWARD, "[聊天记录] 群聊的聊天记录", None),
        ("唐木", False, Kind.LINK, "[链接] 周末路线", None),
        (ME, True, Kind.TEXT, "好，就这么定", None),
    ]
    assert msgs[0].time == cn("2025-08-12 18:29:44")  # RFC 3339 with +08:00
    assert lines(msgs) == [1] * 10  # one compact line
    assert skips(log) == [(1, "forwarded history item")] * 2


def test_json_group_pat_and_bad_item() -> None:
    msgs, log = run_format(chatlog, FIX / "羽毛球群.json")
    assert [(m.chat_name, m.is_group, m.sender, m.by_owner, m.kind, m.text) for m in msgs] == [
        ("羽毛球群", True, "阿强", False, Kind.TEXT, "今晚打球吗"),
        ("羽毛球群", True, "系统消息", False, Kind.SYSTEM, '"阿强" 拍了拍 "小满"'),
        ("羽毛球群", True, "小满", True, Kind.TEXT, "打！"),
    ]
    assert lines(msgs) == [2, 3, 4] and skips(log) == [(5, "chatlog: not a message object")]


def test_csv_private_owner_from_the_chat_and_rendered_content() -> None:
    msgs, log = run_format(chatlog, FIX / "tang_mu_1994_1970-01-01_9999-12-31.csv")
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {(TANG, "唐木", False)}
    rows = [(m.sender, m.by_owner, m.kind, m.text, m.quote) for m in msgs]
    assert rows == [
        ("唐木", False, Kind.TEXT, "A还是B？", None),
        (ME, True, Kind.TEXT, "那就A", "A还是B？"),  # "> " lines cut off, kept as the quote
        ("唐木", False, Kind.IMAGE, "[图片]", None),
        ("唐木", False, Kind.TEXT, "[旺柴]", None),  # a WeChat emoji code is text
        ("唐木", False, Kind.FORWARD, "[合并转发|群聊的聊天记录]", None),
        ("唐木", False, Kind.MONEY, "[红包]", None),
        ("唐木", False, Kind.LINK, "[链接] 周末路线", None),
        ("系统消息", False, Kind.RECALL, "你撤回了一条消息", None),
        (ME, True, Kind.TEXT, "好，就这么定", None),
    ]
    assert msgs[0].time == datetime(2025, 8, 12, 18, 37, 30)  # naive local, as written
    assert skips(log) == [(8, "forwarded history item")] * 2 + [(18, "chatlog: bad time")]


def test_csv_group_needs_me_unless_a_private_chat_tells() -> None:
    alone, _ = run_format(chatlog, FIX / "group_only.csv")
    assert [m.by_owner for m in alone] == [False, False]
    named, _ = run_format(chatlog, FIX / "group_only.csv", frozenset({"小满"}))
    assert [m.by_owner for m in named] == [False, True]
    mixed, _ = run_format(chatlog, FIX / "multi_talker.csv")
    assert [(m.chat_name, m.is_group, m.sender, m.by_owner) for m in mixed] == [
        ("羽毛球群", True, "阿强", False), ("羽毛球群", True, "小满", True),
        ("唐木", False, "唐木", False), ("唐木", False, ME, True)]
