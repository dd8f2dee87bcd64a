"""Telegram Desktop machine-readable JSON export (data_prep/formats/telegram.py)."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from data_prep.formats import detect, telegram
from data_prep.records import Kind
from data_prep.sources import ExportError, ParseLog

FIX = Path(__file__).parent / "fixtures" / "telegram"
REAL = Path(__file__).parent / "fixtures/real/telegram/langchain_result.json"  # MIT, license beside it


def parse(path: Path, me: frozenset[str] = frozenset()) -> tuple[list, ParseLog]:
    log = ParseLog()
    return list(telegram.parse(path, log, me)), log


def skips(log: ParseLog) -> list[tuple[int | None, str]]:
    return [(s.line, s.reason) for s in log.skips]


@pytest.mark.parametrize("name", ["personal_chat.json", "account_export.json", "old_format.json", "group_chat.json",
                                  "saved_messages.json", "account_no_chats.json", "truncated.json",
                                  "bad_escape.json"])
def test_detected_as_telegram(name: str) -> None:
    assert detect(FIX / name).name == "telegram"


def test_personal_chat_senders_kinds_texts() -> None:
    msgs, log = parse(FIX / "personal_chat.json")
    rows = [(m.sender, m.by_owner, m.kind, m.text) for m in msgs]
    assert rows == [
        ("Alice", False, Kind.TEXT, "hi there"),
        ("Bob", True, Kind.TEXT, "see https://example.org and this"),       # text as a list of str + entities
        ("Alice", False, Kind.TEXT, "line one\nline two\x0cend"),            # \x0C repaired to a form feed
        ("Bob", True, Kind.TEXT, "a path C:\\x41\\\\x42 stays"),               # escaped backslashes untouched
        ("Alice", False, Kind.IMAGE, "look at this"),                        # photo with caption
        ("Bob", True, Kind.IMAGE, "[photo]"),                                # photo not downloaded, no caption
        ("Alice", False, Kind.STICKER, "[sticker 😂]"),
        ("Bob", True, Kind.VOICE, "[voice message]"),
        ("Alice", False, Kind.VIDEO, "our trip"),
        ("Bob", True, Kind.STICKER, "[GIF]"),                                # animation
        ("Alice", False, Kind.FILE, "[file]"),
        ("Bob", True, Kind.SYSTEM, "[phone_call]"),                          # service message
        ("Bob", True, Kind.TEXT, "forwarded news"),                          # forwarded: still Bob's message
        ("Alice", False, Kind.TEXT, "no unixtime, reply to a message not in the export"),
        ("Bob", True, Kind.TEXT, "reply into another chat"),
        ("Bob", True, Kind.TEXT, "nice photo"),
    ]
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {("5000000001", "Alice", False)}
    assert {m.sender_id for m in msgs} == {"user5000000001", "user6000000002"}
    assert skips(log) == [(223, "telegram: unsupported message"), (236, "telegram: bad date")]


def test_personal_chat_times_quotes_sources() -> None:
    msgs, _ = parse(FIX / "personal_chat.json")
    assert msgs[0].time == datetime(2024, 3, 1, 9, 0)  # `date` as exported, not date_unixtime in this machine's zone
    assert msgs[13].time == datetime(2024, 3, 1, 9, 14)  # no date_unixtime: the naive `date` as exported
    assert msgs[1].quote == "hi there"
    assert msgs[15].quote == "look at this"     # reply to a photo: its caption
    assert msgs[13].quote is None               # replied-to message is not in the export
    assert msgs[14].quote is None               # reply_to_peer_id: a message of another chat
    assert msgs[0].quote is None
    path = FIX / "personal_chat.json"
    assert [m.source for m in msgs[:3]] == [f"{path}:6", f"{path}:21", f"{path}:60"]  # the line of each "{"


def test_account_export_me_from_personal_information() -> None:
    msgs, log = parse(FIX / "account_export.json", me=frozenset({"Carol"}))  # export's own marker wins over me
    rows = [(m.chat_name, m.is_group, m.sender, m.sender_id, m.by_owner, m.kind, m.text, m.quote) for m in msgs]
    assert rows == [
        ("Alice", False, "Alice", "user5000000001", False, Kind.TEXT, "morning", None),
        ("Alice", False, "Bob", "user6000000002", True, Kind.TEXT, "morning!", None),
        ("Hiking Club", True, "Carol", "user7000000003", False, Kind.SYSTEM, "[create_group]", None),
        ("Hiking Club", True, "Carol", "user7000000003", False, Kind.TEXT, "who is coming on sunday?", None),
        ("Hiking Club", True, "Deleted Account", "user8000000004", False, Kind.TEXT, "me", None),  # from: null
        ("Hiking Club", True, "Bob", "user6000000002", True, Kind.TEXT, "count me in", "who is coming on sunday?"),
        ("Old Group", True, "Bob", "user6000000002", True, Kind.TEXT, "bye all", None),  # left_chats too
    ]
    assert [m.chat_id for m in msgs] == ["5000000001"] * 2 + ["1700000000"] * 4 + ["1800000000"]
    assert msgs[6].time == datetime(2022, 5, 5, 12, 0)
    assert msgs[6].source == f"{FIX / 'account_export.json'}:112"
    assert not log.skips


def test_old_format_numeric_from_id_and_text_list() -> None:
    msgs, log = parse(FIX / "old_format.json")
    rows = [(m.sender, m.sender_id, m.by_owner, m.time, m.text) for m in msgs]
    assert rows == [
        ("Grace", "user4325636679", False, datetime(2020, 1, 1, 0, 0, 2), "hey, what's up"),
        ("Ava", "user1234567890", True, datetime(2020, 1, 1, 0, 0, 4), "not much, you?"),
    ]
    assert not log.skips


def test_single_group_export_needs_me() -> None:
    path = FIX / "group_chat.json"
    msgs, _ = parse(path)
    assert [(m.sender, m.by_owner, m.is_group) for m in msgs] == [
        ("Dana", False, True), ("Eve", False, True), ("Frank", False, True)]
    assert msgs[2].quote == "chapter 3 tonight"
    by_name, _ = parse(path, frozenset({"Eve"}))
    assert [m.by_owner for m in by_name] == [False, True, False]
    by_id, _ = parse(path, frozenset({"user9000000007"}))
    assert [m.by_owner for m in by_id] == [False, False, True]
    by_bare_id, _ = parse(path, frozenset({"9000000005"}))
    assert [m.by_owner for m in by_bare_id] == [True, False, False]


def test_saved_messages_are_all_mine() -> None:
    msgs, _ = parse(FIX / "saved_messages.json")
    assert [(m.chat_name, m.sender, m.by_owner, m.text) for m in msgs] == [
        ("Saved Messages", "Bob", True, "note to self")]


def test_account_file_without_chats_yields_nothing() -> None:
    msgs, log = parse(FIX / "account_no_chats.json")
    assert msgs == [] and not log.skips


def test_real_sample() -> None:
    assert detect(REAL).name == "telegram"
    msgs, log = parse(REAL)
    assert [(m.sender, m.text) for m in msgs] == [
        ("Jimmeny Marvelton", "i refuse to converse with you"),
        ("Batman & Robin", "Hi nemesis"),
        ("Jimmeny Marvelton", "we meet again"),
        ("Jimmeny Marvelton", "you will not trick me this time"),
    ]
    # The sample's chat id matches no sender (anonymised); the chat is named after the peer, so the other is me.
    assert [m.by_owner for m in msgs] == [False, True, False, False]
    assert msgs[0].time == datetime(2023, 8, 23, 13, 11, 23)
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {("5965280513", "Jimmeny", False)}
    assert not log.skips
    # --me still decides when the export cannot tell.
    msgs, _ = parse(REAL, frozenset({"Jimmeny Marvelton"}))
    assert [m.by_owner for m in msgs] == [True, False, True, True]


def test_peer_id_in_chat_beats_me_option() -> None:
    msgs, _ = parse(FIX / "personal_chat.json", frozenset({"Alice"}))
    assert msgs[0].sender == "Alice" and not msgs[0].by_owner


def test_repair_escapes_only_touches_unescaped_backslash_x() -> None:
    raw = r'"a\x0Cb" "c\\x41" "d\\\x1f" "e\x"'
    assert telegram.repair_escapes(raw) == r'"a\u000Cb" "c\\x41" "d\\\u001f" "e\x"'


def test_truncated_file_is_an_error_with_line() -> None:
    with pytest.raises(ExportError) as e:
        parse(FIX / "truncated.json")
    assert e.value.line == 40 and "invalid JSON" in e.value.message


def test_invalid_escape_that_cannot_be_repaired() -> None:
    with pytest.raises(ExportError) as e:
        parse(FIX / "bad_escape.json")
    assert e.value.line == 12 and e.value.path == str(FIX / "bad_escape.json")


def test_wrong_structure(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="top level is not a JSON object"):
        parse(FIX / "not_an_object.json")
    p = tmp_path / "other.json"
    p.write_text('{\n "hello": "world"\n}\n', encoding="utf-8")
    with pytest.raises(ExportError, match="not a Telegram export"):
        parse(p)
    p.write_text('{"name": "x", "type": "personal_chat", "id": 1, "messages": {}}', encoding="utf-8")
    with pytest.raises(ExportError, match="'messages' is not a list"):
        parse(p)


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "result.json"
    p.write_bytes(b"")
    with pytest.raises(ExportError, match="empty"):
        parse(p)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le"])
def test_reencoded_exports_still_parse(tmp_path: Path, encoding: str) -> None:
    p = tmp_path / "result.json"
    p.write_bytes((FIX / "old_format.json").read_text(encoding="utf-8").encode(encoding))
    assert detect(p).name == "telegram"
    msgs, _ = parse(p)
    assert [m.text for m in msgs] == ["hey, what's up", "not much, you?"]


def test_undecodable_bytes(tmp_path: Path) -> None:
    p = tmp_path / "result.json"
    p.write_bytes(b'{"name": "x", "type": "personal_chat", "messages": [\xff\xfe\xfd\x80\x81')
    with pytest.raises(ExportError):
        parse(p)


def test_odd_records_are_skipped_not_dropped(tmp_path: Path) -> None:
    chat = {"name": "A", "type": "personal_chat", "id": 1, "messages": [
        "not an object",
        {"id": 2, "type": "poll_result", "date": "2024-01-01T00:00:00"},
        {"id": 3, "type": "message", "date": "2024-01-01T00:00:01", "from": "A", "from_id": "user1", "text": ""},
        {"id": 4, "type": "message", "date": "2024-01-01T00:00:02", "from": "B", "from_id": "user2",
         "poll": {"question": "lunch?", "answers": []}},
        {"id": 5, "type": "message", "date": "2024-01-01T00:00:03", "from": "B", "from_id": "user2",
         "location_information": {"latitude": 1.0, "longitude": 2.0}},
        {"id": 6, "type": "message", "date": "2024-01-01T00:00:04", "from": "B", "from_id": "user2",
         "contact_information": {"first_name": "Z"}, "text": ""},
    ]}
    p = tmp_path / "result.json"
    p.write_text(json.dumps(chat, indent=1), encoding="utf-8")
    msgs, log = parse(p)
    assert [(m.by_owner, m.kind, m.text) for m in msgs] == [
        (False, Kind.OTHER, "[empty message]"),
        (True, Kind.OTHER, "[poll] lunch?"),
        (True, Kind.LOCATION, "[location]"),
        (True, Kind.CARD, "[contact]"),
    ]
    assert [r for _, r in skips(log)] == ["telegram: message is not an object", "telegram: unknown message type"]
    assert skips(log)[1][0] == 7  # line numbers still found after a record without an id


def test_minified_json_lines(tmp_path: Path) -> None:
    p = tmp_path / "result.json"
    p.write_text(json.dumps(json.loads((FIX / "group_chat.json").read_text(encoding="utf-8"))), encoding="utf-8")
    assert detect(p).name == "telegram"
    msgs, _ = parse(p)
    assert [m.source for m in msgs] == [f"{p}:1"] * 3


@pytest.mark.parametrize("head", [
    '{"metadata": {"name": "QQ Chat Exporter"}, "chatInfo": {"name": "x", "type": "group"}, "messages": [',
    '{"chat": "Mom", "sender": "Mom", "time": "2024-01-05T08:00:00", "text": "hi", "is_me": false}\n',
    "chat,sender,time,text,is_me\nMom,Mom,2024-01-05T08:00:00,hi,no\n",
    "[01/02/2024, 09:00:00] Alice: hi\n",
])
def test_sniff_rejects_other_formats(head: str) -> None:
    assert not telegram.sniff(Path("x.json"), head)
