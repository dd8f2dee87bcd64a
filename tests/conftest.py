from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from data_prep.records import Kind, Message  # noqa: E402


@pytest.fixture
def msg():
    """Factory for messages at minute offsets from a fixed start."""
    t0 = datetime(2024, 3, 1, 9, 0, 0)

    def make(sender: str, text: str, minute: float, *, me: bool = False, chat: str = "friend", group: bool = False,
             kind: Kind = Kind.TEXT) -> Message:
        return Message(chat_id=chat, chat_name=chat, is_group=group, sender=sender, is_me=me,
                       time=t0 + timedelta(minutes=minute), kind=kind, text=text, source=f"x.txt:{int(minute)}")

    return make


@pytest.fixture(scope="session")
def base_dir(tmp_path_factory) -> Path:
    """The embedded tiny base, built once per test session (~20 s)."""
    from training import tiny_base

    return tiny_base.ensure_tiny_base(tmp_path_factory.mktemp("models"), progress=False)


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
    cfg: object      # core.config.Config of the run (dataset, cache and output folders in a temp dir)
    metrics: dict    # what training.train.train returned


@pytest.fixture(scope="session")
def persona_clone(tmp_path_factory, base_dir) -> PersonaClone:
    """The bundled persona's dataset and a briefly trained clone of her, built once per test session (~40 s):
    the persona and end-to-end tests share it."""
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
