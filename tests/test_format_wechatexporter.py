"""BlueMatthew/WechatExporter txt export (data_prep/formats/wechatexporter.py)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from data_prep.formats import detect, read_all, wechatexporter
from data_prep.records import Kind
from data_prep.sources import ExportError, ParseLog, head

FIX = Path(__file__).parent / "fixtures" / "wechatexporter"
EXPORT = FIX / "export"
ACCOUNT = EXPORT / "张三"
REAL = Path(__file__).parent / "fixtures/real"  # other projects' real exports (MIT, licenses beside them)
NONE: frozenset[str] = frozenset()


def parse(path: Path, me: frozenset[str] = NONE) -> tuple[list, ParseLog]:
    log = ParseLog()
    return list(wechatexporter.parse(path, log, me)), log


def rows(msgs: list) -> list[tuple]:
    return [(m.sender, m.by_owner, m.kind, m.text, m.quote) for m in msgs]


def skips(log: ParseLog) -> list[tuple[int | None, str]]:
    return [(s.line, s.reason) for s in log.skips]


CHATS = [ACCOUNT / "Fanny/index.txt", ACCOUNT / "同事群/index.txt", ACCOUNT / "家庭群/index.txt",
         ACCOUNT / "李四,王五/index.txt", FIX / "noindex/李雷/韩梅梅/index.txt", FIX / "legacy_12h.txt",
         FIX / "english.txt", FIX / "truncated.txt", FIX / "gb18030.txt", FIX / "utf16_bom.txt",
         FIX / "utf16le_nobom.txt", FIX / "utf8_bom_crlf.txt", FIX / "headerless.txt", FIX / "notices_only.txt"]
INDEXES = [EXPORT / "index.txt", ACCOUNT / "index.txt"]


@pytest.mark.parametrize("path", CHATS + INDEXES, ids=lambda p: str(p.relative_to(FIX)))
def test_detected(path: Path) -> None:
    fmt = detect(path)
    assert fmt is not None and fmt.name == "wechatexporter"


@pytest.mark.parametrize("start", [
    "消息记录（此消息记录为文本格式，不支持重新导入）\n\n" + "=" * 64 + "\n消息分组:我的好友\n",  # QQ txt
    "2021-08-01 09:00:00 Fanny\n早上好\n\n2021-08-01 09:00:30 张三\n早\n",  # 留痕 txt
    "8/15/23, 9:12 AM - Fanny: hi\n",  # WhatsApp
    "[8/15/23, 9:12:33 AM] Fanny: hi\n",
    "id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime\n",  # PyWxDump CSV
    '{"chat": "x", "sender": "Fanny", "time": "2021-08-01T09:00:00", "text": "hi"}\n',  # neutral JSONL
    '{\n "name": "Fanny",\n "type": "personal_chat",\n "messages": []\n}\n',  # Telegram
    "hello world\n",
    "",
])
def test_sniff_rejects_other_formats(start: str) -> None:
    assert wechatexporter.sniff(Path("x.txt"), start) is False


@pytest.mark.parametrize("rel", ["qq/hikariyo_sample.txt", "telegram/langchain_result.json",
                                 "whatsapp/langchain_android.txt"])
def test_sniff_rejects_real_samples(rel: str) -> None:
    path = REAL / rel
    assert wechatexporter.sniff(path, head(path)) is False


def test_private_chat_every_trap() -> None:
    msgs, log = parse(ACCOUNT / "Fanny/index.txt")
    assert rows(msgs) == [
        ("Fanny", False, Kind.TEXT, "早上好", None),
        ("张三", True, Kind.TEXT, "早\n今天有空吗？\n\n晚上一起吃饭", None),  # multi-line, inner blank kept
        ("Fanny", False, Kind.IMAGE, "[图片]", None),
        ("张三", True, Kind.STICKER, "[表情]", None),
        ("Fanny", False, Kind.VOICE, '[语音 5"]', None),
        ("张三", True, Kind.VIDEO, "[视频]", None),
        ("Fanny", False, Kind.FILE, "[文件: 报告.pdf]", None),
        ("张三", True, Kind.LINK, "[链接]", None),
        ("Fanny", False, Kind.LINK, "如何高效学习 - 知乎", None),
        ("张三", True, Kind.LOCATION, "[位置] 人民广场 - 上海市黄浦区 (31.23,121.47)", None),
        ("Fanny", False, Kind.CALL, "[视频/语音通话]", None),
        ("张三", True, Kind.CARD, "[个人名片] 李四", None),
        ("Fanny", False, Kind.MONEY, "[红包]", None),
        # header-less notices are messages of their own, not glued to the red packet
        ("", False, Kind.RECALL, "你撤回了一条消息", None),
        ("", False, Kind.RECALL, '"Fanny" 撤回了一条消息', None),
        ("", False, Kind.SYSTEM, 'System Message: "Fanny" 拍了拍我', None),
        # transfer with no trailing newline: the next header starts on the same line
        ("张三", True, Kind.MONEY, "微信转账 ¥100.00 - 已收款", None),
        ("Fanny", False, Kind.TEXT, "谢谢", None),
        # quote reply: no sender in the export, reply text is the message, the quoted text is `quote`
        ("张三", True, Kind.TEXT, "不客气", "谢谢"),  # quotes Fanny: in a private chat the replier is the other side
        # transfer memo on its own line, next header glued to the memo
        ("张三", True, Kind.MONEY, "微信转账 ¥20.00 - 已收款\n奶茶钱", None),
        ("Fanny", False, Kind.TEXT, "收到", None),
        ("Fanny", False, Kind.TEXT, "回复第一行\n回复第二行", "第一行\n第二行"),  # multi-line quote and reply
        ("Fanny", False, Kind.FORWARD, "群聊的聊天记录", None),  # the bundle stays; its items are skipped
        ("张三", True, Kind.TEXT, "看到了 Fanny (2021-01-01 00:00:00):这不是消息头", None),
        ("张三", True, Kind.TEXT, "最后一条", None),  # trailing blank lines stripped
    ]
    # one skip per forwarded item, nested block included, also the item whose time is in another format
    assert skips(log) == [(n, "forwarded history item") for n in (35, 36, 37, 39, 40, 42)]
    assert {m.is_group for m in msgs} == {False}
    assert {(m.chat_id, m.chat_name) for m in msgs} == {("张三/Fanny", "Fanny")}
    by_text = {m.text: m for m in msgs}
    assert by_text["你撤回了一条消息"].time == datetime(2021, 8, 1, 9, 6)  # the previous message's time
    assert by_text["谢谢"].time == datetime(2021, 8, 1, 9, 7, 30)
    assert by_text["不客气"].time == datetime(2021, 8, 1, 9, 7, 30)
    assert by_text["收到"].source.endswith("Fanny/index.txt:27")
    assert by_text["谢谢"].source.endswith("Fanny/index.txt:22")
    assert by_text["最后一条"].time == datetime(2021, 8, 1, 9, 11)


def test_group_chat_names_wxid_and_glued_transfers() -> None:
    msgs, log = parse(ACCOUNT / "同事群/index.txt")
    assert log.skips == []
    assert [(m.sender, m.sender_id, m.by_owner, m.kind, m.text) for m in msgs] == [
        ("", None, False, Kind.SYSTEM, '"李四"邀请"王五"加入了群聊'),
        ("李四", None, False, Kind.TEXT, "大家好"),
        ("王五", None, False, Kind.TEXT, "你好\n第二行"),
        ("", None, False, Kind.SYSTEM, '"王五"修改群名为“新同事群”'),  # notice after a multi-line message
        ("张三", None, True, Kind.TEXT, "欢迎"),
        ("wxid_abc123xyz", "wxid_abc123xyz", False, Kind.TEXT, "我是谁"),
        ("Tom (Work)", None, False, Kind.TEXT, "name with paren"),
        ("a):b", None, False, Kind.TEXT, "name with colon-paren"),
        ("李四", None, False, Kind.MONEY, "微信转账 ¥5.00 - 来自张三的转账 - 已收款"),
        ("Tom (Work)", None, False, Kind.TEXT, "ok"),  # a known sender glued after the status
        ("李四", None, False, Kind.MONEY, "微信转账 ¥3.00 - 已退还"),
        ("小明", None, False, Kind.TEXT, "退给你了"),  # unknown sender: split after the status word
        ("", None, False, Kind.TEXT, "无名发送者"),
    ]
    assert all(m.is_group for m in msgs)
    # a notice before the first message takes that message's time
    assert msgs[0].time == msgs[1].time == datetime(2021, 9, 1, 10, 0)
    assert msgs[3].time == datetime(2021, 9, 1, 10, 0, 5)


@pytest.mark.parametrize(("chat", "group"), [
    ("Fanny", False),     # two senders
    ("同事群", True),      # more than two senders
    ("家庭群", True),      # two senders, but an invite notice
    ("李四,王五", True),   # an unnamed group is named after its comma-joined members
])
def test_group_heuristics(chat: str, group: bool) -> None:
    msgs, _ = parse(ACCOUNT / chat / "index.txt")
    assert msgs and {m.is_group for m in msgs} == {group}


def test_me_from_account_index_and_user() -> None:
    msgs, _ = parse(ACCOUNT / "家庭群/index.txt")
    assert [(m.sender, m.by_owner) for m in msgs] == [("妈妈", False), ("", False), ("张三", True)]
    msgs, _ = parse(ACCOUNT / "家庭群/index.txt", frozenset({"妈妈 "}))  # user's me is stripped and added
    assert [m.by_owner for m in msgs] == [True, False, True]


def test_me_from_account_folder_name_without_index() -> None:
    msgs, _ = parse(FIX / "noindex/李雷/韩梅梅/index.txt")
    # the folder is the display name with file-name-invalid characters removed: "李/雷" -> "李雷"
    assert [(m.sender, m.by_owner) for m in msgs] == [("韩梅梅", False), ("李/雷", True)]
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {("韩梅梅", "韩梅梅", False)}


def test_legacy_12h_times_and_unknown_owner() -> None:
    msgs, log = parse(FIX / "legacy_12h.txt")
    assert log.skips == []
    assert [(m.sender, m.time, m.kind) for m in msgs] == [
        ("EC", datetime(2017, 11, 29, 14, 55, 11), Kind.IMAGE),
        ("Fanny", datetime(2017, 11, 29, 14, 57, 17), Kind.TEXT),
        ("EC", datetime(2017, 11, 29, 18, 21, 11), Kind.LINK),
        ("EC", datetime(2017, 11, 30, 0, 5), Kind.TEXT),     # 12:05 AM
        ("Fanny", datetime(2017, 11, 30, 12, 30), Kind.TEXT),  # 12:30 PM
    ]
    assert not any(m.by_owner for m in msgs)  # not in the export layout and no --me: owner unknown
    assert {(m.chat_id, m.chat_name) for m in msgs} == {("Fanny", "Fanny")}
    msgs, _ = parse(FIX / "legacy_12h.txt", frozenset({"EC"}))
    assert [m.by_owner for m in msgs] == [True, False, True, True, False]


def test_english_locale() -> None:
    msgs, log = parse(FIX / "english.txt", frozenset({"Me Myself"}))
    assert [(m.sender, m.by_owner, m.kind, m.text) for m in msgs] == [
        ("Fanny", False, Kind.TEXT, "hello"),
        ("Me Myself", True, Kind.IMAGE, "[Photo]"),
        ("Fanny", False, Kind.STICKER, "[Emoji]"),
        ("Me Myself", True, Kind.VOICE, "[Audio 1'5\"]"),
        ("Fanny", False, Kind.VIDEO, "[Video]"),
        ("Me Myself", True, Kind.FILE, "[File: notes.txt]"),
        ("Fanny", False, Kind.LOCATION, "[Location]"),
        ("Me Myself", True, Kind.CALL, "[Video/Audio Call]"),
        ("Fanny", False, Kind.CARD, "[Contact Card] Bob"),
        ("Me Myself", True, Kind.MONEY, "[Red Packet]"),
        ("", False, Kind.RECALL, "You recalled a message"),
        ("Fanny", False, Kind.MONEY, "Weixin Transfer ¥1.00 - Accepted"),
        ("Me Myself", True, Kind.TEXT, "thanks"),  # a spaced name glued after "Accepted "
        ("Fanny", False, Kind.FORWARD, "Chat History"),
        ("Me Myself", True, Kind.TEXT, "bye"),
    ]
    assert skips(log) == [(17, "forwarded history item")]
    assert {m.is_group for m in msgs} == {False}


def test_index_files_are_companions_with_no_messages() -> None:
    for path in INDEXES:
        msgs, log = parse(path)
        assert msgs == [] and log.skips == []


def test_whole_export_folder() -> None:
    log = ParseLog()
    msgs = list(read_all([EXPORT], log, NONE))
    assert log.errors == [] and log.counts == {"forwarded history item": 6}
    assert {p.replace("\\", "/").split("export/")[1]: f for p, f in log.files.items()} == {
        "index.txt": "wechatexporter", "张三/index.txt": "wechatexporter", "张三/Fanny/index.txt": "wechatexporter",
        "张三/同事群/index.txt": "wechatexporter", "张三/家庭群/index.txt": "wechatexporter",
        "张三/李四,王五/index.txt": "wechatexporter"}
    assert sorted({m.chat_id for m in msgs}) == sorted(["张三/Fanny", "张三/同事群", "张三/家庭群", "张三/李四,王五"])
    assert {m.sender for m in msgs if m.by_owner} == {"张三"}


def test_truncated_file_inside_forwarded_block() -> None:
    msgs, log = parse(FIX / "truncated.txt")
    assert [(m.sender, m.kind, m.text) for m in msgs] == [("Fanny", Kind.TEXT, "hi"),
                                                        ("张三", Kind.FORWARD, "转发给你")]
    assert sorted(skips(log)) == [(5, "unterminated forwarded history"), (6, "forwarded history item")]


@pytest.mark.parametrize("name", ["gb18030.txt", "utf16_bom.txt", "utf16le_nobom.txt", "utf8_bom_crlf.txt"])
def test_encodings(name: str) -> None:
    msgs, log = parse(FIX / name)
    assert log.skips == []
    assert [(m.chat_name, m.sender, m.time, m.text) for m in msgs] == [
        ("Fanny", "Fanny", datetime(2021, 8, 1, 9, 0), "你好，世界"),
        ("Fanny", "张三", datetime(2021, 8, 1, 9, 0, 10), "收到"),
    ]


def test_headerless_file_takes_chat_name_from_file() -> None:
    msgs, _ = parse(FIX / "headerless.txt")
    assert [(m.chat_name, m.sender, m.text) for m in msgs] == [("headerless", "Fanny", "no title line"),
                                                             ("headerless", "张三", "ok")]


def test_lines_that_are_not_messages_are_counted() -> None:
    msgs, log = parse(FIX / "notices_only.txt")
    assert msgs == []
    assert skips(log) == [(3, "unrecognised line"), (4, "notice without time")]


def test_bad_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("Fanny - 微信聊天记录\n\nFanny (2021-08-01 09:00:00):ok\n"
                    "Fanny (2021-13-01 09:00:00):month 13\nsecond line\n张三 (2021-08-01 09:01:00):fine\n",
                    encoding="utf-8")
    msgs, log = parse(path)
    assert [m.text for m in msgs] == ["ok", "fine"]
    assert skips(log) == [(4, "bad timestamp"), (5, "unrecognised line")]


@pytest.mark.parametrize("damaged", [
    "张三 (2021-10-01 08:01:0 ):吃了",       # a digit flipped to a space
    "张三 (2021-1\ufffd-01 08:01:00):吃了",   # a byte that no longer decodes
    "张三 (2021-10-01 08:01:00]:吃了",       # the frame damaged
    "张三 (2021-10-01 08:01:00)\x00\x00:吃了",
])
def test_damaged_header_is_a_skip_not_glued(tmp_path: Path, damaged: str) -> None:
    path = tmp_path / "index.txt"
    path.write_text(f"家庭群 - 微信聊天记录\n\n妈妈 (2021-10-01 08:00:00):吃饭了吗\n{damaged}\n第二行\n"
                    "妈妈 (2021-10-01 08:02:00):好\n", encoding="utf-8")
    msgs, log = parse(path)
    assert [m.text for m in msgs] == ["吃饭了吗", "好"]
    assert skips(log) == [(4, "damaged message header"), (5, "unrecognised line")]


def test_body_lines_with_dates_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "index.txt"
    path.write_text("Fanny - 微信聊天记录\n\nFanny (2021-10-01 08:00:00):安排\n假期 (2021-10-01 到 10-07) 在家\n"
                    "记得带身份证 (2021-10-01)\n", encoding="utf-8")
    msgs, log = parse(path)
    assert [m.text for m in msgs] == ["安排\n假期 (2021-10-01 到 10-07) 在家\n记得带身份证 (2021-10-01)"]
    assert not log.skips


def test_bad_bytes_are_replaced_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "index.txt"
    path.write_bytes("Fanny - 微信聊天记录\n\nFanny (2021-10-01 08:00:00):好\n".encode() + b"\xe5\xa5"  # cut
                     + "\n张三 (2021-10-01 08:01:00):嗯\n".encode())
    log = ParseLog()
    msgs = list(read_all([path], log, NONE))
    assert [m.text for m in msgs] == ["好\n\ufffd", "嗯"]
    assert (log.decodings[str(path)].replaced, log.decodings[str(path)].first_line) == (1, 4)


def test_bomless_utf16_starting_with_a_cjk_character(tmp_path: Path) -> None:
    path = tmp_path / "index.txt"
    path.write_bytes("张三 - 微信聊天记录\n\n张三 (2021-10-01 08:00:00):在吗\n".encode("utf-16-le"))
    assert detect(path).name == "wechatexporter"
    log = ParseLog()
    assert [m.text for m in read_all([path], log, NONE)] == ["在吗"]
    assert log.decodings[str(path)].encoding == "utf-16-le"


@pytest.mark.parametrize(("content", "line", "message"), [
    (b"", None, "file is empty"),
    (b"\n  \n", None, "file is empty"),
    (b"hello world\nthis is not an export\n", 1, "not a WechatExporter txt chat"),
    (b"Fanny - \xff\xff\xfe\x80 chat\n", 1, "not a WechatExporter txt chat"),  # decodes, with 4 U+FFFD
    (b"\x00" * 64, None, "file is empty"),
])
def test_unreadable_files_raise(tmp_path: Path, content: bytes, line: int | None, message: str) -> None:
    path = tmp_path / "index.txt"
    path.write_bytes(content)
    with pytest.raises(ExportError) as err:
        parse(path)
    assert err.value.line == line and message in err.value.message and err.value.path == str(path)


def test_fixture_bad_files_raise() -> None:
    for name, line in (("not_a_chat.txt", 1), ("bad_bytes.txt", 1)):
        with pytest.raises(ExportError) as err:
            parse(FIX / name)
        assert err.value.line == line
        assert not wechatexporter.sniff(FIX / name, head(FIX / name))


def test_glued_quote_and_pat_after_transfer(tmp_path: Path) -> None:
    path = tmp_path / "glued.txt"
    path.write_text("Fanny - 微信聊天记录\n\n"
                    "Fanny (2021-08-01 09:00:00):微信转账 ¥1.00 - 已收款System Message: \"张三\" 拍了拍 \"Fanny\"\n"
                    "Fanny (2021-08-01 09:01:00):微信转账 ¥2.00 - 已收款「张三：在吗」\n"
                    "- - - - - - - - - - - - - - -\n"
                    "在\n", encoding="utf-8")
    msgs, log = parse(path)
    assert log.skips == []
    assert [(m.sender, m.kind, m.text, m.quote) for m in msgs] == [
        ("Fanny", Kind.MONEY, "微信转账 ¥1.00 - 已收款", None),
        ("", Kind.SYSTEM, 'System Message: "张三" 拍了拍 "Fanny"', None),
        ("Fanny", Kind.MONEY, "微信转账 ¥2.00 - 已收款", None),
        ("", Kind.TEXT, "在", "在吗"),
    ]


def test_bulk_file_with_continuations(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    body = "".join(f"{'张三' if k % 2 else 'Fanny'} (2021-08-01 {k // 3600 % 24:02d}:{k // 60 % 60:02d}:{k % 60:02d}):"
                   f"{'[图片]' if k % 7 == 0 else '消息'}{'' if k % 5 else chr(10) + '续行'}\n" for k in range(20000))
    path.write_text("Fanny - 微信聊天记录\n\n" + body, encoding="utf-8")
    msgs, log = parse(path, frozenset({"张三"}))
    assert len(msgs) == 20000 and log.skips == []
    assert msgs[0].text == "[图片]\n续行" and msgs[1].text == "消息" and msgs[1].by_owner
    assert sum(m.kind is Kind.IMAGE for m in msgs) == len(range(0, 20000, 7))


def test_user_line_starting_like_a_block_marker_is_text(tmp_path: Path) -> None:
    path = tmp_path / "marker.txt"
    path.write_text("Fanny - 微信聊天记录\n\n"
                    "Fanny (2021-08-01 09:00:00):菜单\n<< 返回\n说明 结束 >>\n"
                    "张三 (2021-08-01 09:01:00):好\n", encoding="utf-8")
    msgs, log = parse(path)
    assert [(m.sender, m.kind, m.text) for m in msgs] == [("Fanny", Kind.TEXT, "菜单\n<< 返回\n说明 结束 >>"),
                                                        ("张三", Kind.TEXT, "好")]
    assert log.skips == []


@pytest.mark.parametrize(("content", "is_index"), [
    ("微信聊天记录  - 张三\n\n\nFanny.txt\n\n同事群.txt\n\n\n", True),
    ("WeChat Chat History  - Me Myself\n\n\nFanny.txt\n\n\n", True),
    ("微信聊天记录 \n\n\n张三/index.txt\n\n\n", True),
    ("微信聊天记录  - 张三\n\n\n", True),  # an account with no exported chats
    ("微信聊天记录\n\n随便写的笔记\n", False),  # a title-like first line alone does not make an index
])
def test_index_sniffing(tmp_path: Path, content: str, is_index: bool) -> None:
    path = tmp_path / "index.txt"
    path.write_text(content, encoding="utf-8")
    assert wechatexporter.sniff(path, head(path)) is is_index
    if is_index:
        assert parse(path) == ([], ParseLog())
