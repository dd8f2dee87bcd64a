"""CipherTalk / 密语 详细 JSON exports (data_prep/formats/ciphertalk.py, shared WeChat 4.x JSON parser)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from data_prep.formats import ciphertalk, detect
from data_prep.records import Kind
from helpers import lines, run_format, skips

FIX = Path(__file__).parent / "fixtures" / "ciphertalk"
ANING, XU = "wxid_v8b2n4m6q1w322", "wxid_e5r7t9y1u3i522"


def cn(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp + "+08:00").astimezone().replace(tzinfo=None)


@pytest.mark.parametrize("name", ["阿宁.json", "饭搭子.json"])
def test_detected(name: str) -> None:
    assert detect(FIX / name).name == "ciphertalk"


def test_private_every_trap() -> None:
    msgs, log = run_format(ciphertalk, FIX / "阿宁.json")
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {(ANING, "阿宁", False)}
    rows = [(m.sender, m.by_owner, m.kind, m.text) for m in msgs]
    assert rows == [
        ("阿宁", False, Kind.TEXT, "周末来吃饭？"),
        ("许三多", True, Kind.TEXT, "行，我带水果"),  # quote: content is the reply, rawContent the XML
        ("阿宁", False, Kind.TEXT, "OK:收到"),  # content lost "OK:"; rawContent still has it
        ("许三多", True, Kind.TEXT, "几点到？"),  # no isSend: session.ownerId decides
        ("阿宁", False, Kind.FORWARD, "[聊天记录] 阿宁和房东的聊天记录"),
        ("阿宁", False, Kind.MONEY, "[转账] (阿宁 转账给 许三多) ￥50.00 菜钱"),
        ("许三多", True, Kind.MONEY, "微信红包"),
        ("系统消息", False, Kind.RECALL, "你撤回了一条消息"),  # isSend 1 on a system line
        ("许三多", True, Kind.TEXT, "六点到"),
    ]
    assert msgs[0].time == cn("2025-11-30 10:33:22")
    assert lines(msgs)[:2] == [22, 37]
    # chatRecords look like messages but are one forwarded bubble: counted, not read
    assert skips(log) == [(81, "forwarded history item")] * 2


def test_group_raw_content_keeps_the_text_but_not_the_sender_prefix() -> None:
    msgs, _ = run_format(ciphertalk, FIX / "饭搭子.json")
    assert {(m.chat_id, m.is_group) for m in msgs} == {("18812345678@chatroom", True)}
    assert [(m.sender, m.by_owner, m.kind, m.text) for m in msgs] == [
        ("阿宁", False, Kind.TEXT, "OK:走起"),  # rawContent "wxid_…:\nOK:走起"
        ("阿宁", False, Kind.TEXT, "今晚吃啥"),
        ("许三多", True, Kind.TEXT, "火锅"),
        ("系统消息", False, Kind.SYSTEM, '"阿宁"修改群名为“饭搭子”'),
    ]
