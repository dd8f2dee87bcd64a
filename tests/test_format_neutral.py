"""The neutral JSONL/CSV format (data_prep/formats/neutral.py, documented in docs/neutral-format.md)."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from data_prep.formats import detect, neutral, telegram
from data_prep.records import Kind
from data_prep.sources import ExportError, ParseLog

FIX = Path(__file__).parent / "fixtures" / "neutral"
DOC = Path(__file__).parents[1] / "docs" / "neutral-format.md"


def parse(path: Path) -> tuple[list, ParseLog]:
    log = ParseLog()
    return list(neutral.parse(path, log, frozenset())), log


def skips(log: ParseLog) -> list[tuple[int | None, str]]:
    return [(s.line, s.reason) for s in log.skips]


@pytest.mark.parametrize("name", ["chats.jsonl", "bad_rows.jsonl", "all_bad.jsonl", "chats.csv", "bad_rows.csv",
                                  "header_only.csv"])
def test_detected_as_neutral(name: str) -> None:
    assert detect(FIX / name).name == "neutral"


def test_jsonl_fields_and_inferred_groups() -> None:
    msgs, log = parse(FIX / "chats.jsonl")
    rows = [(m.chat_id, m.chat_name, m.is_group, m.sender, m.sender_id, m.by_owner, m.kind, m.text, m.quote)
            for m in msgs]
    assert rows == [
        ("Mom", "Mom", False, "Mom", None, False, Kind.TEXT, "did you eat?", None),
        ("Mom", "Mom", False, "Me", None, True, Kind.TEXT, "yes\nnoodles", "did you eat?"),
        ("Mom", "Mom", False, "Me", None, True, Kind.IMAGE, "[photo]", None),            # is_me "yes"
        ("team-42", "Team", True, "Ann", "u1", False, Kind.TEXT, "standup?", None),      # 3 senders → group
        ("team-42", "Team", True, "Ben", "u2", False, Kind.TEXT, "2 min", None),
        ("team-42", "Team", True, "Me", "u0", True, Kind.TEXT, "joining", None),         # kind "TEXT", is_me 1
        ("Pair", "Pair", True, "Zed", None, False, Kind.TEXT, "ping", None),             # explicit is_group
    ]
    assert [m.time for m in msgs] == [
        datetime(2024, 1, 5, 8, 0),
        datetime(2024, 1, 5, 8, 1),                      # "2024-01-05 08:01"
        datetime.fromtimestamp(1704441720),              # unix seconds, number
        datetime(2024, 1, 6, 9, 0),
        datetime.fromtimestamp(1704531660),              # unix seconds, string
        datetime.fromtimestamp(1704531720),              # milliseconds
        datetime(2024, 1, 7, 10, 0, tzinfo=UTC).astimezone().replace(tzinfo=None),  # offset → local
    ]
    # Source lines count the blank line 6.
    assert [m.source.rsplit(":", 1)[1] for m in msgs] == ["1", "2", "3", "4", "5", "7", "8"]
    assert not log.skips


def test_jsonl_bad_rows_are_counted_skips() -> None:
    msgs, log = parse(FIX / "bad_rows.jsonl")
    assert [m.text for m in msgs] == ["ok row", "last ok row"]
    assert skips(log) == [
        (2, "neutral: missing is_me"),
        (3, "neutral: bad time"),
        (4, "neutral: bad is_me"),
        (5, "neutral: invalid JSON line"),
        (6, "neutral: line is not an object"),
        (7, "neutral: bad kind"),
        (8, "neutral: missing sender"),
    ]


def test_all_rows_bad_is_an_error_naming_the_first() -> None:
    log = ParseLog()
    with pytest.raises(ExportError) as e:
        list(neutral.parse(FIX / "all_bad.jsonl", log, frozenset()))
    assert e.value.line == 2 and "bad time" in e.value.message
    assert not log.skips  # the error replaces the skips, it does not add to them


def test_csv_fields_quoting_and_groups() -> None:
    msgs, log = parse(FIX / "chats.csv")
    rows = [(m.chat_id, m.chat_name, m.is_group, m.sender, m.by_owner, m.kind, m.text, m.quote) for m in msgs]
    assert rows == [
        ("Mom", "Mom", False, "Mom", False, Kind.TEXT, "did you eat?", None),
        ("Mom", "Mom", False, "Me", True, Kind.TEXT, 'yes\nnoodles, with "chili"', "did you eat?"),
        ("Mom", "Mom", False, "Me", True, Kind.IMAGE, "[photo]", None),
        ("trip-1", "Trip", True, "Ann", False, Kind.TEXT, "flights booked", None),  # 2 senders but is_group given
        ("trip-1", "Trip", True, "Me", True, Kind.TEXT, "great", None),
    ]
    assert msgs[2].time == datetime.fromtimestamp(1704441720)
    # A quoted field spanning two lines: the next row starts on line 5.
    assert [m.source.rsplit(":", 1)[1] for m in msgs] == ["2", "3", "5", "6", "7"]
    assert not log.skips


def test_csv_bad_rows() -> None:
    msgs, log = parse(FIX / "bad_rows.csv")
    assert [m.text for m in msgs] == ["ok", "fine"]
    assert skips(log) == [(3, "neutral: too few columns"), (4, "neutral: bad time"), (5, "neutral: missing is_me")]


def test_csv_header_only_is_an_error() -> None:
    with pytest.raises(ExportError, match="no message rows"):
        parse(FIX / "header_only.csv")


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "chats.jsonl"
    p.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ExportError, match="empty"):
        parse(p)


def test_truncated_last_line(tmp_path: Path) -> None:
    p = tmp_path / "chats.jsonl"
    p.write_text((FIX / "chats.jsonl").read_text(encoding="utf-8")[:-30], encoding="utf-8")
    msgs, log = parse(p)
    assert len(msgs) == 6 and skips(log) == [(8, "neutral: invalid JSON line")]


@pytest.mark.parametrize("encoding,delim", [("utf-16", "\t"), ("utf-8-sig", ";"), ("gb18030", ",")])
def test_excel_variants(tmp_path: Path, encoding: str, delim: str) -> None:
    """Excel "Unicode text" (UTF-16, tabs), European Excel (BOM, semicolons), Chinese Windows (GB18030)."""
    rows = [["Chat", "Sender", "Time", "Text", "Is_Me"], ["妈妈", "妈妈", "2024-01-05 08:00", "吃饭了吗", "No"],
            ["妈妈", "我", "2024-01-05 08:01", "吃了", "YES"]]
    p = tmp_path / "chats.csv"
    p.write_bytes("\r\n".join(delim.join(r) for r in rows).encode(encoding))
    assert detect(p).name == "neutral"
    msgs, log = parse(p)
    assert [(m.chat_name, m.sender, m.by_owner, m.text) for m in msgs] == [
        ("妈妈", "妈妈", False, "吃饭了吗"), ("妈妈", "我", True, "吃了")]
    assert not log.skips


def test_undecodable_file(tmp_path: Path) -> None:
    p = tmp_path / "chats.csv"
    p.write_bytes(b"chat,sender,time,text,is_me\n\x81\x30\xff\xff,\xfe\x80\n")
    with pytest.raises(ExportError):
        parse(p)


def test_inspect_output_round_trips(tmp_path: Path) -> None:
    """What `inspect` prints (Message.to_json per line) reads back as the same messages."""
    log = ParseLog()
    original = list(telegram.parse(Path(__file__).parent / "fixtures/telegram/account_export.json", log,
                                   frozenset()))
    original[0].time = original[0].time.replace(microsecond=250000)
    p = tmp_path / "inspect.jsonl"
    p.write_text("".join(json.dumps(m.to_json(), ensure_ascii=False) + "\n" for m in original), encoding="utf-8")
    assert detect(p).name == "neutral"
    back, log = parse(p)
    fields = ("chat_id", "chat_name", "is_group", "sender", "sender_id", "by_owner", "time", "kind", "text", "quote")
    assert [tuple(getattr(m, f) for f in fields) for m in back] == \
           [tuple(getattr(m, f) for f in fields) for m in original]
    assert back[0].source == f"{p}:1" and not log.skips


def test_many_rows_chunked_decoding(tmp_path: Path) -> None:
    """Bad lines deep in a long file are found with the right line number (chunks of lines decode together)."""
    lines = [json.dumps({"chat": "c", "sender": f"s{i % 2}", "time": 1704441720 + i, "text": str(i),
                         "is_me": i % 2, "is_group": False}) for i in range(10000)]
    lines[5000] = "{broken"
    lines[9000] = ""
    p = tmp_path / "big.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    msgs, log = parse(p)
    assert len(msgs) == 9998 and msgs[5000].text == "5001"
    assert msgs[8999].source == f"{p}:9002" and msgs[8999].text == "9001"  # line 9001 was blank
    assert skips(log) == [(5001, "neutral: invalid JSON line")]


@pytest.mark.parametrize("value,expected", [
    (True, True), (0, False), ("yes", True), (" No ", False), ("TRUE", True), ("1", True)])
def test_bool_spellings(value: object, expected: bool) -> None:
    assert neutral.to_bool(value, "is_me") is expected


@pytest.mark.parametrize("value", ["maybe", 2, None, "", [], 1.5])
def test_bad_bools(value: object) -> None:
    with pytest.raises(neutral.BadRow):
        neutral.to_bool(value, "is_me")


@pytest.mark.parametrize("head", [
    # QQNT (QCE) chunk line, Telegram JSON, 留痕 CSV, PyWxDump CSV, WhatsApp txt
    '{"id": "1", "seq": "2", "timestamp": 1, "time": "2024-01-01 00:00:00", "sender": {"uid": "u"}, '
    '"content": {"text": "hi"}}\n',
    '{\n "name": "Alice",\n "type": "personal_chat",\n "id": 1,\n "messages": [\n',
    "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender\n",
    "id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime\n",
    "1/13/24, 9:01 AM - Bob: chat,sender,time,text,is_me\n",
])
def test_sniff_rejects_other_formats(head: str) -> None:
    assert not neutral.sniff(Path("x"), head)


def test_sniff_long_first_line_cut_by_head() -> None:
    line = '{"chat": "c", "sender": "s", "time": "2024-01-01T00:00:00", "text": "' + "x" * 9000
    assert neutral.sniff(Path("x.jsonl"), line[:8192])


def test_documentation_examples_parse(tmp_path: Path) -> None:
    """Every ```jsonl and ```csv example in docs/neutral-format.md is valid neutral input."""
    doc = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```(jsonl|csv)\n(.*?)```", doc, flags=re.S)
    assert len(blocks) == 3
    for i, (kind, body) in enumerate(blocks):
        p = tmp_path / f"example{i}.{kind}"
        p.write_text(body, encoding="utf-8")
        assert detect(p).name == "neutral"
        msgs, log = parse(p)
        assert msgs and not log.skips, (kind, skips(log))
        for field in neutral.REQUIRED + neutral.OPTIONAL:
            assert f"`{field}`" in doc


@pytest.mark.parametrize("column", ["knd", "Kinds", "kindd"])
def test_misspelt_kind_column_is_an_error_naming_it(tmp_path: Path, column: str) -> None:
    p = tmp_path / "chats.csv"
    p.write_text(f"chat,sender,time,text,is_me,{column}\nMom,Me,2024-01-05T08:00:00,[photo],1,image\n",
                 encoding="utf-8")
    with pytest.raises(ExportError) as e:
        parse(p)
    assert e.value.line == 1 and repr(column.lower()) in e.value.message and "'kind'" in e.value.message


def test_misspelt_kind_key_skips_the_row(tmp_path: Path) -> None:
    p = tmp_path / "chats.jsonl"
    row = {"chat": "Mom", "sender": "Me", "time": "2024-01-05T08:00:00", "is_me": True}
    p.write_text(json.dumps({**row, "text": "hi"}) + "\n" + json.dumps({**row, "text": "[photo]", "knid": "image"})
                 + "\n", encoding="utf-8")
    msgs, log = parse(p)
    assert [m.text for m in msgs] == ["hi"]
    assert skips(log) == [(2, "neutral: key 'knid' looks like a misspelt 'kind'")]


def test_unknown_columns_far_from_any_field_are_still_ignored(tmp_path: Path) -> None:
    p = tmp_path / "chats.csv"
    p.write_text("chat,sender,time,text,is_me,note,source\nMom,Me,2024-01-05T08:00:00,hi,1,x,y\n", encoding="utf-8")
    msgs, _ = parse(p)
    assert [m.text for m in msgs] == ["hi"]


def test_deep_json_line_is_a_skip(tmp_path: Path) -> None:
    p = tmp_path / "chats.jsonl"
    good = json.dumps({"chat": "Mom", "sender": "Me", "time": "2024-01-05T08:00:00", "text": "hi", "is_me": True})
    p.write_text(good + "\n" + "[" * 100_000 + "]" * 100_000 + "\n" + good + "\n", encoding="utf-8")
    msgs, log = parse(p)
    assert len(msgs) == 2 and skips(log) == [(2, "neutral: JSON line nested too deeply")]


def test_lone_surrogate_escape_is_replaced_and_counted(tmp_path: Path) -> None:
    from data_prep.formats import read_all

    p = tmp_path / "chats.jsonl"
    p.write_text('{"chat": "Mom", "sender": "Me", "time": "2024-01-05T08:00:00", "text": "a\\ud800b", "is_me": true}\n'
                 '{"chat": "Mom", "sender": "Me", "time": "2024-01-05T08:01:00", "text": "\\ud83d\\ude00", '
                 '"is_me": true}\n',
                 encoding="utf-8")
    log = ParseLog()
    msgs = list(read_all([p], log, frozenset()))
    assert [m.text for m in msgs] == ["a\ufffdb", "😀"]  # a valid pair is one character, left alone
    assert (log.decodings[str(p)].replaced, log.decodings[str(p)].first_line) == (1, 1)
    json.dumps([m.to_json() for m in msgs], ensure_ascii=False).encode("utf-8")  # encodable now


@pytest.mark.parametrize("content", [b"{}", b"\xef\xbb\xbf{}\n", b"[]", b"null"])
def test_empty_json_is_an_error(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "chats.jsonl"
    p.write_bytes(content)
    with pytest.raises(ExportError):
        parse(p)


def test_empty_sender_is_a_sender_the_export_did_not_name(tmp_path: Path) -> None:
    """Exports hold messages nobody in particular wrote (notices, quote replies without a name): an empty sender
    reads back as that, and is not one more person when the group flag is inferred. A missing key is still a skip."""
    rows = [{"chat": "Mom", "sender": "Mom", "time": "2024-01-05T08:00:00", "text": "hi", "is_me": False},
            {"chat": "Mom", "sender": "Me", "time": "2024-01-05T08:01:00", "text": "hey", "is_me": True},
            {"chat": "Mom", "sender": "", "time": "2024-01-05T08:02:00", "text": "Mom recalled a message",
             "is_me": False, "kind": "recall"},
            {"chat": "Mom", "time": "2024-01-05T08:03:00", "text": "no sender key", "is_me": False}]
    p = tmp_path / "chats.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    msgs, log = parse(p)
    assert [(m.sender, m.kind) for m in msgs] == [("Mom", Kind.TEXT), ("Me", Kind.TEXT), ("", Kind.RECALL)]
    assert skips(log) == [(4, "neutral: missing sender")]
    assert not any(m.is_group for m in msgs)  # two people and a notice: a private chat
    rows[2]["sender"] = "Dad"  # the same with a third person is a group: the inference does count senders
    p.write_text("".join(json.dumps(r) + "\n" for r in rows[:3]), encoding="utf-8")
    assert all(m.is_group for m in parse(p)[0])
