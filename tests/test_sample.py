"""The bundled fictional persona export (samples/persona) and its generator, scripts/make_sample.py.

Measured on the generator's own in-memory conversation, never through the parsers, so these tests say whether the
sample is right, not whether a parser is.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import statistics
import sys
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "persona"


def _load():
    spec = importlib.util.spec_from_file_location("make_sample", ROOT / "scripts" / "make_sample.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_sample"] = mod            # dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    return mod


ms = _load()


@pytest.fixture(scope="module")
def rendered():
    files, stats, chats = ms.render(ms.SEED)
    return files, stats, chats


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------- determinism
def test_regenerating_gives_the_committed_files_byte_for_byte(tmp_path):
    assert ms.main(["--out", str(tmp_path), "--seed", str(ms.SEED)]) == 0
    fresh, committed = _tree(tmp_path), _tree(SAMPLE)
    assert sorted(fresh) == sorted(committed), "file list differs: run `make sample` and commit"
    changed = [name for name in fresh if fresh[name] != committed[name]]
    assert not changed, f"regenerated files differ from the committed ones: {changed}"


def test_in_memory_render_matches_and_the_seed_matters(rendered):
    files, _, _ = rendered
    assert files == _tree(SAMPLE)
    other, _, _ = ms.render(ms.SEED + 1)
    assert other["telegram/result.json"] != files["telegram/result.json"]


# ---------------------------------------------------------------------------------------------- size and shape
def test_message_count_in_range(rendered):
    _, stats, chats = rendered
    assert 4000 <= stats["messages_total"] <= 6000
    assert stats["messages_total"] == sum(len(c.messages) for c in chats)
    for c in chats:
        assert c.messages[0].time >= ms.START - timedelta(days=1) and c.messages[-1].time <= ms.END + timedelta(days=1)
        assert (c.messages[-1].time - c.messages[0].time).days >= 170, c.name   # ~6 months each


def test_chat_layout_per_format(rendered):
    _, _, chats = rendered
    by_fmt: dict[str, list] = {}
    for c in chats:
        by_fmt.setdefault(c.fmt, []).append(c)
    shape = {f: (sum(not c.is_group for c in cs), sum(c.is_group for c in cs)) for f, cs in by_fmt.items()}
    assert shape == {"wechatexporter": (3, 1), "liuhen": (2, 1), "telegram": (2, 1)}
    names = [c.name for c in chats]
    assert len(names) == len(set(names)), "a conversation must live in one export only"
    for c in chats:
        if c.is_group:
            assert 4 <= len(c.members) <= 8
            senders = {m.who for m in c.messages if m.who}
            assert senders == set(c.members), c.name
            owner = sum(m.who == ms.ME for m in c.messages) / len(c.messages)
            assert 0.03 < owner < 0.3, f"{c.name}: she answers only sometimes in groups ({owner:.1%})"


def test_sessions_bursts_and_initiators(rendered):
    _, _, chats = rendered
    in_session, starts_by_me, starts, bursts = [], 0, 0, 0
    for c in chats:
        msgs = [m for m in c.messages if m.who]
        for a, b in pairwise(msgs):
            gap = b.time - a.time
            assert gap >= timedelta(0), f"{c.name}: out of order at {b.time}"
            if gap > timedelta(hours=1):
                starts += 1
                starts_by_me += b.who == ms.ME
            else:
                in_session.append(gap.total_seconds())
            if a.who == b.who and gap <= timedelta(minutes=1):
                bursts += 1
    assert statistics.median(in_session) < 120, "messages inside a conversation are seconds to minutes apart"
    assert starts > 300 and 0.15 < starts_by_me / starts < 0.5, "friends start most sessions, she starts some"
    assert bursts > 200


# ---------------------------------------------------------------------------------------------- style markers
def test_owner_text_messages_carry_markers(rendered):
    _, stats, chats = rendered
    owner = [m.text for c in chats for m in c.messages if m.who == ms.ME and m.kind in ms.TEXT_KINDS]
    any_marker = re.compile(ms.ANY_MARKER)
    share = sum(bool(any_marker.search(t)) for t in owner) / len(owner)
    assert share >= 0.95
    assert share == pytest.approx(stats["owner_any_marker_share"], abs=1e-4)
    each = stats["owner_marker_shares"]
    assert each["tilde_end"] > 0.5, "most of her replies end with ~"
    assert each["hahaha"] > 0.2 and stats["owner_starts_with_laugh_share"] > 0.2
    for marker in ("chongya", "juele", "cat_emoji", "wangchai"):
        assert each[marker] > 0.05, marker
    assert 8 <= stats["owner_median_chars"] <= 12


def test_friends_almost_never_use_the_markers(rendered):
    _, stats, chats = rendered
    friends = [m.text for c in chats for m in c.messages if m.who not in ("", ms.ME) and m.kind in ms.TEXT_KINDS]
    any_marker = re.compile(ms.ANY_MARKER)
    share = sum(bool(any_marker.search(t)) for t in friends) / len(friends)
    assert share < 0.02
    assert not any(t.rstrip().endswith("~") for t in friends)
    assert stats["friend_median_chars"] > stats["owner_median_chars"], "friends write longer messages"


def test_owner_replies_are_varied(rendered):
    _, _, chats = rendered
    owner = [m.text for c in chats for m in c.messages if m.who == ms.ME and m.kind == "text"]
    assert len(set(owner)) / len(owner) > 0.7, "enough variety that a model cannot just memorise one reply"
    english = [t for c in chats if c.key == "tg_emily" for t in [m.text for m in c.messages
                                                                 if m.who == ms.ME and m.kind == "text"]]
    english_markers = re.compile("|".join(f"(?:{m['regex']})" for m in ms.MARKERS
                                          if m["id"] in ("tilde_end", "cat_emoji", "haha_en")))
    assert english and sum(bool(english_markers.search(t)) for t in english) / len(english) > 0.95


def test_markers_json_matches_the_measurement(rendered):
    files, stats, _ = rendered
    doc = json.loads(files["markers.json"])
    assert doc["measured"] == json.loads(json.dumps(stats))
    assert doc["owner"]["telegram"]["user_id"] == 5550001
    assert doc["owner"]["liuhen"]["wxid"] == "wxid_linxiaoxia"
    assert {m["id"] for m in doc["markers"]} >= {"tilde_end", "chongya", "juele", "cat_emoji", "wangchai", "hahaha"}
    for m in doc["markers"]:
        re.compile(m["regex"])


def test_each_marker_text_is_what_its_regex_finds():
    """The two views of one definition agree: a marker's text carries the marker, plain friend lines do not."""
    assert len(ms.PERSONA_MARKERS) == len(ms.MARKERS)
    for text, m in zip(ms.PERSONA_MARKERS, ms.MARKERS, strict=True):
        assert re.search(m["regex"], f"好呀 {text}"), m["id"]
    assert not re.search(ms.ANY_MARKER, "好的，明天见。See you tomorrow.")


