"""WeFlow exports (data_prep/formats/weflow.py): 详细 JSON (private, group, arkme-json) and WeClone CSV."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from data_prep.formats import detect, pywxdump, weflow
from data_prep.records import Kind
from data_prep.sources import ExportError, ParseLog
from helpers import lines, run_format, skips

FIX = Path(__file__).parent / "fixtures" / "weflow"
LIN, ME = "lin_yz_0504", "wxid_r4t6y8u0i2o422"


def cn(stamp: str) -> datetime:
    """A China wall-clock time as this machine's naive local time (how absolute times are read)."""
    return datetime.fromisoformat(stamp + "+08:00").astimezone().replace(tzinfo=None)


@pytest.mark.parametrize("name", ["私聊_林雨舟.json", "群聊_周末爬山群.json", "arkme_林雨舟.json", "私聊_林雨舟.csv",
                                  "爬山群.csv"])
def test_detected(name: str) -> None:
    assert detect(FIX / name).name == "weflow"


def test_json_private_every_trap() -> None:
    msgs, log = run_format(weflow, FIX / "私聊_林雨舟.json")
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {(LIN, "林雨舟", False)}
    rows = [(m.sender, m.sender_id, m.by_owner, m.kind, m.text, m.quote) for m in msgs]
    assert rows == [
        ("林雨舟", LIN, False, Kind.TEXT, "明早几点出发？\n我订车", None),
        ("林雨舟", LIN, False, Kind.IMAGE, "[图片]", None),  # content null: text-only export
        ("周一舟", ME, True, Kind.TEXT, "八点吧", "明早几点出发？ 我订车"),  # [引用 …] suffix cut off
        ("系统消息", None, False, Kind.RECALL, "你撤回了一条消息", None),  # isSend 1, but a system line is nobody's
        ("周一舟", ME, True, Kind.MONEY, "微信红包", None),  # red packet: only its card title, type 其他消息
        ("林雨舟", LIN, False, Kind.MONEY, "[转账] (林雨舟 转账给 我) ￥88.00 奶茶", None),
        ("林雨舟", LIN, False, Kind.FORWARD, "[转发的聊天记录]群聊的聊天记录", None),
        ("系统消息", None, False, Kind.SYSTEM, '"林雨舟" 拍了拍我', None),  # pat
        ("周一舟", ME, True, Kind.CALL, "[语音通话] 02:13", None),
        ("林雨舟", LIN, False, Kind.LINK, "[链接] 周末去哪玩", None),  # the URL line is not kept
        ("林雨舟", LIN, False, Kind.STICKER, "[表情包：开心]", None),
        ("周一舟", ME, True, Kind.TEXT, "好的，明早见", None),
        ("林雨舟", LIN, False, Kind.TEXT, "收到", "明早 八点 楼下"),  # suffix found without quotedSender fields
        ("林雨舟", LIN, False, Kind.IMAGE, "[图片]", None),  # content was the exported media path
    ]
    assert msgs[0].time == cn("2026-06-10 18:22:11") and msgs[-1].time == cn("2026-06-10 18:34:00")
    assert lines(msgs)[:3] == [17, 31, 44]  # pretty JSON: the line each message object opens on
    # the forwarded bundle's two lines are counted, never messages or speakers
    assert skips(log) == [(103, "forwarded history item")] * 2 + [(213, "weflow: message without time")]


def test_json_group_trims_the_prefix_newline_and_names_members() -> None:
    msgs, _ = run_format(weflow, FIX / "群聊_周末爬山群.json")
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {("24681357902@chatroom", "周末爬山群", True)}
    assert [(m.sender, m.by_owner, m.kind, m.text) for m in msgs] == [
        ("老谭", False, Kind.TEXT, "周六爬山谁去"),  # "\n周六爬山谁去": WeFlow's prefix strip leaves the newline
        ("周一舟", True, Kind.TEXT, "我去"),
        ("系统消息", False, Kind.SYSTEM, '"老谭"邀请"阿May"加入了群聊'),
        ("阿May", False, Kind.TEXT, "带上我"),
    ]


def test_arkme_json_senders_by_id() -> None:
    msgs, _ = run_format(weflow, FIX / "arkme_林雨舟.json")
    assert [(m.sender, m.sender_id, m.by_owner, m.text) for m in msgs] == [
        ("林雨舟", LIN, False, "在吗"), ("周一舟", ME, True, "在")]


