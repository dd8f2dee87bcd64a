"""What every chat-export format promises, checked for the WeChat 4.x tools, ChatLab and QCE V5: `inspect` output
reads back as neutral input, the dataset builds, times land in the right zone, and a missing owner is warned about."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from core.config import load
from data_prep.__main__ import main
from data_prep.build import build
from data_prep.formats import by_name, detect, neutral, read_all
from data_prep.records import Kind, Message
from data_prep.sources import ParseLog

FIX = Path(__file__).parent / "fixtures"
WEFLOW_ME, ECHO_ME = "wxid_r4t6y8u0i2o422", "wxid_m1e2e3t4r5a622"

# (format, fixture, how the owner is named when the file does not say it)
CASES = [
    ("weflow", "weflow/私聊_林雨舟.json", None),
    ("weflow", "weflow/私聊_林雨舟.csv", None),
    ("echotrace", "echotrace/大学室友_1767446142318.json", ECHO_ME),
    ("ciphertalk", "ciphertalk/阿宁.json", None),
    ("chatlab", "chatlab/阿宁.jsonl", None),
    ("chatlab", "chatlab/周末爬山群.json", WEFLOW_ME),
    ("chatlog", "chatlog/tang_mu_1994.json", None),
    ("chatlog", "chatlog/tang_mu_1994_1970-01-01_9999-12-31.csv", None),
    ("qqnt", "qqnt/v5/friend_u_Tr4Yw8Ep2Lk6Nz0Qa5Sx9Dc1_20251229_192500.json", None),
    ("qqnt", "qqnt/v5_chunked", "2809317745"),
]
IDS = [c[1] for c in CASES]
FIELDS = ("chat_id", "chat_name", "is_group", "sender", "sender_id", "by_owner", "time", "kind", "text", "quote")


def _parse_all(fmt: str, rel: str, me: str | None) -> list[Message]:
    path = FIX / rel
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    out: list[Message] = []
    for f in files:
        out += by_name(fmt).parse(f, ParseLog(), frozenset({me} if me else ()))
    return out


def _rows(msgs: list[Message]) -> list[str]:
    return sorted(repr(tuple(getattr(m, f) for f in FIELDS)) for m in msgs)


def _inspect(capsys: pytest.CaptureFixture, rel: str, me: str | None) -> tuple[int, str, str]:
    rc = main(["inspect", str(FIX / rel)] + (["--me", me] if me else []))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("fmt,rel,me", CASES, ids=IDS)
def test_inspect_output_reads_back_as_neutral(fmt: str, rel: str, me: str | None, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    rc, out, err = _inspect(capsys, rel, me)
    assert rc == 0 and f"[{fmt}]" in err
    original = _parse_all(fmt, rel, me)
    assert out.count("\n") == len(original) > 0
    dump = tmp_path / "inspect.jsonl"
    dump.write_text(out, encoding="utf-8")
    assert detect(dump).name == "neutral"
    log = ParseLog()
    back = list(neutral.parse(dump, log, frozenset()))
    assert not log.skips
    assert _rows(back) == _rows(original)


@pytest.mark.parametrize("fmt,rel,me", CASES, ids=IDS)
def test_dataset_builds(fmt: str, rel: str, me: str | None, tmp_path: Path) -> None:
    cfg = load(overrides={"dataset.inputs": [str(FIX / rel)], "dataset.out_dir": str(tmp_path / "out"),
                          "persona.names": [me] if me else []})
    r = build(cfg, progress=False)
    assert set(r.log.files.values()) == {fmt}
    assert r.train or r.dev
    assert (tmp_path / "out" / "train.jsonl").exists()
    # Only chat text trains: money, forwards, pats, calls, recalls and notices are dropped and counted.
    words = "\n".join(m["content"] for s in r.train + r.dev for m in s.messages)
    markers = ("微信红包", "[转账", "转账[", "拍了拍", "撤回", "[语音通话]", "[转发的聊天记录]", "[合并转发",
               "[聊天记录]", "[引用 ", "[回复 ", "[图片:", ".jpg", "[1]")
    for marker in markers:
        assert marker not in words, marker
    assert sum(r.clean.dropped.values()) > 0


WALL = [  # (fixture, message index, the time the exporter showed in China, whether the file stores an instant)
    ("weflow/私聊_林雨舟.json", 0, "2026-06-10 18:22:11", True),
    ("weflow/私聊_林雨舟.csv", 0, "2026-06-10 18:22:11", True),  # "…10:22:11.000Z"
    ("echotrace/大学室友_1767446142318.json", 0, "2025-12-13 18:10:12", True),
    ("ciphertalk/阿宁.json", 0, "2025-11-30 10:33:22", True),
    ("chatlab/阿宁.jsonl", 0, "2025-11-30 10:33:22", True),
    ("chatlab/木槿_qq.json", 0, "2025-12-29 19:14:00", True),  # milliseconds
    ("chatlog/tang_mu_1994.json", 0, "2025-08-12 18:29:44", True),  # "+08:00"
    ("chatlog/tang_mu_1994_1970-01-01_9999-12-31.csv", 0, "2025-08-12 18:37:30", False),  # naive local
    ("qqnt/v5/friend_u_Tr4Yw8Ep2Lk6Nz0Qa5Sx9Dc1_20251229_192500.json", 0, "2025-12-29 19:14:00", True),
]


@pytest.mark.parametrize("zone,shift", [("Asia/Shanghai", 0), ("UTC", -8)])
@pytest.mark.parametrize("rel,index,shown,instant", WALL, ids=[w[0] for w in WALL])
def test_times_are_local_wall_clock(rel: str, index: int, shown: str, instant: bool, zone: str, shift: int,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Instants (unix times, "Z", offsets) become this machine's local time; naive times stay as written."""
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        path = FIX / rel
        msgs = list(detect(path).parse(path, ParseLog(), frozenset()))
    finally:
        monkeypatch.undo()
        time.tzset()
    expected = datetime.fromisoformat(shown) + timedelta(hours=shift if instant else 0)
    assert msgs[index].time == expected


