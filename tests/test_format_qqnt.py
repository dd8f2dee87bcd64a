"""QQNT exports by QQ Chat Exporter (QCE), single JSON and chunked JSONL (data_prep/formats/qqnt.py)."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from data_prep.formats import detect, qqnt
from data_prep.records import Kind
from data_prep.sources import ExportError, ParseLog
from helpers import lines

FIX = Path(__file__).parent / "fixtures" / "qqnt"
T0 = 1700000000000  # fixture message i has timestamp T0 + i minutes (ms, absolute)


def at(i: int) -> datetime:
    return datetime.fromtimestamp((T0 + i * 60000) // 1000)  # local naive, like the parser


def parse(name: str, me: frozenset[str] = frozenset()) -> tuple[list, ParseLog]:
    log = ParseLog()
    return list(qqnt.parse(FIX / name, log, me)), log


def skips(log: ParseLog) -> list[tuple[int | None, str]]:
    return [(s.line, s.reason) for s in log.skips]


@pytest.mark.parametrize("name", ["group_export.json", "private_compact_bom.json", "truncated.json",
                                  "missing_comma.json", "chunked/manifest.json", "chunked/avatars.json",
                                  "chunked/chunks/c000001.jsonl"])
def test_detected_as_qqnt(name: str) -> None:
    assert detect(FIX / name).name == "qqnt"


def test_group_export_messages() -> None:
    msgs, log = parse("group_export.json", frozenset({"Bob"}))  # selfUid wins over `me`
    rows = [(m.sender, m.sender_id, m.by_owner, m.kind, m.text, m.quote) for m in msgs]
    assert rows == [
        ("我", "10000001", True, Kind.TEXT, "大家好\n第二行", None),
        ("Alice群名片", "20000002", False, Kind.TEXT, "@我 早 /微笑", None),
        ("Bob", "30000003", False, Kind.IMAGE, "[图片]", None),
        ("Bob", "30000003", False, Kind.TEXT, "[图片]看这个", None),
        ("我", "10000001", True, Kind.TEXT, "补充一句", "大家好"),
        ("Alice群名片", "20000002", False, Kind.RECALL, "说错了", None),
        ("系统消息", None, False, Kind.SYSTEM, "Bob 加入了群聊", None),
        ("Bob", "30000003", False, Kind.CALL, "语音通话 - 通话时长 00:12", None),
        ("Alice群名片", "20000002", False, Kind.FORWARD, "[聊天记录] 群聊的聊天记录", None),
        ("Bob", "30000003", False, Kind.STICKER, "[狗头]", None),
        ("我", "10000001", True, Kind.FILE, "[文件:报告.pdf]", None),
        ("Alice群名片", "20000002", False, Kind.LINK, "B站视频分享", None),
        ("Bob", "30000003", False, Kind.TEXT, "time string only", None),
    ]
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {("987654321", "摸鱼群", True)}
    assert [m.time for m in msgs[:12]] == [at(i) for i in range(1, 13)]
    assert msgs[-1].time == datetime(2024, 2, 3, 4, 5, 6)  # local "time" string when timestamp is missing
    # One message per line in QCE's pretty output: the source line is exact.
    assert [m.source.rsplit(":", 1)[1] for m in msgs[:3]] == ["6", "7", "8"]
    assert skips(log) == [
        (14, "qqnt: forwarded-history item"), (14, "qqnt: forwarded-history item"),
        (18, "qqnt: empty message"), (19, "qqnt: message without time"), (21, "qqnt: not a message object"),
    ]


def test_compact_private_bom_self_uin() -> None:
    msgs, log = parse("private_compact_bom.json")
    assert [(m.sender, m.by_owner, m.kind, m.text, m.time) for m in msgs] == [
        ("小红", False, Kind.TEXT, "在吗", at(1)),
        ("我", True, Kind.TEXT, "在", at(2)),
        ("小红", False, Kind.VOICE, "[语音]", at(3)),
    ]
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {("40000004", "小红", False)}
    assert all(m.source.endswith(":1") for m in msgs)  # pretty=false: everything is on line 1
    assert skips(log) == []


def test_chunked_export() -> None:
    msgs, log = parse("chunked/chunks/c000001.jsonl")
    assert [(m.sender, m.by_owner, m.text, m.chat_name, m.is_group) for m in msgs] == [
        ("Alice群名片", False, "chunk one", "摸鱼群", True),
        ("我", True, "chunk two", "摸鱼群", True),
        ("Bob", False, "chunk three", "摸鱼群", True),
    ]
    assert [m.source.rsplit(":", 1)[1] for m in msgs] == ["1", "2", "4"]
    assert skips(log) == [(3, "qqnt: invalid JSON line")]
    # The manifest and the avatars file are companions: no messages, no errors.
    assert parse("chunked/manifest.json") == ([], ParseLog())
    assert parse("chunked/avatars.json")[0] == []


def test_chunk_without_manifest(tmp_path: Path) -> None:
    chunk = tmp_path / "chunks" / "c000001.jsonl"
    chunk.parent.mkdir()
    chunk.write_bytes((FIX / "chunked/chunks/c000001.jsonl").read_bytes())
    with pytest.raises(ExportError, match="manifest"):
        list(qqnt.parse(chunk, ParseLog(), frozenset()))


def test_no_self_uid_uses_me(tmp_path: Path) -> None:
    doc = json.loads((FIX / "private_compact_bom.json").read_text(encoding="utf-8-sig"))
    del doc["chatInfo"]["selfUin"]
    doc["messages"][0]["time"] = "2023-11-14T14:00:00.000Z"  # RFC 3339 UTC string, used when timestamp is absent
    del doc["messages"][0]["timestamp"]
    f = tmp_path / "x.json"
    f.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    msgs = list(qqnt.parse(f, ParseLog(), frozenset({"40000004"})))
    assert [m.by_owner for m in msgs] == [True, False, True]
    expected = datetime(2023, 11, 14, 14, tzinfo=UTC).astimezone().replace(tzinfo=None)
    assert msgs[0].time == expected


def test_truncated_file_reports_line() -> None:
    log = ParseLog()
    got = []
    with pytest.raises(ExportError) as e:
        for m in qqnt.parse(FIX / "truncated.json", log, frozenset()):
            got.append(m.text)
    assert e.value.line == 8 and "truncated" in e.value.message
    assert got == ["大家好\n第二行", "@我 早 /微笑"]  # messages before the damage were streamed


def test_missing_comma_reports_line() -> None:
    with pytest.raises(ExportError) as e:
        parse("missing_comma.json")
    assert e.value.line == 8 and "','" in e.value.message


def test_structure_errors(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="empty"):
        parse("empty.json")
    with pytest.raises(ExportError, match='no "messages"'):
        parse("no_messages.json")
    f = tmp_path / "other.json"
    f.write_text('{"name": "x", "messages": []}', encoding="utf-8")
    with pytest.raises(ExportError, match='no "chatInfo"'):
        list(qqnt.parse(f, ParseLog(), frozenset()))
    f.write_text('{"chatInfo": {"name": "x", "type": "group"}, "messages": [\n{"sender": {"uid": "a"}, ]}',
                 encoding="utf-8")
    with pytest.raises(ExportError) as e:
        list(qqnt.parse(f, ParseLog(), frozenset()))
    assert e.value.line == 2


def test_utf16_json(tmp_path: Path) -> None:
    f = tmp_path / "u16.json"
    f.write_bytes(b"\xff\xfe" + (FIX / "private_compact_bom.json").read_text(encoding="utf-8-sig").encode("utf-16-le"))
    assert detect(f).name == "qqnt"
    assert [m.text for m in qqnt.parse(f, ParseLog(), frozenset())] == ["在吗", "在", "[语音]"]


def test_sniff_rejects_other_json(tmp_path: Path) -> None:
    f = tmp_path / "result.json"
    f.write_text('{"name": "Bob", "type": "personal_chat", "id": 1, "messages": []}', encoding="utf-8")
    assert not qqnt.FORMAT.sniff(f, f.read_text())
    f.write_text('{"chat": "x", "sender": "a", "time": "2024-01-01 00:00:00", "text": "hi"}\n', encoding="utf-8")
    assert not qqnt.FORMAT.sniff(f, f.read_text())


# --- V5 (TypeScript exporter): the first element is the whole rendered line -----------------------------------
V5 = FIX / "v5" / "friend_u_Tr4Yw8Ep2Lk6Nz0Qa5Sx9Dc1_20251229_192500.json"
V5_GROUP = FIX / "v5" / "group_765432109_20251101_100200.json"


@pytest.mark.parametrize("path", [V5, V5_GROUP, FIX / "v5_chunked/manifest.json",
                                  FIX / "v5_chunked/chunks/c000001.jsonl"])
def test_v5_detected(path: Path) -> None:
    assert detect(path).name == "qqnt"


def test_v5_renders_the_line_only() -> None:
    msgs, log = parse("v5/" + V5.name)
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {("木槿", "木槿", False)}
    rows = [(m.sender, m.by_owner, m.kind, m.text, m.quote) for m in msgs]
    assert rows == [
        ("小周", True, Kind.TEXT, "周六去图书馆", None),  # selfUid (5.x after 2025-12-26)
        ("木槿", False, Kind.TEXT, "好的", "周六去图书馆"),  # "[回复 u_…: …]\n" prefix removed
        ("木槿", False, Kind.IMAGE, "[图片]", None),  # a picture alone is not text
        ("木槿", False, Kind.TEXT, "看这个[图片]", None),  # words beside a picture are; no file name
        ("小周", True, Kind.STICKER, "[狗头]", None),
        ("小周", True, Kind.TEXT, "哈哈[/微笑]", None),  # the face is in the line once, not twice
        ("木槿", False, Kind.VOICE, "[语音 3秒]", None),
        ("木槿", False, Kind.FILE, "[文件]", None),
        ("木槿", False, Kind.FORWARD, "[合并转发: 2条]", None),
        ("木槿", False, Kind.RECALL, "[1]", None),  # gray tip 1: a recall
        ("木槿", False, Kind.SYSTEM, "[4]", None),  # other gray tips
        ("木槿", False, Kind.LINK, "[卡片消息: 图书馆开放时间]", None),  # type_7 ark card, text element only
        ("小周", True, Kind.TEXT, "@木槿 明天见", None),
        ("木槿", False, Kind.VIDEO, "[视频]", None),
        ("小周", True, Kind.RECALL, "说错了", None),  # recalled later
        ("小周", True, Kind.TEXT, "好，明天见", None),
    ]
    assert msgs[0].time == datetime.fromtimestamp(1767006840)  # timestamp (ms) wins over the local "time"
    assert lines(msgs)[:2] == [6, 7]
    assert skips(log) == [(14, "qqnt: forwarded-history item")] * 2  # OneBot messages inside the forward


def test_v5_before_self_uid_uses_me() -> None:
    msgs, _ = parse("v5/" + V5_GROUP.name)
    assert not any(m.by_owner for m in msgs)
    for me in ("小周", "2809317745", "u_Hb7Vn3Mj1Kf5Gd9Sq2Wx6Er8"):
        msgs, _ = parse("v5/" + V5_GROUP.name, frozenset({me}))
        assert [(m.sender, m.by_owner) for m in msgs] == [("木槿", False), ("小周", True), ("阿凯", False)], me
    assert {(m.chat_name, m.is_group) for m in msgs} == {("宿舍群", True)}


def test_v5_chunked() -> None:
    msgs, log = parse("v5_chunked/chunks/c000001.jsonl", frozenset({"2809317745"}))
    assert [(m.sender, m.by_owner, m.kind, m.text, m.quote, m.is_group) for m in msgs] == [
        ("木槿", False, Kind.TEXT, "今天谁值日", None, True),
        ("小周", True, Kind.TEXT, "我来", "今天谁值日", True),
        ("木槿", False, Kind.IMAGE, "[图片]", None, True),
    ]
    assert parse("v5_chunked/manifest.json") == ([], ParseLog())


def test_damaged_messages_key_does_not_pick_a_forwarded_bundle(tmp_path: Path) -> None:
    src = next(FIX.glob("v5/friend_*.json")).read_text(encoding="utf-8")
    assert src.count('"messages":[') > 1  # the chat's and a forwarded bundle's
    f = tmp_path / "chat.json"
    f.write_text(src.replace('"messages":[', '"mes\ufffdsages":[', 1), encoding="utf-8")
    log = ParseLog()
    with pytest.raises(ExportError, match="top level"):
        list(qqnt.parse(f, log, frozenset()))
    assert not log.skips  # nothing of the bundle read as the chat's messages
