from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from data_prep.records import Kind, Message  # noqa: E402

# `make test-fast` (pytest -m "not model and not slow") runs the tests that need no model and run no whole command
# line.
# `model`: the test uses a model (the tiny base, a clone trained on it, a shrunk real-family base), found from the
# fixtures it uses. `slow`: it runs a whole command line in a subprocess (a dataset build, training or the bot:
# seconds each) is marked on the test itself.
MODEL_FIXTURES = frozenset({"base_dir", "tok", "model", "persona_clone", "shrunk", "loaded", "real_vocab"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)


@pytest.fixture
def msg():
    """Factory for messages at minute offsets from a fixed start."""
    t0 = datetime(2024, 3, 1, 9, 0, 0)

    def make(sender: str, text: str, minute: float, *, me: bool = False, chat: str = "friend", group: bool = False,
             kind: Kind = Kind.TEXT) -> Message:
        return Message(chat_id=chat, chat_name=chat, is_group=group, sender=sender, by_owner=me,
                       time=t0 + timedelta(minutes=minute), kind=kind, text=text, source=f"x.txt:{int(minute)}")

    return make


# The tiny base the tests use is built once per checkout and kept under models/ (git-ignored), in a folder named by
# a hash of everything that decides its bytes, so editing the recipe or the corpus, or upgrading a library that builds
# it, makes a fresh one instead of reusing a stale one. Building takes minutes on a busy 2-core machine.
TINY_CACHE = ROOT / "models" / "test-tiny-base"
TINY_LIBRARIES = ("torch", "tokenizers", "transformers")
TINY_UNUSED_DAYS = 7  # a cached base no test session used for this long is removed


def tiny_base_key() -> str:
    """A hash of what decides the tiny base's bytes: its recipe, its corpus and the libraries that build it."""
    from importlib.metadata import version

    from training import generic_corpus, tiny_base

    h = hashlib.sha256()  # (tiny_base.VERSION is in its source)
    for path in (Path(tiny_base.__file__), Path(generic_corpus.__file__), generic_corpus.DATA):
        h.update(f"{path.resolve().relative_to(ROOT).as_posix()}\0".encode() + path.read_bytes() + b"\0")
    for dist in TINY_LIBRARIES:
        h.update(f"{dist}=={version(dist)}\0".encode())
    return h.hexdigest()[:16]


class _Lock:
    """An exclusive lock on a file (flock): a second pytest process waits for the first one's build instead of
    building the same base beside it. Where flock does not exist, ensure_tiny_base's atomic rename still keeps
    concurrent builds from seeing a half-written folder."""

    def __init__(self, path: Path, *, wait: bool = True):
        self.path, self.wait, self.file = path, wait, None

    def __enter__(self) -> bool:
        try:
            import fcntl
        except ImportError:
            return True
        self.file = open(self.path, "a")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True

    def __exit__(self, *exc) -> None:
        if self.file is not None:
            self.file.close()  # closing releases the lock


def _prune_unused_bases(keep: str) -> None:
    """Bases for other keys (older sources or libraries) that no test session has used for a week; one whose lock
    another run holds (it is building it) is left alone."""
    cutoff = time.time() - TINY_UNUSED_DAYS * 86_400
    for old in TINY_CACHE.iterdir():
        if old.is_dir() and old.name != keep and old.stat().st_mtime < cutoff:
            with _Lock(TINY_CACHE / f"{old.name}.lock", wait=False) as free:
                if free:
                    shutil.rmtree(old, ignore_errors=True)
                    (TINY_CACHE / f"{old.name}.lock").unlink(missing_ok=True)


@pytest.fixture(scope="session")
def base_dir() -> Path:
    """The embedded tiny base: built on first use in this checkout, reused by every later test run."""
    from training import tiny_base

    key = tiny_base_key()
    cache = TINY_CACHE / key
    cache.mkdir(parents=True, exist_ok=True)
    with _Lock(TINY_CACHE / f"{key}.lock"):
        folder = tiny_base.ensure_tiny_base(cache, progress=False)
        tiny_base._remove_dead_builds(folder)  # what a killed test run's build left behind
        os.utime(cache)  # used now: not pruned
        _prune_unused_bases(keep=key)
    return folder


@pytest.fixture(scope="session")
def tok(base_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(base_dir)


@pytest.fixture(scope="session")
def model(base_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(base_dir).eval()


PERSONA_STEPS = 150  # fewer than the default config's epochs; enough for the style on the tiny base


@dataclass
class PersonaClone:
    cfg: Any         # core.config.Config of the run (dataset, cache and output folders in a temp dir)
    metrics: dict    # what training.train.train returned

    def config_file(self, path: Path, bot_dir: Path) -> Path:
        """A config.toml at ``path`` for command lines that serve this clone, their history under ``bot_dir``."""
        import json

        cfg = self.cfg
        path.write_text(f"""
[persona]
names = {json.dumps(cfg.persona.names, ensure_ascii=False)}
system_prompt = {json.dumps(cfg.persona.system_prompt, ensure_ascii=False)}
[dataset]
out_dir = {json.dumps(str(cfg.path(cfg.dataset.out_dir)))}
[model]
cache_dir = {json.dumps(str(cfg.path(cfg.model.cache_dir)))}
[train]
output_dir = {json.dumps(str(cfg.path(cfg.train.output_dir)))}
cutoff_len = {cfg.train.cutoff_len}
[bot]
data_dir = {json.dumps(str(bot_dir))}
""", encoding="utf-8")
        return path


@pytest.fixture(scope="session")
def persona_clone(tmp_path_factory, base_dir) -> PersonaClone:
    """The bundled persona's dataset and a briefly trained clone of her, built once per test session: the persona
    and end-to-end tests share it."""
    from core.config import load
    from data_prep.build import build
    from training.train import train

    root = tmp_path_factory.mktemp("persona")
    cfg = load(overrides={"dataset.out_dir": str(root / "data"), "model.cache_dir": str(base_dir.parent),
                          "train.output_dir": str(root / "run"), "train.max_steps": PERSONA_STEPS})
    build(cfg, progress=False)
    return PersonaClone(cfg, train(cfg, progress=False))


# ---- loopback servers speaking the real protocols (tests/botapi_server.py, tests/puppet_server.py) ----

TELEGRAM_TOKEN = "123456:TEST-token"


@pytest.fixture
async def bot_api(monkeypatch):
    """A Bot API server on 127.0.0.1 for the bot 123456 (@clone_bot)."""
    from botapi_server import BotApiServer

    # httpx reads proxy variables when PTB builds its clients; a CI proxy must not see loopback traffic
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    srv = BotApiServer(token=TELEGRAM_TOKEN, bot_username="clone_bot")
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def puppet():
    """A Wechaty puppet service on 127.0.0.1 logged in as wxid_clone (林小夏), with friends Alice and Bob, the
    file helper, and the room r1@chatroom (周末爬山) of the three."""
    from puppet_server import PuppetServer

    server = PuppetServer(self_id="wxid_clone", self_name="林小夏")
    server.add_contact("wxid_alice", "Alice")
    server.add_contact("wxid_bob", "Bob")
    server.add_contact("filehelper", "文件传输助手")
    server.add_room("r1@chatroom", "周末爬山", ["wxid_alice", "wxid_bob"])
    await server.start()
    yield server
    await server.stop()


# ---- shrunk real-family bases (tests/test_conformance.py, tests/test_presets.py) ----

@pytest.fixture(scope="session")
def shrunk(tmp_path_factory):
    """Family name (scripts/shrunk_families.toml) -> folder of its shrunk real-vocabulary base, each built on
    first use (a couple of seconds)."""
    built: dict[str, object] = {}

    def get(name: str):
        if name not in built:
            from scripts.make_shrunk_base import build

            built[name] = build(name, tmp_path_factory.mktemp(name.replace(".", "_")))
        return built[name]

    return get


@pytest.fixture(scope="session")
def loaded(shrunk):
    """Family name -> (tokenizer, fp32 model) of its shrunk base, loaded once."""
    from runtime.models import load_model, load_tokenizer

    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            path = str(shrunk(name))
            cache[name] = (load_tokenizer(path), load_model(path, "float32").eval())
        return cache[name]

    return get