OWNER_BY_CONFIG = [  # files that do not say who the owner is
    ("chatlab/周末爬山群.json", WEFLOW_ME),
    ("chatlog/group_only.csv", "wxid_h7j9k1l3z5x722"),
    ("qqnt/v5/group_765432109_20251101_100200.json", "2809317745"),
    ("echotrace/大学室友_1767446142318.json", None),  # isSend 1 on two rows: no warning even without --me
]


@pytest.mark.parametrize("rel,me", OWNER_BY_CONFIG, ids=[o[0] for o in OWNER_BY_CONFIG])
def test_inspect_warns_when_no_message_is_yours(rel: str, me: str | None, capsys: pytest.CaptureFixture) -> None:
    warning = "warning: no message is marked as yours"
    _, _, err = _inspect(capsys, rel, None)
    assert (warning in err) is (me is not None)
    if me:
        _, out, err = _inspect(capsys, rel, me)
        assert warning not in err and any(json.loads(ln)["is_me"] for ln in out.splitlines())


def _every_export_fixture() -> list[str]:
    """Every file under tests/fixtures/<format>/ (other projects' real exports included) that a parser reads
    messages from; neutral's own files and the PII texts are not exports."""
    out = []
    for p in sorted(FIX.rglob("*")):
        rel = p.relative_to(FIX).as_posix()
        if p.is_file() and rel.split("/")[0] not in ("neutral", "pii"):
            out.append(rel)
    return out


@pytest.mark.parametrize("rel", _every_export_fixture())
def test_inspect_output_of_every_fixture_reads_back(rel: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Every message inspect prints, notices and messages whose sender the export does not name included, reads
    back as neutral input into the same message."""
    log = ParseLog()
    original = list(read_all([FIX / rel], log, frozenset()))
    if not original:
        return  # an empty, damaged or non-chat file: nothing to print
    main(["inspect", str(FIX / rel)])
    dump = tmp_path / "inspect.jsonl"
    dump.write_text(capsys.readouterr().out, encoding="utf-8")
    assert detect(dump).name == "neutral"
    back_log = ParseLog()
    back = list(neutral.parse(dump, back_log, frozenset()))
    assert not back_log.skips, [(s.line, s.reason) for s in back_log.skips]
    assert _rows(back) == _rows(original)


def test_the_read_back_covers_unnamed_senders() -> None:
    """The fixtures above hold notices and a message without a named sender in classic formats, so the read-back
    test exercises them (and would have caught a neutral reader that refuses an empty sender)."""
    unnamed = {}
    for rel in _every_export_fixture():
        for m in read_all([FIX / rel], ParseLog(), frozenset()):
            if not m.sender:
                unnamed.setdefault(rel.split("/")[0], set()).add(m.kind)
    assert {"liuhen", "pywxdump", "wechatexporter", "whatsapp"} <= set(unnamed)
    assert Kind.TEXT in unnamed["wechatexporter"] and Kind.SYSTEM in unnamed["liuhen"]
