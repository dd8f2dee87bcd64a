"""Classic PC QQ 消息管理器 txt export (data_prep/formats/qq.py)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from data_prep.formats import detect, qq, read_all
from data_prep.records import Kind
from data_prep.sources import Decoding, ExportError, ParseLog

FIX = Path(__file__).parent / "fixtures" / "qq"
REAL = Path(__file__).parent / "fixtures/real/qq/hikariyo_sample.txt"  # MIT, license beside it
ME = frozenset({"我自己", "10002", "我"})


def parse(name: str, me: frozenset[str] = ME) -> tuple[list, ParseLog]:
    log = ParseLog()
    return list(qq.parse(FIX / name, log, me)), log


def skips(log: ParseLog) -> list[tuple[int | None, str]]:
    return [(s.line, s.reason) for s in log.skips]


@pytest.mark.parametrize("name", ["all_chats_bom_crlf.txt", "group_utf16le.txt", "private_gb18030.txt",
                                  "bad_time.txt"])
def test_detected_as_qq(name: str) -> None:
    assert detect(FIX / name).name == "qq"


def test_multi_block_export_splits_chats_and_private_vs_group() -> None:
    msgs, log = parse("all_chats_bom_crlf.txt")
    chats = [(m.chat_id, m.chat_name, m.is_group) for m in msgs]
    assert list(dict.fromkeys(chats)) == [
        ("Victor.Woo", "Victor.Woo", False),
        ("*PowerShell技术交流", "*PowerShell技术交流", True),  # custom section: group from the id suffixes
        ("123456789", "号码群", True),  # 消息对象 with a number: that is the chat id
    ]
    assert skips(log) == [(21, "qq: empty message")]
    assert all(m.source.startswith(str(FIX / "all_chats_bom_crlf.txt") + ":") for m in msgs)


def test_private_chat_messages() -> None:
    msgs, _ = parse("all_chats_bom_crlf.txt")
    private = [m for m in msgs if m.chat_id == "Victor.Woo"]
    assert [(m.sender, m.sender_id, m.by_owner, m.kind) for m in private] == [
        ("Victor.Woo", None, False, Kind.TEXT),
        ("我自己", None, True, Kind.TEXT),
        ("Victor.Woo", None, False, Kind.IMAGE),
        ("我自己", None, True, Kind.RECALL),
    ]
    # Unpadded hour; a body with an inner blank line stays one message (the next header delimits, not blank lines).
    assert private[1].time == datetime(2010, 5, 27, 2, 29, 35)
    assert private[1].text == "6块钱包月55\n8000/月\n\n中心端，用户端"
    assert private[1].source.endswith(":12")
    assert private[2].text == "[图片]"


def test_group_senders_titles_ids_and_kinds() -> None:
    msgs, _ = parse("all_chats_bom_crlf.txt")
    group = [m for m in msgs if m.chat_id == "*PowerShell技术交流"]
    assert [(m.sender, m.sender_id, m.by_owner, m.kind) for m in group] == [
        ("此消彼长，云过有痕", "qq_g@163.com", False, Kind.TEXT),  # name<email>
        ("Alice", "10001", False, Kind.STICKER),  # 【管理员】 title stripped
        ("名字(带(嵌套)括号)", "0012345", False, Kind.TEXT),  # the LAST (…) is the id
        ("我的群名片", "10002", True, Kind.MONEY),  # me by QQ number
        ("系统消息", "10000", False, Kind.SYSTEM),
        ("Alice", "10001", False, Kind.TEXT),
    ]
    assert group[0].text == "http://yun.baidu.com/buy/center?tag=4#FAQ02\n\n百度亮了，自己找亮点"
    assert group[2].text == "hello [图片] world"  # placeholder inside text stays text
    assert group[3].time == datetime(2013, 6, 23, 20, 43, 38)  # 12-hour "8:43:38 PM"
    assert group[5].text == "=" * 64 + "\nrule above"  # a '=' rule in a body is not a block border
    last = msgs[-1]
    assert (last.sender, last.kind, last.text) == ("Bob", Kind.SYSTEM, "[图片]对方已成功接收了你发送的离线文件")


def test_me_empty_marks_nobody() -> None:
    msgs, _ = parse("all_chats_bom_crlf.txt", frozenset())
    assert not any(m.by_owner for m in msgs)


def test_utf16_crlf() -> None:
    msgs, log = parse("group_utf16le.txt")
    assert [(m.chat_name, m.is_group, m.sender, m.sender_id, m.kind, m.text) for m in msgs] == [
        ("测试群", True, "Alice", "10001", Kind.TEXT, "第一行\n第二行"),
        ("测试群", True, "Bob", "20002", Kind.VOICE, "[语音]"),
    ]
    assert msgs[0].time == datetime(2024, 1, 2, 3, 4, 5)
    assert skips(log) == []


def test_gb18030_private_me_by_name() -> None:
    msgs, _ = parse("private_gb18030.txt")
    assert [(m.chat_name, m.is_group, m.sender, m.by_owner, m.kind, m.text) for m in msgs] == [
        ("小明", False, "小明", False, Kind.TEXT, "你好，中文编码"),
        ("小明", False, "我", True, Kind.TEXT, "好的"),
        # 系统消息(10000) carries a number but does not make a private chat a group
        ("小明", False, "系统消息", False, Kind.SYSTEM, "对方已成功接收了你发送的离线文件"),
    ]


def test_bad_header_time_is_one_skip() -> None:
    msgs, log = parse("bad_time.txt")
    assert [m.text for m in msgs] == ["ok", "fine"]
    assert skips(log) == [(4, "qq: bad header time")]
    assert msgs[0].chat_name == "bad_time" and msgs[0].is_group  # no block: file stem, ids => group


def test_empty_file_raises() -> None:
    with pytest.raises(ExportError, match="empty"):
        parse("empty.txt")


def test_undecodable_bytes_are_replaced_and_counted() -> None:
    log = ParseLog()
    msgs = list(read_all([FIX / "undecodable.txt"], log, frozenset(), "qq"))
    assert [m.text for m in msgs] == ["ok\n\ufffd\ufffd\ufffd"]
    assert log.decodings[str(FIX / "undecodable.txt")] == Decoding("utf-8", 3, 3)


def test_gb18030_is_reported_as_a_guess() -> None:
    log = ParseLog()
    list(read_all([FIX / "private_gb18030.txt"], log, frozenset()))
    assert log.guessed_encodings() == {str(FIX / "private_gb18030.txt"): "gb18030"}


@pytest.mark.parametrize("damaged", ["2024-01-02 03:0\x005:00 Bob(20002)", "2024-0\ufffd-02 03:05:00 Bob(20002)",
                                     "\u1c32024-01-02 03:05:00 Bob(20002)", "2024\t-01-02 03:05:00 Bob(20002)"])
def test_damaged_header_is_a_skip_not_glued(tmp_path: Path, damaged: str) -> None:
    f = tmp_path / "chat.txt"
    f.write_text(f"2024-01-02 03:04:00 Alice(20001)\n第一行\n\n{damaged}\n[语音]\n\n"
                 "2024-01-02 03:06:00 Alice(20001)\n好\n", encoding="utf-8")
    log = ParseLog()
    msgs = list(qq.parse(f, log, frozenset()))
    assert [m.text for m in msgs] == ["第一行", "好"]
    assert [(s.line, s.reason) for s in log.skips] == [(4, "qq: damaged message header")]


def test_body_lines_with_numbers_stay_text(tmp_path: Path) -> None:
    f = tmp_path / "chat.txt"
    f.write_text("2024-01-02 03:04:00 Alice(20001)\n报价\n2024年 8000/月\n13800 元 6块钱包月55\n", encoding="utf-8")
    log = ParseLog()
    assert [m.text for m in qq.parse(f, log, frozenset())] == ["报价\n2024年 8000/月\n13800 元 6块钱包月55"]
    assert not log.skips


def test_real_sample_hikariyo() -> None:
    assert detect(REAL).name == "qq"
    log = ParseLog()
    msgs = list(qq.parse(REAL, log, frozenset({"456456"})))
    assert [(m.sender, m.sender_id, m.by_owner, m.time, m.text, m.is_group) for m in msgs] == [
        ("A", "123123", False, datetime(1883, 3, 7, 11, 22, 33), "A", True),
        ("B", "456456", True, datetime(1883, 3, 7, 12, 34, 56), "B", True),
    ]
    assert skips(log) == [(2, "qq: text outside a message")]  # its fake file header line


def test_sniff_rejects_plain_time_name_txt(tmp_path: Path) -> None:
    # `time name` headers with no QQ number are WeChatMsg (留痕) txt as much as QQ: not claimed without blocks.
    f = tmp_path / "x.txt"
    f.write_text("2024-01-01 10:00:00 张三\n你好\n\n2024-01-01 10:01:00 李四\n嗯\n", encoding="utf-8")
    assert not qq.FORMAT.sniff(f, f.read_text(encoding="utf-8"))


def test_blocks_without_messages_are_an_error(tmp_path: Path) -> None:
    f = tmp_path / "cut.txt"
    f.write_text("消息记录（此消息记录为文本格式，不支持重新导入）\n\n" + "=" * 64 + "\n消息分组:我的好友\n" + "=" * 64
                 + "\n消息对象:Victor\n" + "=" * 64 + "\n\n2010-01-06 16:5", encoding="utf-8")
    with pytest.raises(ExportError, match="no message"):
        list(qq.parse(f, ParseLog(), frozenset()))
