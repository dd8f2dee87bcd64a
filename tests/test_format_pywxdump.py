"""PyWxDump CSV exports (spec section 3): ≤2.4.7 raw rows, 2.4.8+ quoted JSON content, 3.0.6+ msg/src, 3.1.x with
users.json, Excel re-saves."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from data_prep.formats import detect, liuhen, pywxdump
from data_prep.records import Kind
from data_prep.sources import ExportError, ParseLog, head

FIX = Path(__file__).parent / "fixtures" / "pywxdump"
from helpers import lines, run_format, skips  # noqa: E402

ME = frozenset()


def run(rel: str):
    return run_format(pywxdump, FIX / rel, ME)


ALL_FIXTURES = sorted(p.relative_to(FIX).as_posix() for p in FIX.rglob("*") if p.is_file() and p.stat().st_size)


@pytest.mark.parametrize("rel", ALL_FIXTURES)
def test_every_fixture_is_sniffed_as_pywxdump_and_not_liuhen(rel):
    path = FIX / rel
    assert detect(path).name == "pywxdump"
    assert not liuhen.FORMAT.sniff(path, head(path))


def test_247_raw_rows_with_unquoted_json_content():
    msgs, log = run("v247_raw/wxid_friend_0_5000.csv")
    assert [(m.sender, m.sender_id, m.by_owner, m.kind, m.text) for m in msgs] == [
        ("我", None, True, Kind.TEXT, "哦吼, 真的吗"),                # comma inside the unquoted JSON
        ("wxid_friend", "wxid_friend", False, Kind.TEXT, "第一行\n第二行"),
        ("wxid_friend", "wxid_friend", False, Kind.IMAGE, "图片"),
        ("我", None, True, Kind.OTHER, "[带有引用的文本消息]"),       # ≤2.4.7 kept only the type name
        ("wxid_friend", "wxid_friend", False, Kind.OTHER, "[未知]"),  # raw XML does not leak
        ("我", None, True, Kind.TEXT, "手改的\n换行"),               # a raw newline continues the row
        ("wxid_friend", "wxid_friend", False, Kind.SYSTEM, "你已添加了好友，现在可以开始聊天了。"),
    ]
    assert lines(msgs) == [2, 3, 4, 5, 6, 8, 11]
    assert skips(log) == [(7, "row: unrecognised line"), (10, "row: bad is_sender")]
    assert {(m.chat_id, m.is_group) for m in msgs} == {("wxid_friend", False)}
    assert msgs[0].time == datetime(2023, 8, 12, 23, 22, 54)


def test_earliest_writer_without_id_column():
    msgs, log = run("v24x_early/wxid_old_0.csv")
    assert not log.skips
    assert [(m.chat_id, m.by_owner, m.text) for m in msgs] == [("wxid_old", False, "早期版本, 没有id"),
                                                            ("wxid_old", True, "收到")]


def test_quoted_json_content_group():
    msgs, log = run("v30x_quoted/12345678@chatroom_0_5000.csv")
    assert not log.skips
    assert all(m.is_group and m.chat_id == "12345678@chatroom" for m in msgs)
    assert [(m.sender, m.by_owner, m.kind, m.text) for m in msgs] == [
        ("我", True, Kind.TEXT, "哦吼"),
        ("wxid_alice", False, Kind.TEXT, "有人吗,\n在线等"),
        ("wxid_bob", False, Kind.STICKER, "表情"),
        ("", False, Kind.SYSTEM, '"Bob" 拍了拍 "Alice"'),
    ]
    assert lines(msgs) == [2, 3, 4, 5]  # json.dumps escaped the newline: one line per row


def test_306_msg_src_layout_and_types():
    msgs, log = run("v306/wxid_xiaochong_0_5000.csv")
    assert [(m.by_owner, m.kind, m.text, m.quote) for m in msgs] == [
        (True, Kind.TEXT, "明天去骑车吗", None),
        (False, Kind.TEXT, "（我们两个人骑）", "我之前租的时候: 很便宜"),   # [引用](time)name:content
        (True, Kind.LINK, "骑行路线推荐", None),                           # <a href> does not leak
        (False, Kind.VOICE, "语音时长：3.00秒\n翻译结果：好的", None),
        (False, Kind.RECALL, "你撤回了一条消息", None),
        (False, Kind.CARD, "[名片] 骑行俱乐部", None),                     # XML msg of an unhandled type
        (True, Kind.LOCATION, "[位置] 北京市东城区 天安门", None),
        (True, Kind.CALL, "语音/视频通话[通话时长 00:05]", None),
        (False, Kind.FORWARD, "群聊的聊天记录", None),
        (False, Kind.LINK, "(分享)小程序", None),
    ]
    assert lines(msgs) == [2, 3, 6, 10, 12, 13, 14, 19, 20, 24]
    assert skips(log) == [(22, "row: bad time"), (23, "row: too few columns")]
    assert msgs[1].time == datetime(2024, 10, 4, 21, 25, 4)
    assert not any(m.is_group for m in msgs)


def test_31x_users_json_names_members_and_chat():
    d = "v31x/export/wxid_me/csv/98765@chatroom/"
    msgs, log = run(d + "98765@chatroom_0_5000.csv")
    assert not log.skips
    assert all(m.chat_id == "98765@chatroom" and m.chat_name == "周末群" and m.is_group for m in msgs)
    assert [(m.sender, m.sender_id, m.by_owner, m.kind) for m in msgs] == [
        ("小明", "wxid_me", True, Kind.TEXT),      # 3.1.x: my wxid as talker
        ("阿花", "wxid_a", False, Kind.TEXT),      # remark wins over nickname
        ("Bob", "wxid_b", False, Kind.IMAGE),
        ("wxid_c", "wxid_c", False, Kind.TEXT),   # not in users.json
        ("系统", None, False, Kind.SYSTEM),        # publisher notices
        ("", None, False, Kind.SYSTEM),
    ]
    page2, _ = run(d + "98765@chatroom_5000_10000.csv")
    assert [(m.sender, m.text, m.source.endswith(":2")) for m in page2] == [("阿花", "第二页", True)]
    users, log = run(d + "users.json")
    assert users == [] and not log.skips


def test_excel_resave_gbk_dates_without_seconds():
    msgs, _ = run("excel/test_person_0_730.csv")
    assert [(m.time, m.by_owner, m.kind, m.text) for m in msgs] == [
        (datetime(2024, 10, 4, 11, 43), True, Kind.TEXT, "小马尔代夫"),
        (datetime(2024, 10, 4, 11, 44), True, Kind.STICKER, "表情")]
    assert msgs[0].chat_id == "test_person"


def test_utf16_export():
    msgs, _ = run("bad/utf16/wxid_u16_0_5000.csv")
    assert [(m.chat_id, m.text, m.by_owner) for m in msgs] == [("wxid_u16", "UTF-16 导出", True)]


def test_broken_users_json_is_counted_and_wxids_kept():
    msgs, log = run("bad/broken_users/wxid_z_0_5000.csv")
    assert [(m.sender, m.chat_name) for m in msgs] == [("wxid_z", "wxid_z")]
    assert [s.reason for s in log.skips] == ["users.json: unreadable, wxids kept"]
    assert log.skips[0].path.endswith("users.json")


def test_truncated_file():
    msgs, log = run("bad/truncated_0_5000.csv")
    assert [m.text for m in msgs] == ["完整"]
    assert skips(log) == [(3, "row: too few columns")]


def test_empty_file_is_an_error():
    assert detect(FIX / "bad/empty_0_5000.csv") is None
    with pytest.raises(ExportError, match="empty"):
        run("bad/empty_0_5000.csv")


def test_wrong_header_is_an_error(tmp_path):
    p = tmp_path / "x_0_5000.csv"
    p.write_text("id,foo,bar\n1,2,3\n", encoding="utf-8")
    with pytest.raises(ExportError) as e:
        list(pywxdump.FORMAT.parse(p, ParseLog(), ME))
    assert e.value.line == 1


def test_header_without_needed_columns_is_an_error(tmp_path):
    p = tmp_path / "x_0_5000.csv"
    p.write_text("id,MsgSvrID,type_name,is_sender,talker,room_name,msg\n1,2,文本,1,我,x,hi\n", encoding="utf-8")
    with pytest.raises(ExportError, match="CreateTime"):
        list(pywxdump.FORMAT.parse(p, ParseLog(), ME))


def test_json_files_that_are_not_users_json_are_not_claimed(tmp_path):
    for name, body in (("result.json", '{\n "name": "A",\n "type": "personal_chat",\n "id": 1,\n "messages": []\n}'),
                       ("export.json", '{"metadata": {"wxid": "x"}, "chatInfo": {}}'),
                       ("data.json", '{"a": {"wxid": "b", "nickname": "c"}}')):
        p = tmp_path / name
        p.write_text(body, encoding="utf-8")
        assert not pywxdump.FORMAT.sniff(p, head(p))


@pytest.mark.parametrize("name", ["wxid_x_0_5000.csv", "result.json"])
def test_empty_json_object_is_reported_unless_it_is_users_json(tmp_path, name):
    p = tmp_path / name
    p.write_text("{}", encoding="utf-8")
    assert detect(p) is None or detect(p).name != "pywxdump"
    with pytest.raises(ExportError):
        list(pywxdump.FORMAT.parse(p, ParseLog(), frozenset()))
    users = tmp_path / "users.json"
    users.write_text("{}", encoding="utf-8")
    assert detect(users).name == "pywxdump" and list(pywxdump.FORMAT.parse(users, ParseLog(), frozenset())) == []


def test_one_damaged_row_does_not_change_how_the_file_is_read(tmp_path):
    src = (FIX / "v24x_early/wxid_old_0.csv").read_text(encoding="utf-8").split("\n")
    p = tmp_path / "wxid_old_0.csv"
    p.write_text("\n".join([src[0], "好" * 1000, *src[1:]]), encoding="utf-8")
    msgs, log = run_format(pywxdump, p)
    assert [m.text for m in msgs] == ["早期版本, 没有id", "收到"]
    assert [s.line for s in log.skips] == [2]


def test_broken_users_json_is_counted_by_every_parse_not_only_the_first():
    """The names are cached per process; the problem must still reach each parse's own log."""
    for _ in range(2):
        _, log = run("bad/broken_users/wxid_z_0_5000.csv")
        assert [s.reason for s in log.skips] == ["users.json: unreadable, wxids kept"]
