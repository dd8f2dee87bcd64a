"""留痕 / LC044 WeChatMsg CSV and TXT exports (spec section 2): every schema and the traps listed there."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from data_prep.formats import detect, liuhen, lz4block, pywxdump, read_all, wechat
from data_prep.records import Kind
from data_prep.sources import ExportError, ParseLog, head

FIX = Path(__file__).parent / "fixtures" / "liuhen"
from helpers import lines, run_format, skips  # noqa: E402

ME = frozenset()


def run(rel: str, me: frozenset[str] = ME):
    return run_format(liuhen, FIX / rel, me)


ALL_FIXTURES = sorted(p.relative_to(FIX).as_posix() for p in FIX.rglob("*") if p.is_file() and p.stat().st_size)


@pytest.mark.parametrize("rel", ALL_FIXTURES)
def test_every_fixture_is_sniffed_as_liuhen_and_not_pywxdump(rel):
    path = FIX / rel
    assert detect(path).name == "liuhen"
    assert not pywxdump.FORMAT.sniff(path, head(path))


# --- 0.2.6 "export all": 9 header names, 10 fields (trailing MsgSvrID), empty Status --------------------------
def test_026_export_all_ten_fields_under_nine_names():
    msgs, log = run("v026_export_all/messages.csv")
    assert not log.skips
    assert lines(msgs) == [2, 3, 5, 6, 7]  # the multi-line record starts on line 3 and ends on 4
    assert [m.chat_id for m in msgs] == ["TalkerId 3"] * 3 + ["TalkerId 5"] * 2
    assert [m.by_owner for m in msgs] == [True, False, False, False, False]
    assert msgs[0].sender == "我" and msgs[0].text == "如果有帮助的话"
    assert msgs[0].time == datetime(2018, 6, 14, 8, 17, 58)
    assert msgs[1].text == "第一行\n第二行, 有逗号"
    assert (msgs[2].kind, msgs[2].text) == (Kind.IMAGE, "[图片]")  # the <msg><img …> XML does not leak
    assert (msgs[3].kind, msgs[3].text) == (Kind.RECALL, '"张三" 撤回了一条消息')  # CDATA unwrapped
    assert not any(m.is_group for m in msgs)


# --- 0.2.7–0.2.8 shifted rows ----------------------------------------------------------------------------------
def test_027_shifted_rows_are_realigned_and_bad_rows_skipped_with_start_line():
    msgs, log = run("v027_shifted/messages.csv")
    assert [(m.chat_name, m.sender, m.by_owner, m.is_group) for m in msgs] == [
        ("老王", "我", True, False),
        ("老王", "王大锤", False, False),          # Remark column held MsgSvrID; NickName the chat remark
        ("周末群", "小李", False, True),           # 13-field row: the group sender is the unnamed 13th field
        ("周末群", "我", True, True),
        ("TalkerId 9", "TalkerId 9", False, False),  # no contact info: only MsgSvrID appended
        ("TalkerId 11", "阿强", False, True),      # group without contact info: MsgSvrID, sender
        ("老王", "王大锤", False, False),
    ]
    assert msgs[2].text == "大家好\n我是新人"
    assert lines(msgs) == [2, 3, 4, 6, 7, 8, 13]
    assert skips(log) == [(9, "row: cannot align columns"), (10, "row: too few columns"), (11, "row: bad time"),
                          (12, "row: cannot align columns")]
    assert msgs[0].chat_id == msgs[1].chat_id == msgs[-1].chat_id


# --- 0.2.9+/2.x aligned "export all" ---------------------------------------------------------------------------
def test_029_aligned_export_all_names_chats_and_group_members():
    msgs, log = run("v029_export_all/messages.csv")
    assert not log.skips
    zs, fam, news = msgs[:2], msgs[2:8], msgs[8:9]
    assert {m.chat_name for m in zs} == {"张三"} and not any(m.is_group for m in zs)
    assert [m.sender for m in zs] == ["我", "zhangsan_nick"] and [m.by_owner for m in zs] == [True, False]
    assert all(m.chat_name == "家庭群" and m.is_group for m in fam)
    assert [(m.sender, m.kind, m.text) for m in fam] == [
        ("", Kind.SYSTEM, '"妈妈"邀请"小明"加入了群聊'),
        ("妈妈", Kind.TEXT, "周末回家吃饭"),
        ("我", Kind.OTHER, "[引用消息]"),   # 49/57 with empty StrContent: the reply text is not in the CSV
        ("爸爸", Kind.LINK, "[链接] 好文推荐"),
        ("爸爸", Kind.STICKER, "[表情]"),
        ("我", Kind.VOICE, "[语音]"),
    ]
    assert news[0].chat_name == "腾讯新闻" and not news[0].is_group
    assert (msgs[9].chat_name, msgs[9].sender, msgs[9].is_group) == ("家庭群", "未知", True)  # member not resolved


# --- per-contact _utf8.csv (1.1.2+): Sender = wxid, Remark sanitised, utf-8-sig, CRLF ------------------------
def test_per_contact_private_sender_wxid_and_types():
    msgs, log = run("per_contact/Zhang_San/Zhang_San_utf8.csv")
    assert not log.skips
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {("wxid_zs001", "Zhang_San", False)}
    assert [(m.sender, m.sender_id, m.by_owner) for m in msgs[:2]] == [("小明", "wxid_me123", True),
                                                                   ("Zhang San", "wxid_zs001", False)]
    assert msgs[1].text == "早\n吃了吗"  # CRLF inside the quoted field
    assert lines(msgs) == [2, 3, 5, 6, 7, 8]
    assert [(m.kind, m.text) for m in msgs[2:]] == [
        (Kind.FILE, "[文件] 报告.pdf"), (Kind.LOCATION, "[位置] 天安门"), (Kind.CALL, "[音视频通话]"),
        (Kind.RECALL, '"Zhang San" 撤回了一条消息'),
    ]


def test_per_contact_group_with_member_wxids():
    msgs, _ = run("per_contact/读书会/读书会_utf8.csv")
    assert all(m.is_group and m.chat_id == "读书会" for m in msgs)
    assert [(m.sender, m.sender_id, m.by_owner) for m in msgs] == [
        ("阿花", "wxid_hua", False), ("Bob", "wxid_bob", False), ("小明", "wxid_me123", True)]


def test_raw_rows_with_bytes_reprs_recover_quotes_from_compress_content():
    msgs, log = run("per_contact/李四/李四_utf8.csv")
    assert not log.skips
    assert all(m.chat_name == "李四" and not m.is_group for m in msgs)
    assert [(m.kind, m.text, m.quote, m.by_owner) for m in msgs] == [
        (Kind.TEXT, "明天开会", None, False),
        (Kind.TEXT, "好的我看看", "明天开会", True),   # lz4 CompressContent decoded
        (Kind.TEXT, "这张好看", "[图片]", True),       # a quoted image: its XML is not the quote
        (Kind.OTHER, "[引用消息]", None, False),       # empty CompressContent: not recoverable
    ]


def test_raw_group_rows_take_the_sender_from_bytes_extra():
    msgs, _ = run("per_contact/项目组/项目组_utf8.csv")
    assert all(m.is_group for m in msgs)
    assert [(m.sender_id, m.by_owner) for m in msgs] == [("wxid_pm01", False), ("wxid_dev02", False), (None, True)]


# --- 2025 rewrite: Chinese header, no sender flag ---------------------------------------------------------------
def test_2025_chinese_csv():
    msgs, log = run("v2025/聊天记录/王五(wxid_ww)/王五.csv")
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {("wxid_ww", "王五", False)}
    assert [(m.sender, m.by_owner, m.kind, m.text, m.quote) for m in msgs] == [
        ("王五", False, Kind.TEXT, "新年好", None),
        ("小明", True, Kind.TEXT, "新年快乐", None),      # owner: the private chat's other speaker
        ("王五", False, Kind.TEXT, "哈哈", "新年快乐"),
        ("小明", True, Kind.IMAGE, "【图片】", None),
        ("王五", False, Kind.LINK, "春节放假通知", None),
        ("小明", True, Kind.FORWARD, "【合并转发的聊天记录】", None),
        ("", False, Kind.RECALL, "你撤回了一条消息", None),
        ("王五", False, Kind.OTHER, "[未知类型]", None),   # the dict repr of unknown types does not leak
    ]
    assert lines(msgs) == [2, 3, 4, 6, 7, 13, 18, 20]
    assert skips(log) == [(13, "forwarded history item")] * 2 + [(19, "row: bad time")]


def test_2025_csv_me_from_config_wins():
    msgs, _ = run("v2025/聊天记录/王五(wxid_ww)/王五.csv", frozenset({"王五"}))
    assert [m.by_owner for m in msgs if m.sender == "王五"] == [True] * 4


# --- TXT --------------------------------------------------------------------------------------------------------
def test_txt_2x_private():
    msgs, log = run("txt_2x/王五/王五.txt")
    assert not log.skips
    assert lines(msgs) == [1, 4, 10, 12, 15, 22, 26]
    assert [(m.sender, m.by_owner, m.kind, m.text, m.quote) for m in msgs] == [
        ("王五", False, Kind.TEXT, "新年好", None),
        ("小明", True, Kind.TEXT, "新年好！\n今年一起去旅行吧\n\n还有一件事", None),  # blank line inside a message
        ("", False, Kind.RECALL, "你撤回了一条消息", None),        # notice: `time text`, no body
        ("王五", False, Kind.IMAGE, "[图片]", None),
        ("王五", False, Kind.LINK, "春节出行指南", None),           # indented link card
        ("小明", True, Kind.TEXT, "好的", "春节出行指南"),          # 引用:name:content
        ("小明", True, Kind.STICKER, "[表情包]", None),
    ]
    assert all(m.chat_name == "王五" and not m.is_group for m in msgs)
    assert msgs[0].time == datetime(2024, 2, 10, 8, 0, 0)


def test_txt_2x_group_unescapes_names():
    msgs, _ = run("txt_2x/读书会/读书会.txt", frozenset({"小明"}))
    assert all(m.is_group for m in msgs)
    assert [(m.sender, m.by_owner, m.kind) for m in msgs] == [
        ("", False, Kind.SYSTEM), ("Tom's & co", False, Kind.TEXT), ("阿花", False, Kind.TEXT),
        ("小明", True, Kind.FILE), ("小明", True, Kind.TEXT)]
    assert (msgs[-1].text, msgs[-1].quote) == ("好的", None)  # 引用:未知


def test_txt_2025_group():
    msgs, log = run("txt_2025/聊天记录/周末爬山群(20240101@chatroom)/周末爬山群.txt", frozenset({"小明"}))
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {("20240101@chatroom", "周末爬山群", True)}
    assert [(m.sender, m.by_owner, m.kind, m.text, m.quote) for m in msgs] == [
        ("", False, Kind.SYSTEM, '"小明"邀请"赵六"加入了群聊', None),   # header with time only
        ("赵六", False, Kind.TEXT, "大家好", None),
        ("小明", True, Kind.IMAGE, "【图片】", None),
        ("钱七", False, Kind.LINK, "香山红叶", None),
        ("赵六", False, Kind.FORWARD, "【合并转发的聊天记录】", None),
        ("小明", True, Kind.TEXT, "收到", "大家好"),
        ("钱七", False, Kind.VOICE, "【语音】明天见", None),
        ("赵六", False, Kind.TEXT, "【通知】明早八点集合\n\n别迟到", None),  # an unknown 【】 is user text
    ]
    assert lines(msgs) == [1, 4, 7, 10, 18, 25, 29, 32]
    assert skips(log) == [(18, "forwarded history item")] * 2


def test_ai_txt_has_dates_only():
    msgs, log = run("ai_txt/王五_chat.txt")
    assert not log.skips
    assert [(m.sender, m.by_owner, m.text) for m in msgs] == [
        ("王五", False, "新年好"), ("王五", False, "在吗"), ("小明", True, "在的"), ("小明", True, "【图片】"),
        ("小明", True, "初二快乐"), ("王五", False, "同乐")]
    assert msgs[4].time == datetime(2024, 2, 11) and msgs[3].kind is Kind.IMAGE


# --- encodings and broken input ---------------------------------------------------------------------------------
def test_gb18030_excel_resave_with_short_dates():
    msgs, _ = run("bad/老同学/老同学.csv")
    assert [(m.text, m.time, m.by_owner) for m in msgs] == [
        ("Excel另存为", datetime(2024, 10, 4, 11, 42), False), ("中文GBK", datetime(2024, 10, 4, 11, 43), True)]
    assert msgs[0].chat_name == "老同学"


def test_utf16_export():
    msgs, _ = run("bad/utf16/messages.csv")
    assert [(m.chat_name, m.text, m.by_owner) for m in msgs] == [("张三", "UTF-16 也行", True)]


def test_truncated_file_keeps_complete_rows_and_counts_the_cut_one():
    msgs, log = run("bad/truncated.csv")
    assert [m.text for m in msgs] == ["完整的一条"]
    assert skips(log) == [(3, "row: too few columns")]


def test_empty_file_is_an_error():
    assert detect(FIX / "bad/empty.csv") is None
    with pytest.raises(ExportError, match="empty"):
        run("bad/empty.csv")


def test_undecodable_bytes_are_replaced_and_counted_with_line():
    log = ParseLog()
    msgs = list(read_all([FIX / "bad/undecodable.csv"], log, ME))
    assert [m.text for m in msgs] == ["\ufffd" * 4]
    d = log.decodings[str(FIX / "bad/undecodable.csv")]
    assert (d.encoding, d.replaced, d.first_line) == ("utf-8", 4, 2)


def test_header_only_csv_is_an_error(tmp_path):
    p = tmp_path / "messages.csv"
    p.write_bytes((FIX / "bad/undecodable.csv").read_bytes().split(b"\n")[0] + b"\n")
    with pytest.raises(ExportError, match="no rows"):
        list(liuhen.FORMAT.parse(p, ParseLog(), ME))


@pytest.mark.parametrize("damaged", ["2\x1524-03-01 20:02:00 阿花", "2024-03-01 20:0\ufffd:00 阿花",
                                     "2024-13-01 20:02:00 阿花"])
def test_txt_damaged_header_is_a_skip_not_glued(tmp_path, damaged):
    p = tmp_path / "读书会.txt"
    p.write_text(f"2024-03-01 20:01:00 Tom\nhi all\n\n{damaged}\n欢迎\n\n2024-03-01 20:03:00 小明\n好的\n\n"
                 "2024-03-01 20:04:00 小明\n列表\n\n- 2024-02-01 10:00:00 张三: 不是标题\n", encoding="utf-8")
    msgs, log = run_format(liuhen, p)
    assert [m.text for m in msgs] == ["hi all", "好的", "列表\n\n- 2024-02-01 10:00:00 张三: 不是标题"]
    assert [s[0] for s in skips(log)] == [4]


def test_unrecognised_content_is_an_error(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("\n\nhello,world\n1,2\n", encoding="utf-8")
    with pytest.raises(ExportError) as e:
        list(liuhen.FORMAT.parse(p, ParseLog(), ME))
    assert e.value.line == 3


# --- conversion details -----------------------------------------------------------------------------------------
def test_lz4_block_with_overlapping_match_and_corruption():
    assert lz4block.decode_block(b"\x35abc\x03\x00\x10d") == b"abcabcabcabcd"
    with pytest.raises(ValueError):
        lz4block.decode_block(b"\x35abc\x09\x00")  # offset beyond the output
    with pytest.raises(ValueError):
        lz4block.decode_block(b"\xf0")  # literal length cut off


@pytest.mark.parametrize("type_,sub,content,expect", [
    (49, 19, "<msg><appmsg><title>群聊的聊天记录</title><type>19</type></appmsg></msg>",
     (Kind.FORWARD, "[聊天记录] 群聊的聊天记录")),
    (49, 2000, "<msg><appmsg><title>微信转账</title></appmsg></msg>", (Kind.MONEY, "[转账] 微信转账")),
    (49, 0, "<msg><appmsg><title>a.zip</title><type>6</type></appmsg></msg>", (Kind.FILE, "[文件] a.zip")),
    (42, 0, '<msg username="wxid_x" nickname="老李" />', (Kind.CARD, "[名片] 老李")),
    (10002, 0, "<sysmsg type=\"pat\"><pat/></sysmsg>", (Kind.SYSTEM, "[系统消息]")),
    (10000, 4, '"小明" 拍了拍 "王五"', (Kind.SYSTEM, '"小明" 拍了拍 "王五"')),
    (10000, 0, '你撤回了一条消息 <a href="weixin://revoke_edit_click">重新编辑</a>', (Kind.RECALL, "你撤回了一条消息")),
    (12345, 0, "<weird/>", (Kind.OTHER, "[未知消息]")),
])
def test_convert_never_leaks_xml(type_, sub, content, expect):
    kind, text, _ = wechat.convert(type_, sub, content)
    assert (kind, text) == expect


def test_no_xml_in_any_non_text_message():
    for rel in ALL_FIXTURES:
        if rel.startswith("bad/"):
            continue
        msgs, _ = run(rel)
        assert all(not m.text.lstrip().startswith("<") for m in msgs if m.kind is not Kind.TEXT), rel


# --- sniffing must not collide ----------------------------------------------------------------------------------
def test_neutral_and_other_csvs_are_not_claimed(tmp_path):
    p = tmp_path / "chat.csv"
    p.write_text("chat,sender,is_me,time,text\n张三,张三,0,2024-01-01 10:00:00,你好\n", encoding="utf-8")
    assert not liuhen.FORMAT.sniff(p, head(p)) and not pywxdump.FORMAT.sniff(p, head(p))
    q = tmp_path / "qq.txt"
    q.write_text("2024-01-02 03:04:05 Alice(10001)\nhi\n\n2024-01-02 03:04:06 Bob(10002)\nyo\n", encoding="utf-8")
    assert detect(q).name == "qq"  # liuhen's sniffer accepts the `time name` header too: the format table decides


def test_other_formats_fixtures_and_real_samples_are_not_claimed():
    others = [p for d in (FIX.parent).iterdir() if d.is_dir() and d.name not in ("liuhen", "pywxdump")
              for p in d.rglob("*") if p.is_file()]
    assert any(p.parent.parent.name == "real" for p in others)  # other projects' real exports are among them
    for p in others:
        assert getattr(detect(p), "name", None) not in ("liuhen", "pywxdump"), p
