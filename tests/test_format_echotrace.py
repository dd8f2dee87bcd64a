"""EchoTrace JSON exports (data_prep/formats/echotrace.py, read by the shared WeChat 4.x JSON parser)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from data_prep.formats import detect, echotrace
from data_prep.records import Kind
from helpers import lines, run_format, skips

FILE = Path(__file__).parent / "fixtures" / "echotrace" / "大学室友_1767446142318.json"
ROOM, LAOTAN, ME = "39120576648@chatroom", "wxid_k2m4n6p8q0r222", "wxid_m1e2e3t4r5a622"


def cn(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp + "+08:00").astimezone().replace(tzinfo=None)


def test_detected() -> None:
    assert detect(FILE).name == "echotrace"


def test_group_export_every_trap() -> None:
    msgs, log = run_format(echotrace, FILE, frozenset({ME}))  # isSend is null on one of my messages
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {(ROOM, "大学室友", True)}
    rows = [(m.sender, m.sender_id, m.by_owner, m.kind, m.text) for m in msgs]
    assert rows == [
        ("老谭", LAOTAN, False, Kind.TEXT, "周末聚餐？"),
        ("小周", ME, True, Kind.TEXT, "好啊，我订位子"),  # isSend null: `me` decides
        ("系统消息", None, False, Kind.SYSTEM, "你领取了老谭的红包"),  # sender was the group id, named 群成员
        ("阿May", "wxid_n3w5m7b9v1c322", False, Kind.TEXT, "算我一个"),  # 群成员 named from groupMembers
        ("wxid_z0x9c8v7b6n522", "wxid_z0x9c8v7b6n522", False, Kind.TEXT, "我也去"),  # 群成员, kept apart by id
        ("小周", ME, True, Kind.MONEY, "转账[50.00元]"),
        ("老谭", LAOTAN, False, Kind.TEXT, "好呀"),  # quote: the reply only
        ("老谭", LAOTAN, False, Kind.FORWARD, "[聊天记录]"),  # contents not exported: nothing to count
        ("系统消息", None, False, Kind.RECALL, "撤回了一条消息"),
        ("老谭", LAOTAN, False, Kind.MONEY, "[红包]"),
        ("老谭", LAOTAN, False, Kind.VOICE, "[语音 6秒]"),
        ("系统消息", None, False, Kind.SYSTEM, "[拍一拍]"),
        ("老谭", LAOTAN, False, Kind.IMAGE, "[图片]"),  # content replaced by the media path
        ("老谭", LAOTAN, False, Kind.OTHER, "[其他消息]"),  # 未知类型(…)
        ("小周", ME, True, Kind.TEXT, "到时候见"),
    ]
    assert msgs[0].time == cn("2025-12-13 18:10:12")
    assert lines(msgs)[:2] == [12, 25]
    assert skips(log) == []


def test_null_is_send_without_me_is_not_mine() -> None:
    msgs, _ = run_format(echotrace, FILE)
    assert [m.by_owner for m in msgs if m.text == "好啊，我订位子"] == [False]
    assert sum(m.by_owner for m in msgs) == 2  # the isSend: 1 rows