def test_generic_corpus_never_uses_the_persona_markers():
    """The tiny base is pretrained on the generic corpus: a marker there would let the base pass for the clone."""
    from training.generic_corpus import template_texts

    def marks(text: str) -> list[str]:
        found = [mark for mark in ms.PERSONA_MARKERS if mark.lower() in text.lower()]
        return found + (["regex"] if re.search(ms.ANY_MARKER, text) else [])

    assert marks("好呀~") and marks("Haha ok") and marks("走起冲鸭")  # the check sees a marker when there is one
    texts = list(template_texts())
    assert len(texts) > 500
    bad = [(t, marks(t)) for t in texts if marks(t)]
    assert not bad, f"generic_corpus.toml uses persona markers: {bad[:5]}"


# ---------------------------------------------------------------------------------------------- PII
def test_fictional_pii_is_present_and_the_id_checksum_is_valid(rendered):
    files, _, _ = rendered
    assert re.fullmatch(r"\d{17}[\dX]", ms.ID_NUMBER)
    assert ms.id_check_digit(ms.ID_NUMBER[:17]) == ms.ID_NUMBER[17]
    assert ms.id_check_digit("11010519491231002") == "X"     # the GB 11643 worked example
    blob = b"".join(files.values()).decode()
    for value in (ms.PHONE_1, ms.PHONE_2, ms.EMAIL, ms.EMAIL_EN, ms.URL, ms.QQ, ms.ID_NUMBER):
        assert value in blob, value
    assert "example.com" in ms.URL and ms.EMAIL.endswith("@example.com")


# ---------------------------------------------------------------------------------------------- byte layouts
_WE_HEADER = re.compile(r"(?P<name>[^\n]*?) \((?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\):")


