"""The whole dataset stage on the bundled persona export, and the inspect contract."""
import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest

from core.config import load
from data_prep.build import DatasetError, build

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("dataset")
    return build(load(overrides={"dataset.out_dir": str(out)}), progress=False)


def test_builds_embedded_sample(built):
    out = built.out_dir
    for name in ("train.jsonl", "dev.jsonl", "report.md", "profile.json", "lengths.png"):
        assert (out / name).stat().st_size > 0
    train = [json.loads(x) for x in (out / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    dev = [json.loads(x) for x in (out / "dev.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(train) > 300 and len(dev) > 20
    assert max(s["time"] for s in train) < min(s["time"] for s in dev)
    for s in train + dev:
        roles = [m["role"] for m in s["messages"]]
        assert roles[0] == "system" and roles[1] == "user" and roles[-1] == "assistant"
        assert all(a != b for a, b in pairwise(roles[1:])), "turns alternate"
    # all three formats contributed, each with the owner recognised
    assert set(built.log.files.values()) >= {"wechatexporter", "liuhen", "telegram"}
    assert all(built.owner_files[f] > 0 for f, n in built.file_messages.items() if n)


def test_private_data_never_reaches_the_dataset(built):
    text = (built.out_dir / "train.jsonl").read_text(encoding="utf-8") + \
        (built.out_dir / "dev.jsonl").read_text(encoding="utf-8")
    for value in ("13800138000", "2357111317", "example.com"):
        assert value not in text, f"{value} leaked into the dataset"
    assert {"phone", "email", "id_card", "qq"} <= set(built.clean.pii)


def test_report_counts_everything(built):
    report = (built.out_dir / "report.md").read_text(encoding="utf-8")
    assert "forwarded history item" in report
    assert "not text: sticker" in report and "not text: image" in report
    assert "| phone |" in report
    # every message read is either kept or dropped for a counted reason
    assert built.clean.kept + sum(built.clean.dropped.values()) == sum(built.clean.kinds.values())


def test_style_profile_finds_the_persona_markers(built):
    p = built.profile
    phrases = [c for c, _ in p["catchphrases"]]
    assert "~" in phrases and "哈哈哈" in phrases and "🐱" in phrases and "[旺柴]" in phrases
    assert p["catchphrase_rate"] > 0.9 and p["friends"]["catchphrase_rate"] < 0.1
    assert p["length"]["p50"] < p["friends"]["length"]["p50"]


def test_unrecognised_owner_is_a_clear_error(tmp_path):
    # WechatExporter reads "me" from the account folder: a chat file outside that layout has no owner
    lone = tmp_path / "chat.txt"
    lone.write_bytes((ROOT / "samples/persona/wechatexporter/林小夏/周小满/index.txt").read_bytes())
    cfg = load(overrides={"dataset.out_dir": str(tmp_path / "out"), "persona.names": ["nobody"],
                          "dataset.inputs": [str(lone)]})
    with pytest.raises(DatasetError, match="recognised as yours"):
        build(cfg, progress=False)


def test_nothing_readable_names_the_file(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"name": "x", "type": "personal_chat", "id": 1, "messages": [{"id": 1,', encoding="utf-8")
    cfg = load(overrides={"dataset.out_dir": str(tmp_path / "out"), "dataset.inputs": [str(bad)]})
    with pytest.raises(DatasetError, match="broken.json"):
        build(cfg, progress=False)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "data_prep", *args], cwd=ROOT, capture_output=True, text=True,
                          encoding="utf-8")


def test_inspect_prints_one_json_object_per_message_in_time_order():
    r = run_cli("inspect", "samples/persona/wechatexporter")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) > 2000
    for row in rows[:50]:
        assert {"chat", "is_group", "sender", "is_me", "time", "kind", "text"} <= set(row)
    by_chat: dict[str, list[str]] = {}
    for row in rows:
        by_chat.setdefault(row["chat"], []).append(row["time"])
    assert all(times == sorted(times) for times in by_chat.values())
    assert any(row["is_me"] for row in rows)
    assert "by kind:" in r.stderr and "forwarded history item" in r.stderr


def test_inspect_warns_when_owner_unknown(tmp_path):
    chat = tmp_path / "chat.txt"
    chat.write_bytes((ROOT / "samples/persona/wechatexporter/林小夏/老妈/index.txt").read_bytes())
    r = run_cli("inspect", str(chat))
    assert r.returncode == 0 and "no message is marked as yours" in r.stderr
    r = run_cli("inspect", str(chat), "--me", "林小夏")
    assert "no message is marked as yours" not in r.stderr
    assert any(json.loads(x)["is_me"] for x in r.stdout.splitlines())


def test_build_cli_reports_config_errors(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[dataset]\ninputz = []\n", encoding="utf-8")
    r = run_cli("build", "--config", str(cfg))
    assert r.returncode == 2 and "dataset.inputz: unknown key" in r.stderr and "Traceback" not in r.stderr


def test_processes_started_together_build_the_dataset_once(tmp_path, monkeypatch):
    """Two trainers launched at once (accelerate launch) both need the dataset: the second waits on the first's
    build, which it finds finished, instead of building into the same folder at the same time."""
    import fcntl
    import threading

    import data_prep.build
    import training.prerequisites as prerequisites

    cfg = load(overrides={"dataset.out_dir": str(tmp_path / "dataset")})
    first_building, second_waiting = threading.Event(), threading.Event()
    builds: list[str] = []
    real_build, real_flock = data_prep.build.build, fcntl.flock

    def build_after_the_second_arrives(cfg, progress=None):
        builds.append(threading.current_thread().name)
        if len(builds) == 1:
            first_building.set()
            second_waiting.wait(60)  # without the lock the second builds instead, and this times out
        return real_build(cfg, progress=progress)

    def flock(f, op):
        if threading.current_thread().name == "second" and op == fcntl.LOCK_EX:
            second_waiting.set()
        return real_flock(f, op)

    monkeypatch.setattr(data_prep.build, "build", build_after_the_second_arrives)
    monkeypatch.setattr(prerequisites.fcntl, "flock", flock)
    results: dict[str, Path] = {}

    def run(name: str, after: threading.Event | None) -> None:
        if after is not None:
            after.wait(60)
        results[name] = prerequisites.ensure_dataset(cfg, progress=False)

    threads = [threading.Thread(target=run, args=("first", None), name="first"),
               threading.Thread(target=run, args=("second", first_building), name="second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert builds == ["first"]
    assert results == {"first": tmp_path / "dataset", "second": tmp_path / "dataset"}
    assert (tmp_path / "dataset" / "train.jsonl").stat().st_size > 0
