"""ChatLab standard format, JSON and JSONL, from any producer (data_prep/formats/chatlab.py)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from data_prep.formats import chatlab, detect
from data_prep.records import Kind
from data_prep.sources import ExportError, ParseLog
from helpers import lines, run_format, skips

FIX = Path(__file__).parent / "fixtures" / "chatlab"
ROOM, ME, LAOTAN, MAY = "24681357902@chatroom", "wxid_r4t6y8u0i2o422", "wxid_k2m4n6p8q0r222", "may_0611"


@pytest.mark.parametrize("name", ["阿宁.jsonl", "周末爬山群.json", "木槿_qq.json"])
def test_detected(name: str) -> None:
    assert detect(FIX / name).name == "chatlab"


def test_jsonl_by_ciphertalk_owner_from_meta() -> None:
    msgs, log = run_format(chatlab, FIX / "阿宁.jsonl")
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {("阿宁", "阿宁", False)}
    rows = [(m.sender, m.by_owner, m.kind, m.text, m.quote) for m in msgs]
    assert rows == [
        ("阿宁", False, Kind.TEXT, "周末来吃饭？", None),
        ("许三多", True, Kind.TEXT, "行，我带水果", "周末来吃饭？"),  # 25: quote found by replyToMessageId
        ("阿宁", False, Kind.FORWARD, "[聊天记录] 阿宁和房东的聊天记录", None),  # type 7
        ("阿宁", False, Kind.MONEY, "[转账] (阿宁 转账给 许三多) ￥50.00 菜钱", None),  # type 99
        ("许三多", True, Kind.MONEY, "微信红包", None),  # type 7
        ("系统消息", False, Kind.RECALL, "你撤回了一条消息", None),  # 80, sent by the owner: still nobody's words
        ("许三多", True, Kind.TEXT, "六点到", None),
    ]
    assert msgs[0].time == datetime.fromtimestamp(1764470002)
    assert lines(msgs) == [6, 8, 9, 10, 11, 12, 13]  # after a comment line and a broken line
    # the forwarded author 房东 is a member, but never a speaker or a reason to call the chat a group
    assert "房东" not in {m.sender for m in msgs}
    assert skips(log) == [(7, "chatlab: invalid JSON line"), (9, "forwarded history item"),
                          (9, "forwarded history item"), (14, "chatlab: message without time")]


def test_json_by_weflow_without_owner_id() -> None:
    me = frozenset({ME})
    msgs, log = run_format(chatlab, FIX / "周末爬山群.json", me)
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {(ROOM, "周末爬山群", True)}
    rows = [(m.sender, m.sender_id, m.by_owner, m.kind, m.text, m.quote) for m in msgs]
    assert rows == [
        ("老谭", LAOTAN, False, Kind.TEXT, "周六爬山谁去", None),
        ("周一舟", ME, True, Kind.TEXT, "我去", "周六爬山谁去"),  # WeFlow's [引用 …] suffix cut off
        ("阿May", MAY, False, Kind.MONEY, "微信红包", None),  # 7 hides red packets …
        ("阿May", MAY, False, Kind.STICKER, "[表情包]", None),  # … and stickers
        ("老谭", LAOTAN, False, Kind.LINK, "[周六路线](https://example.com/route)", None),
        ("老谭", LAOTAN, False, Kind.IMAGE, "[图片]", None),  # content null
        ("系统消息", None, False, Kind.RECALL, "你撤回了一条消息", None),  # sender = my wxid
        ("系统消息", None, False, Kind.SYSTEM, '"老谭"邀请"小林"加入了群聊', None),  # sender = the group
        ("周一舟", ME, True, Kind.MONEY, "[转账] (周一舟 转账给 老谭) ￥30.00 门票", None),
        ("阿May", MAY, False, Kind.FORWARD, "[转发的聊天记录]群聊的聊天记录", None),
        ("阿May", MAY, False, Kind.TEXT, "算我一个", None),
        ("周一舟", ME, True, Kind.TEXT, "好，八点集合", None),
    ]
    assert skips(log) == [(101, "forwarded history item")] * 2
    # no ownerId and no `me`: nothing is the owner's (inspect warns; see test_format_contract)
    assert not any(m.by_owner for m in run_format(chatlab, FIX / "周末爬山群.json")[0])
    # the owner's account name works as well as the id
    assert sum(m.by_owner for m in run_format(chatlab, FIX / "周末爬山群.json", frozenset({"周一舟"}))[0]) == 3


def test_other_platform_millisecond_timestamps() -> None:
    msgs, _ = run_format(chatlab, FIX / "木槿_qq.json", frozenset({"小周"}))
    assert [(m.sender, m.by_owner, m.kind, m.text, m.time) for m in msgs] == [
        ("木槿", False, Kind.TEXT, "周六去图书馆", datetime.fromtimestamp(1767006840)),
        ("小周", True, Kind.TEXT, "好的", datetime.fromtimestamp(1767006960)),
        ("木槿", False, Kind.STICKER, "[表情]", datetime.fromtimestamp(1767007000)),
        ("系统消息", False, Kind.SYSTEM, "木槿 戳了戳 小周", datetime.fromtimestamp(1767007060)),
    ]
    assert {(m.chat_id, m.is_group) for m in msgs} == {("木槿", False)}


def test_structure_errors(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text('{"_type":"message","sender":"a","timestamp":1,"type":0,"content":"hi"}\n', encoding="utf-8")
    assert not chatlab.FORMAT.sniff(p, p.read_text())  # no header: not recognised as ChatLab
    with pytest.raises(ExportError) as e:
        list(chatlab.FORMAT.parse(p, ParseLog(), frozenset()))
    assert e.value.line == 1 and "header" in e.value.message
    p = tmp_path / "y.json"
    p.write_text('{"chatlab": {"version": "0.0.2"}, "messages": []}', encoding="utf-8")
    with pytest.raises(ExportError, match='no "meta"'):
        list(chatlab.FORMAT.parse(p, ParseLog(), frozenset()))
