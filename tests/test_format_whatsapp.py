"""WhatsApp "Export chat" txt, Android and iOS layouts (data_prep/formats/whatsapp.py)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from data_prep.formats import detect, read_all, whatsapp
from data_prep.records import Kind
from data_prep.sources import Decoding, ExportError, ParseLog

FIX = Path(__file__).parent / "fixtures" / "whatsapp"
REAL = Path(__file__).parent / "fixtures/real/whatsapp/langchain_android.txt"  # MIT, license beside it
ANDROID = "WhatsApp Chat with Bob.txt"
IOS = "WhatsApp Chat - Family/_chat.txt"
TEAM = "WhatsApp Chat with Team.txt"


def parse(name: str, me: frozenset[str] = frozenset({"Alice", "Dan"})) -> tuple[list, ParseLog]:
    log = ParseLog()
    return list(whatsapp.parse(FIX / name, log, me)), log


def skips(log: ParseLog) -> list[tuple[int | None, str]]:
    return [(s.line, s.reason) for s in log.skips]


@pytest.mark.parametrize("name", [ANDROID, IOS, TEAM, "mixed_locales.txt", "ambiguous_utf16.txt", "preamble.txt"])
def test_detected_as_whatsapp(name: str) -> None:
    assert detect(FIX / name).name == "whatsapp"


def test_android_private_chat() -> None:
    msgs, log = parse(ANDROID)
    rows = [(m.sender, m.by_owner, m.kind, m.text) for m in msgs]
    assert rows == [
        ("", False, Kind.SYSTEM, "Messages and calls are end-to-end encrypted. No one outside of this chat, not even "
                                 "WhatsApp, can read or listen to them. Tap to learn more."),
        ("Bob", False, Kind.TEXT, "Morning!"),
        ("Alice", True, Kind.TEXT, "Hi Bob\nthis is a second line\n\nand a third after a blank line"),
        ("Bob", False, Kind.OTHER, "<Media omitted>"),
        ("Bob", False, Kind.IMAGE, "IMG-20240113-WA0001.jpg (file attached)\nlook at this"),
        ("Bob", False, Kind.RECALL, "This message was deleted"),
        ("Alice", True, Kind.RECALL, "You deleted this message"),
        ("Alice", True, Kind.TEXT, "Fixed typo"),  # <This message was edited> stripped
        ("Bob", False, Kind.CALL, "Missed voice call"),
        ("Bob", False, Kind.LOCATION, "location: https://maps.google.com/?q=1.0,2.0"),
        ("Alice", True, Kind.TEXT, "Note: the time is 10:30 - ok?"),  # split on the first ': ' only
        ("Bob", False, Kind.VOICE, "PTT-20240302-WA0003.opus (file attached)"),
        ("Alice", True, Kind.TEXT, "back to normal"),
    ]
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {("Bob", "Bob", False)}
    # 13/01/2024 makes the file day-first, so 02/03/2024 is 2 March.
    assert msgs[1].time == datetime(2024, 1, 13, 9, 1)
    assert msgs[11].time == datetime(2024, 3, 2, 7, 5)
    assert msgs[2].source == f"{FIX / ANDROID}:3"
    # The corrupted header and its continuation line are one counted skip, not glued onto the previous message.
    assert skips(log) == [(19, "whatsapp: malformed header line")]


def test_ios_group_chat() -> None:
    msgs, log = parse(IOS)
    rows = [(m.sender, m.by_owner, m.kind, m.text) for m in msgs]
    assert rows == [
        ("Family", False, Kind.SYSTEM, "Messages and calls are end-to-end encrypted. No one outside of this chat, "
                                       "not even WhatsApp, can read or listen to them."),
        ("Family", False, Kind.SYSTEM, "Alice created group “Family”"),
        ("Family", False, Kind.SYSTEM, "Alice added Bob"),
        ("Alice", True, Kind.TEXT, "Welcome!"),
        ("Bob", False, Kind.TEXT, "Thanks: glad to be here\nsecond line"),
        ("Bob", False, Kind.IMAGE, "image omitted"),  # U+200E before the text removed
        ("Nishabella", False, Kind.IMAGE, "<attached: 00000042-PHOTO-2024-06-05-12-32-00.jpg>"),  # `~ ` dropped
        ("Alice", True, Kind.STICKER, "sticker omitted"),
        ("Alice", True, Kind.FILE, "Plan.pdf • 3 pages document omitted"),
        ("Alice", True, Kind.TEXT, "Edited text"),
        ("Family", False, Kind.SYSTEM, "Bob left"),
    ]
    assert {(m.chat_id, m.chat_name, m.is_group) for m in msgs} == {("Family", "Family", True)}
    # U+202F before AM/PM, 12h clock; all dates ambiguous (05/06) -> day-first default: 5 June.
    assert [m.time for m in msgs[3:5]] == [datetime(2024, 6, 5, 9, 1), datetime(2024, 6, 5, 12, 30)]
    assert msgs[7].time == datetime(2024, 6, 5, 0, 33)  # 12:33 AM
    assert msgs[-1].time == datetime(2024, 6, 6, 20, 0)
    assert skips(log) == []


def test_ios_group_subject_without_folder_name(tmp_path: Path) -> None:
    # Not inside a "WhatsApp Chat - NAME" folder: the notices-only "sender" is still recognised as the group.
    f = tmp_path / "export" / "_chat.txt"
    f.parent.mkdir()
    f.write_bytes((FIX / IOS).read_bytes())
    msgs = list(whatsapp.parse(f, ParseLog(), frozenset()))
    assert msgs[0].chat_name == "export" and msgs[0].is_group
    assert [m.kind for m in msgs if m.sender == "Family"] == [Kind.SYSTEM] * 4


def test_android_group_month_first_12h() -> None:
    msgs, log = parse(TEAM)
    assert [(m.sender, m.by_owner, m.kind, m.text, m.time) for m in msgs] == [
        ("", False, Kind.SYSTEM, 'You created group "Team: 2023"', datetime(2023, 1, 22, 18, 30)),
        ("", False, Kind.SYSTEM, "You added Carol", datetime(2023, 1, 22, 18, 31)),
        ("", False, Kind.SYSTEM, "Carol left", datetime(2023, 1, 22, 18, 32)),
        ("Dan", True, Kind.TEXT, "hey all", datetime(2023, 1, 22, 18, 33)),
        ("Eve", False, Kind.TEXT, "after midnight", datetime(2023, 1, 23, 0, 5)),  # 12:05 AM
        ("Dan", True, Kind.TEXT, "noon on Feb 1", datetime(2023, 2, 1, 12, 0)),  # 2/1 month-first: 1 February
    ]
    assert {(m.chat_name, m.is_group) for m in msgs} == {("Team", True)}  # 2 people, but group system lines
    assert skips(log) == []


def test_locales_per_line() -> None:
    msgs, _ = parse("mixed_locales.txt")
    assert [(m.sender, m.time) for m in msgs] == [
        ("a", datetime(2018, 6, 13, 21, 25, 15)),  # [YYYY/MM/DD, …]
        ("b", datetime(2018, 6, 13, 21, 25, 15)),  # 13.6.2018 klo 21.25.15
        ("Michelle", datetime(2017, 6, 20, 20, 28)),  # p.<NBSP>m.
        ("Michelle", datetime(2017, 6, 20, 8, 29)),  # a. m.
    ]


def test_ambiguous_dates_default_day_first_utf16() -> None:
    msgs, _ = parse("ambiguous_utf16.txt")
    assert [(m.sender, m.time, m.is_group, m.chat_name) for m in msgs] == [
        ("Ann", datetime(2022, 4, 3, 10, 0), False, "ambiguous_utf16"),
        ("Ben", datetime(2022, 4, 3, 10, 1), False, "ambiguous_utf16"),
    ]


def test_text_before_first_message_is_skipped() -> None:
    msgs, log = parse("preamble.txt")
    assert [(m.sender, m.text) for m in msgs] == [("Ann", "hi")]
    assert skips(log) == [(1, "whatsapp: text before first message")]


def test_empty_file_raises() -> None:
    with pytest.raises(ExportError, match="empty"):
        parse("empty.txt")


def test_undecodable_bytes_are_replaced_and_counted(tmp_path: Path) -> None:
    f = tmp_path / "WhatsApp Chat with X.txt"
    f.write_bytes(b"1/2/23, 10:00 - Ann: hi\n1/2/23, 10:01 - Ann: \xff\xff\xff\n")
    log = ParseLog()
    msgs = list(read_all([f], log, frozenset()))
    assert [m.text for m in msgs] == ["hi", "\ufffd" * 3]
    assert log.decodings[str(f)] == Decoding("utf-8", 3, 2)
    assert not log.guessed_encodings()


def test_one_stray_byte_does_not_redecode_the_file(tmp_path: Path) -> None:
    f = tmp_path / "WhatsApp Chat with X.txt"
    f.write_bytes("1/2/23, 10:00 - Ann: café 😀\n1/2/23, 10:01 - Ann: ok".encode() + b"\xb5a\n")
    log = ParseLog()
    assert [m.text for m in read_all([f], log, frozenset())] == ["café 😀", "ok\ufffda"]
    assert log.decodings[str(f)].encoding == "utf-8"


@pytest.mark.parametrize("damaged", [
    "13/0,,,1/2024, 10:01 - Ann: lost",   # characters inserted into the date
    "13/01/2024, 10:0\x002 - Ann: lost",  # a NUL in the time
    "13a01/2024, 10:01 - Ann: lost",       # a separator flipped
    "\ufffd13/01/2024, 10:01 - Ann: lost",  # a replaced byte before it
    "13/01/2024, 10:01 -\ufffd You added Carol",
])
def test_damaged_header_is_a_skip_not_glued(tmp_path: Path, damaged: str) -> None:
    f = tmp_path / "WhatsApp Chat with Ann.txt"
    f.write_text(f"13/01/2024, 10:00 - Ann: first\n{damaged}\nits second line\n13/01/2024, 10:02 - Ann: next\n",
                 encoding="utf-8")
    log = ParseLog()
    msgs = list(whatsapp.parse(f, log, frozenset()))
    assert [m.text for m in msgs] == ["first", "next"]
    assert skips(log) == [(2, "whatsapp: malformed header line")]


def test_continuation_lines_starting_with_numbers_stay_text(tmp_path: Path) -> None:
    f = tmp_path / "WhatsApp Chat with Ann.txt"
    f.write_text("13/01/2024, 10:00 - Ann: plan\n12/25 - 12/31 holidays\n10.30 - 11.45 on 2/3/24\n2023 was great\n",
                 encoding="utf-8")
    log = ParseLog()
    msgs = list(whatsapp.parse(f, log, frozenset()))
    assert [m.text for m in msgs] == ["plan\n12/25 - 12/31 holidays\n10.30 - 11.45 on 2/3/24\n2023 was great"]
    assert not log.skips


@pytest.mark.parametrize("me", [frozenset({"Alice"}), frozenset()])
def test_private_chat_with_a_second_name_stays_private(tmp_path: Path, me: frozenset[str]) -> None:
    # Bob wrote from a number that was not in the contacts before: two names, still one other party.
    f = tmp_path / "WhatsApp Chat with Bob.txt"
    f.write_text("13/01/2024, 10:00 - +49 151 2345678: hi, new number\n"
                 "13/01/2024, 10:01 - Alice: who is this?\n"
                 "13/01/2024, 10:02 - Bob: it's me\n"
                 "13/01/2024, 10:03 - Alice: saved!\n", encoding="utf-8")
    msgs = list(whatsapp.parse(f, ParseLog(), me))
    assert {m.is_group for m in msgs} == {False}
    assert [(m.sender, m.kind) for m in msgs] == [
        ("+49 151 2345678", Kind.TEXT), ("Alice", Kind.TEXT), ("Bob", Kind.TEXT), ("Alice", Kind.TEXT)]


def test_third_person_or_group_notices_make_a_group(tmp_path: Path) -> None:
    f = tmp_path / "WhatsApp Chat with Bob.txt"
    f.write_text("13/01/2024, 10:00 - Bob: hi\n13/01/2024, 10:01 - Alice: hey\n13/01/2024, 10:02 - Carol: yo\n",
                 encoding="utf-8")
    assert {m.is_group for m in whatsapp.parse(f, ParseLog(), frozenset({"Alice"}))} == {True}
    f.write_text("13/01/2024, 10:00 - Bob: hi\n13/01/2024, 10:01 - +1 555 0100 200: yo\n"
                 "13/01/2024, 10:02 - +1 555 0100 300: hey\n", encoding="utf-8")  # two unknown numbers: 3 people
    assert {m.is_group for m in whatsapp.parse(f, ParseLog(), frozenset({"Alice"}))} == {True}


def test_chat_name_from_file_name() -> None:
    assert whatsapp.chat_name_for(Path("WhatsApp Chat with Bob Smith.txt")) == "Bob Smith"
    assert whatsapp.chat_name_for(Path("WhatsApp-Chat mit Oma.txt")) == "Oma"
    assert whatsapp.chat_name_for(Path("x/WhatsApp Chat - Family/_chat.txt")) == "Family"
    assert whatsapp.chat_name_for(Path("notes.txt")) == "notes"


def test_sniff_rejects_date_first_chinese_txt(tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text("2024-01-01 10:00:00 张三(12345)\n你好\n", encoding="utf-8")
    assert not whatsapp.FORMAT.sniff(f, f.read_text(encoding="utf-8"))


def test_real_sample_langchain_android() -> None:
    assert detect(REAL).name == "whatsapp"
    log = ParseLog()
    msgs = list(whatsapp.parse(REAL, log, frozenset({"User 1"})))
    assert len(msgs) == 11
    assert (msgs[0].sender, msgs[0].by_owner, msgs[0].time) == ("User 1", True, datetime(2023, 1, 22, 18, 30))
    assert (msgs[5].sender, msgs[5].kind) == ("User 2", Kind.OTHER)
    assert msgs[-1].text == "Bye!"  # the broken `3:22_AM` line is not glued onto it
    assert {m.is_group for m in msgs} == {False}
    assert skips(log) == [(12, "whatsapp: malformed header line")]


def test_bad_date_and_empty_message(tmp_path: Path) -> None:
    f = tmp_path / "WhatsApp Chat with Ann.txt"
    f.write_text("13/01/2024, 10:00 - Ann: ok\n"
                 "31/02/2024, 10:01 - Ann: no such day\n"
                 "its continuation\n"
                 "13/01/2024, 10:02 - Ann:\n"
                 "13/01/2024, 10:03 - Ann: fine\n", encoding="utf-8")
    log = ParseLog()
    msgs = list(whatsapp.parse(f, log, frozenset()))
    assert [m.text for m in msgs] == ["ok", "fine"]
    assert skips(log) == [(2, "whatsapp: bad date/time"), (4, "whatsapp: empty message")]