def test_wechatexporter_layout(rendered):
    files, _, _ = rendered
    top = files["wechatexporter/index.txt"].decode()
    assert top == "微信聊天记录 \n\n\n林小夏/index.txt\n\n\n"
    account = files["wechatexporter/林小夏/index.txt"].decode()
    assert account.startswith("微信聊天记录  - 林小夏\n\n\n") and "周小满.txt\n\n" in account
    chats = {k: v for k, v in files.items() if k.startswith("wechatexporter/林小夏/") and k.count("/") == 3}
    assert len(chats) == 4
    text = {k.split("/")[2]: v.decode() for k, v in chats.items()}
    for name, body in text.items():
        raw = chats[f"wechatexporter/林小夏/{name}/index.txt"]
        assert not raw.startswith(b"\xef\xbb\xbf")
        assert body.startswith(f"{name} - 微信聊天记录\n\n") and body.endswith("\n\n")
        assert body.count("\r\n") == (1 if name == "老妈" else 0)   # only the transfer memo
    mom, xm, group = text["老妈"], text["周小满"], text["周末吃喝小分队"]
    # transfer: no trailing newline, so the next header starts on the same line
    assert re.search(r"老妈 \([^)]+\):微信转账 ￥520\.00 - 转账\r\n生日快乐林小夏 \(2024-06-18 ", mom)
    assert re.search(r'\n"周小满" 撤回了一条消息\n', xm) and "\n你撤回了一条消息\n" in xm
    assert "\n「周小满：明天去植物园看郁金香吗，听说开得正好」\n- - - - - - - - - - - - - - -\n去去去，冲鸭~\n" in xm
    assert "\n<< 李想和周小满的聊天记录\n李想 (2024-03-16 19:02:11):" in xm
    assert "她肯定又在赶稿<br />你先问问她\n李想和周小满的聊天记录 结束 >>\n" in xm
    assert "\n1. 野餐垫\n2. 水果和三明治\n" in xm                          # multi-line message
    assert '\n"周小满"邀请"孙悦"加入了群聊\n' in group and '\nSystem Message: "王可可" 拍了拍我\n' in group
    assert "\nwxid_7m2k9q4x1z8p22 (" in group
    assert re.search(r'\[语音 \d+"\]\n', mom) and "[图片]\n" in xm and "[表情]\n" in xm
    assert len(_WE_HEADER.findall(xm)) > 500


def test_liuhen_layout(rendered):
    files, _, chats = rendered
    names = sorted(k for k in files if k.startswith("liuhen/"))
    assert names == ["liuhen/聊天记录/唐糖/唐糖_utf8.csv", "liuhen/聊天记录/大学室友群/大学室友群_utf8.csv",
                     "liuhen/聊天记录/许嘉禾/许嘉禾_utf8.csv"]
    for name in names:
        raw = files[name]
        assert raw.startswith(b"\xef\xbb\xbflocalId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,"
                              b"StrTime,Remark,NickName,Sender\r\n")
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
        assert all(len(r) == 12 for r in rows)
        assert {r[4] for r in rows[1:]} == {"0", "1"}
        ids = [int(r[0]) for r in rows[1:]]
        assert ids == sorted(ids)
        for r in rows[1:]:                     # StrTime is CreateTime in UTC+8
            assert ms._ts(ms.datetime(1970, 1, 1) + timedelta(seconds=int(r[5])) + ms.UTC_OFFSET) == r[8]
    jiahe = list(csv.reader(io.StringIO(files[names[2]].decode("utf-8-sig"), newline="")))
    kinds = {(r[2], r[3]) for r in jiahe[1:]}
    assert {("1", "0"), ("3", "0"), ("47", "0"), ("10000", "0"), ("49", "57")} <= kinds
    assert [r[7] for r in jiahe if r[2] == "49"] == [""]                  # quote replies lose their text
    assert any("\n" in r[7] and r[2] == "1" for r in jiahe)
    mine = [r for r in jiahe[1:] if r[4] == "1"]
    assert {(r[9], r[10], r[11]) for r in mine} == {("林小夏", "林小夏", "wxid_linxiaoxia")}
    group = list(csv.reader(io.StringIO(files[names[1]].decode("utf-8-sig"), newline="")))
    assert ["Yutong_Song", "Yutong Song", "wxid_songyt2016"] in [r[9:] for r in group]
    assert any(r[2] == "10000" and "加入了群聊" in r[7] and r[9:] == ["", "", ""] for r in group)


def test_telegram_layout(rendered):
    files, _, _ = rendered
    raw = files["telegram/result.json"]
    assert raw.startswith(b'{\n "about": ') and raw.endswith(b"\n}") and not raw.startswith(b"\xef\xbb\xbf")
    doc = json.loads(raw)
    assert doc["personal_information"]["user_id"] == 5550001
    chats = doc["chats"]["list"]
    assert sorted(c["type"] for c in chats) == ["personal_chat", "personal_chat", "private_supergroup"]
    all_msgs = [m for c in chats for m in c["messages"]]
    assert sum(m["type"] == "service" for m in all_msgs) == 1
    assert any("photo" in m and isinstance(m["text"], str) and m["text"] for m in all_msgs)
    assert sum(isinstance(m["text"], list) for m in all_msgs) >= 3
    for c in chats:
        ids = [m["id"] for m in c["messages"]]
        assert ids == sorted(set(ids))
        for m in c["messages"]:
            assert ms._unix(ms.datetime.fromisoformat(m["date"])) == int(m["date_unixtime"])
            if "reply_to_message_id" in m:
                assert m["reply_to_message_id"] in ids and m["reply_to_message_id"] < m["id"]
            text = m["text"] if isinstance(m["text"], str) else "".join(
                p if isinstance(p, str) else p["text"] for p in m["text"])
            assert text == "".join(e["text"] for e in m["text_entities"])
    mine = [m for m in all_msgs if m.get("from_id") == "user5550001"]
    assert mine and all(m["from"] == "Xiaoxia Lin" for m in mine)