def test_weclone_csv_private() -> None:
    msgs, log = run_format(weflow, FIX / "私聊_林雨舟.csv")
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {("林雨舟", "林雨舟", False)}
    rows = [(m.sender, m.by_owner, m.kind, m.text, m.quote) for m in msgs]
    assert rows == [
        ("林雨舟", False, Kind.TEXT, "明早几点出发？\n我订车", None),
        ("林雨舟", False, Kind.IMAGE, "[图片]", None),
        ("周一舟", True, Kind.TEXT, "八点吧", "明早几点出发？ 我订车"),
        ("系统消息", False, Kind.RECALL, "你撤回了一条消息", None),  # is_sender 1 on a system line
        ("周一舟", True, Kind.MONEY, "[转账] ￥88.00 车费", None),  # type_name "text" for all of these
        ("林雨舟", False, Kind.MONEY, "微信红包", None),
        ("林雨舟", False, Kind.FORWARD, "[转发的聊天记录]群聊的聊天记录", None),
        ("系统消息", False, Kind.SYSTEM, '"林雨舟" 拍了拍我', None),
        ("周一舟", True, Kind.CALL, "[语音通话] 02:13", None),
        ("林雨舟", False, Kind.LINK, "[链接] 周末去哪玩", None),
        ("林雨舟", False, Kind.STICKER, "[表情包：开心]", None),
        ("周一舟", True, Kind.FILE, "[文件] 行程.pdf", None),
        ("周一舟", True, Kind.TEXT, "OK，明早见, 别迟到", None),
    ]
    # CreateTime is UTC ("…Z"): 10:22:11Z is 18:22:11 in China
    assert msgs[0].time == cn("2026-06-10 18:22:11")
    assert lines(msgs)[:3] == [2, 4, 5]  # the quoted multi-line cell takes lines 2–3
    assert skips(log) == [(9, "forwarded history item")] * 2 + [(18, "weflow: bad time")]


def test_weclone_csv_group_from_speakers_without_a_name_prefix() -> None:
    msgs, _ = run_format(weflow, FIX / "爬山群.csv")
    assert {(m.chat_name, m.is_group) for m in msgs} == {("爬山群", True)}
    assert [(m.sender, m.by_owner, m.kind) for m in msgs] == [
        ("老谭", False, Kind.TEXT), ("周一舟", True, Kind.TEXT), ("系统消息", False, Kind.SYSTEM),
        ("阿May", False, Kind.TEXT)]


def test_weclone_is_not_pywxdump(tmp_path: Path) -> None:
    """Same leading columns as PyWxDump's CSV; only PyWxDump has room_name."""
    f = FIX / "私聊_林雨舟.csv"
    assert not pywxdump.FORMAT.sniff(f, f.read_text(encoding="utf-8-sig"))
    p = tmp_path / "x.csv"
    p.write_text("id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime\n", encoding="utf-8")
    assert not weflow.FORMAT.sniff(p, p.read_text())


def test_broken_files(tmp_path: Path) -> None:
    p = tmp_path / "t.json"
    p.write_text('{"weflow": {"version": "1.0.3"}, "session": {"wxid": "a"}, "messages": [\n{"localId": 1,',
                 encoding="utf-8")
    with pytest.raises(ExportError) as e:
        list(weflow.FORMAT.parse(p, ParseLog(), frozenset()))
    assert e.value.line == 2
    p.write_text('{"weflow": {"version": "1.0.3"}, "messages": []}', encoding="utf-8")
    with pytest.raises(ExportError, match='no "session"'):
        list(weflow.FORMAT.parse(p, ParseLog(), frozenset()))
    c = tmp_path / "c.csv"
    c.write_text(weflow.WECLONE_HEADER + "\n1,2,text,0,a\n", encoding="utf-8")
    msgs, log = run_format(weflow, c)
    assert msgs == [] and skips(log) == [(2, "weflow: row does not have 8 columns")]


def test_json_before_the_weflow_header_reads_the_same(tmp_path: Path) -> None:
    """WeFlow before 1.5.0 wrote no "weflow" header: the file then looks like EchoTrace's and the shared parser reads
    it the same way."""
    doc = json.loads((FIX / "私聊_林雨舟.json").read_text(encoding="utf-8"))
    del doc["weflow"]
    old = tmp_path / "私聊_林雨舟.json"
    old.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    assert detect(old).name == "echotrace"
    fields = ("sender", "by_owner", "time", "kind", "text", "quote")
    new_msgs, _ = run_format(weflow, FIX / "私聊_林雨舟.json")
    old_msgs = list(detect(old).parse(old, ParseLog(), frozenset()))
    assert [tuple(getattr(m, f) for f in fields) for m in old_msgs] == \
        [tuple(getattr(m, f) for f in fields) for m in new_msgs]
