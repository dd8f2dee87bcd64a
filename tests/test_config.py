import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import ConfigError, load

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "persona" / "telegram"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_shipped_config_is_valid_and_points_at_bundled_sample():
    cfg = load()
    assert cfg.dataset.inputs and all(p.exists() for p in cfg.check_inputs())
    assert cfg.persona.names


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(ConfigError) as e:
        load(write(tmp_path, "[dataset]\nsesion_gap_s = 10\n"))
    assert "config.toml: dataset.sesion_gap_s: unknown key" in str(e.value)


def test_wrong_type_is_named(tmp_path):
    with pytest.raises(ConfigError) as e:
        load(write(tmp_path, '[dataset]\nsession_gap_s = "an hour"\n'))
    assert "dataset.session_gap_s" in str(e.value) and "integer" in str(e.value)


def test_list_item_location(tmp_path):
    with pytest.raises(ConfigError) as e:
        load(write(tmp_path, "[persona]\nnames = ['a', 3]\n"))
    assert "persona.names[1]" in str(e.value)


def test_toml_syntax_error_has_line(tmp_path):
    with pytest.raises(ConfigError) as e:
        load(write(tmp_path, "[dataset]\ngroups = \n"))
    assert "invalid TOML" in str(e.value) and "line 2" in str(e.value)


def test_missing_input_names_key(tmp_path):
    cfg = load(write(tmp_path, '[dataset]\ninputs = ["nowhere/export.txt"]\n'))
    with pytest.raises(ConfigError) as e:
        cfg.check_inputs()
    assert "dataset.inputs[0]" in str(e.value) and "does not exist" in str(e.value)


def test_relative_paths_resolve_against_config_dir(tmp_path):
    (tmp_path / "exp").mkdir()
    cfg = load(write(tmp_path, '[dataset]\ninputs = ["exp"]\nout_dir = "out"\n'))
    assert cfg.check_inputs() == [tmp_path / "exp"]
    assert cfg.path(cfg.dataset.out_dir) == tmp_path / "out"


def test_unknown_format_is_named_where_the_dataset_is_built(tmp_path):
    """core knows no parsers: the config loads, and building from it is the one-line error naming the key."""
    from data_prep.build import build, forced_format

    path = write(tmp_path, f'[persona]\nnames = ["林小夏"]\n[dataset]\ninputs = ["{SAMPLE}"]\nformat = "wechat"\n')
    cfg = load(path)
    with pytest.raises(ConfigError) as e:
        build(cfg, progress=False)
    _one_line(str(e.value), path.resolve(), ": dataset.format:", "unknown format 'wechat'", "telegram")
    assert forced_format(load(write(tmp_path, '[dataset]\nformat = "telegram"\n'))) == "telegram"
    assert forced_format(load(write(tmp_path, '[dataset]\nformat = "auto"\n'))) is None


def test_core_config_imports_no_parsers():
    code = ("import sys, core.config as c; c.load(overrides={'dataset.format': 'telegram'}); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'data_prep'))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_gap_order(tmp_path):
    with pytest.raises(ConfigError, match="burst_gap_s"):
        load(write(tmp_path, "[dataset]\nburst_gap_s = 100\nsession_gap_s = 50\n"))


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load("/nonexistent/config.toml")


def test_readme_config_reference_matches_schema():
    from core.config_reference import README, readme_block, table

    assert readme_block(README.read_text(encoding="utf-8")) == table(), \
        "README config reference is stale: run python -m core.config_reference --write"


# ---- a corpus of malformed configs: each is one line naming the key (or the file), never a traceback ----------

BIG = "100000000000000000000"  # 1e20 as a TOML integer: larger than any time span or size the code can hold

# (dotted key, TOML value): one bad value each, written as `[section]\nleaf = value`
BAD_VALUES = [
    ("train.seed", "-1"), ("train.seed", "4294967296"), ("train.seed", "1.5"),
    ("bot.expire_every_s", "1e308"), ("bot.expire_every_s", "0"), ("bot.expire_every_s", "nan"),
    ("train.lora_r", "100000"), ("train.lora_r", "0"), ("train.lora_r", "16.5"), ("train.lora_alpha", BIG),
    ("bot.debounce_s", "inf"), ("bot.debounce_s", "nan"), ("bot.debounce_s", "61"), ("bot.debounce_s", "-1"),
    ("bot.debounce_s", '"4s"'), ("bot.message_pause_s", "inf"), ("bot.rate_window_s", "inf"),
    ("bot.rate_limit", "0"), ("bot.takeover_s", "1e308"), ("bot.takeover_s", "-inf"), ("dataset.session_gap_s", "0"),
    ("dataset.session_gap_s", BIG), ("train.learning_rate", "nan"), ("train.learning_rate", "5.0"),
    ("train.epochs", "inf"), ("train.epochs", "0"), ("train.batch_size", "1000000000"), ("train.batch_size", "true"),
    ("train.grad_accum", "0"), ("train.cutoff_len", "8"), ("train.cutoff_len", "100000000"),
    ("train.lora_dropout", "1.0"), ("train.warmup_ratio", "nan"), ("train.max_steps", "-5"),
    ("train.target_modules", "[]"), ("train.target_modules", '"all"'), ("train.method", '"dora"'),
    ("eval.temperature", "inf"), ("eval.top_p", "0"), ("eval.repetition_penalty", "inf"),
    ("eval.max_new_tokens", "1000000000"), ("eval.batch_size", "0"), ("dataset.dev_fraction", "nan"),
    ("dataset.dev_fraction", "1.0"), ("dataset.burst_gap_s", "0"), ("dataset.session_gap_s", BIG),
    ("dataset.max_turns", "1"), ("dataset.max_message_chars", "0"), ("dataset.groups", '"yes"'),
    ("dataset.inputs", "5"), ("dataset.out_dir", '"data\\u0000set"'),
    ("persona.names", '"me"'), ("model.base", '""'), ("model.dtype", '"fp8"'),
    ("bot.engine.timeout_s", "inf"), ("bot.engine.max_batch", "0"),
    ("bot.engine.temperature", "-0.5"), ("bot.engine.top_p", "1.5"), ("bot.engine.backend", '"vllm"'),
    ("bot.engine.adapter", "5"), ("bot.telegram.poll_timeout_s", "-1"), ("bot.telegram.poll_timeout_s", BIG),
    ("bot.allow", '["alice"]'), ("bot.owner", '["telegram: 1"]'), ("bot.groups", '"some"'),
]

# (id, file content, what the error must name besides the file)
BAD_FILES = [
    ("unknown-key", "[dataset]\nsesion_gap_s = 10\n", "dataset.sesion_gap_s"),
    ("unknown-section", "[bots]\nallow = []\n", "bots"),
    ("token-in-file", '[bot.telegram]\ntoken = "123:abc"\n', "bot.telegram.token"),
    ("section-as-value", "dataset = 5\n", "dataset"),
    ("value-as-section", "[dataset.groups]\nx = 1\n", "dataset.groups"),
    ("gap-order", "[dataset]\nburst_gap_s = 100\nsession_gap_s = 50\n", "dataset.burst_gap_s"),
    ("toml-unterminated-table", "[dataset\n", "invalid TOML"),
    ("toml-missing-value", "[dataset]\ngroups = \n", "invalid TOML"),
    ("toml-duplicate-key", "[train]\nseed = 1\nseed = 2\n", "invalid TOML"),
    ("toml-duplicate-table", "[train]\n[train]\n", "invalid TOML"),
    ("toml-bare-word", "[dataset]\ngroups = yes\n", "invalid TOML"),
    ("toml-too-deep", "x = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
]

# (id, bytes, what the error must say)
BAD_ENCODINGS = [
    ("gbk", '[persona]\nsystem_prompt = "你是林小夏"\n'.encode("gbk"), "GB"),
    ("utf-16-no-bom", '[persona]\nnames = ["me"]\n'.encode("utf-16-le"), "UTF-16"),
    ("cp1252", '[persona]\nnames = ["café"]\n'.encode("cp1252"), "UTF-8"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "UTF-8"),
    ("utf-8-bom-broken", b"\xef\xbb\xbf[persona]\nnames = ['\xff']\n", "UTF-8"),
]


def _one_line(message: str, path: Path, *must: str) -> None:
    assert "\n" not in message, f"more than one line: {message!r}"
    assert "Traceback" not in message
    assert message.startswith(str(path)), message
    for m in must:
        assert m in message, f"{m!r} not named in {message!r}"


def toml(settings: dict[str, str]) -> str:
    """A config file from dotted keys and TOML values."""
    sections: dict[str, list[str]] = {}
    for key, value in settings.items():
        section, _, leaf = key.rpartition(".")
        sections.setdefault(section, []).append(f"{leaf} = {value}\n")
    return "".join(f"[{section}]\n" + "".join(lines) for section, lines in sections.items())


@pytest.mark.parametrize(("key", "value"), BAD_VALUES, ids=[f"{k}={v}" for k, v in BAD_VALUES])
def test_malformed_value_is_one_line_naming_the_key(tmp_path, key, value):
    path = write(tmp_path, toml({key: value}))
    with pytest.raises(ConfigError) as e:
        load(path)
    _one_line(str(e.value), path, f": {key}")


@pytest.mark.parametrize(("text", "named"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_malformed_file_is_one_line_naming_the_key(tmp_path, text, named):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load(path)
    _one_line(str(e.value), path, named)


@pytest.mark.parametrize(("data", "said"), [c[1:] for c in BAD_ENCODINGS], ids=[c[0] for c in BAD_ENCODINGS])
def test_wrong_encoding_names_it_and_asks_for_utf8(tmp_path, data, said):
    path = tmp_path / "config.toml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as e:
        load(path)
    _one_line(str(e.value), path, said, "UTF-8")


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_files_with_a_byte_order_mark_are_read(tmp_path, codec):
    text = '[persona]\nnames = ["林小夏"]\n'
    data = text.encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data  # Python's utf-16-be writes no BOM; editors that save "UTF-16 BE" do
    path = tmp_path / "config.toml"
    path.write_bytes(data)
    assert load(path).persona.names == ["林小夏"]


def test_bounds_accept_their_limits(tmp_path):
    cfg = load(write(tmp_path, "[bot]\ndebounce_s = 60\nexpire_every_s = 3600\n[train]\nseed = 4294967295\n"
                               "lora_r = 1024\n"))
    assert (cfg.bot.debounce_s, cfg.bot.expire_every_s, cfg.train.seed, cfg.train.lora_r) == (60, 3600, 2**32 - 1,
                                                                                              1024)


def test_several_problems_one_line_each(tmp_path):
    path = write(tmp_path, "[train]\nseed = -1\nlora_r = 0\n[bot]\ndebounce_s = inf\n")
    with pytest.raises(ConfigError) as e:
        load(path)
    assert sorted(ln.split(": ")[1] for ln in str(e.value).splitlines()) == ["bot.debounce_s", "train.lora_r",
                                                                          "train.seed"]


def test_folder_as_config(tmp_path):
    with pytest.raises(ConfigError) as e:
        load(tmp_path)
    _one_line(str(e.value), tmp_path, "folder")


# ---- the same through the real command lines -------------------------------------------------------------------

def _cli(tmp_path: Path, *argv: str) -> str:
    """Run an entry point; its stderr, which must be one `error:` line and exit status 2."""
    proc = subprocess.run([sys.executable, "-m", *argv], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def _config(tmp_path: Path, settings: dict[str, str] | None = None) -> Path:
    """A config for the bundled sample, plus ``settings``."""
    base = {"persona.names": '["林小夏"]', "dataset.inputs": f'["{SAMPLE}"]'}
    return write(tmp_path, toml(base | (settings or {})))


def test_cli_gbk_config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes('[persona]\nnames = ["林小夏"]\n'.encode("gbk"))
    line = _cli(tmp_path, "data_prep", "build", "--config", str(path))
    assert str(path) in line and "GB" in line and "UTF-8" in line


# Starting the training or the bot command line loads torch and transformers: seconds each, out of make test-fast.
SLOW = pytest.mark.slow


@pytest.mark.parametrize("entry", [["data_prep", "build"], pytest.param(["training", "train"], marks=SLOW),
                                   pytest.param(["bot"], marks=SLOW)])
def test_cli_config_is_a_folder(tmp_path, entry):
    assert f"{tmp_path}: is a folder" in _cli(tmp_path, *entry, "--config", str(tmp_path))


def test_cli_unknown_format(tmp_path):
    path = _config(tmp_path, {"dataset.format": '"wechat"'})
    line = _cli(tmp_path, "data_prep", "build", "--config", str(path))
    assert f"{path}: dataset.format: unknown format 'wechat'" in line


def test_cli_bad_value(tmp_path):
    path = _config(tmp_path, {"train.seed": "-1"})
    assert f"{path}: train.seed:" in _cli(tmp_path, "data_prep", "build", "--config", str(path))


@pytest.mark.parametrize(("entry", "key"), [(["data_prep", "build"], "dataset.out_dir"),
                                            pytest.param(["training", "train"], "train.output_dir", marks=SLOW),
                                            pytest.param(["bot"], "bot.data_dir", marks=SLOW)])
@pytest.mark.parametrize("blocker", ["is-a-file", "under-a-file"])
def test_cli_unwritable_output_folder(tmp_path, entry, key, blocker):
    """An output folder that cannot be created or written is an error at the start of the stage."""
    (tmp_path / "a-file").write_text("x")
    target = tmp_path / "a-file" if blocker == "is-a-file" else tmp_path / "a-file" / "out"
    path = _config(tmp_path, {key: f'"{target}"'})
    line = _cli(tmp_path, *entry, "--config", str(path))
    assert f"{path}: {key}:" in line and str(target) in line


def test_every_data_file_in_the_packages_is_installed_with_them():
    """A non-Python file inside a package (presets, PII words, the generic corpus, …) is only installed when
    pyproject.toml's package-data lists it; without it an installed copy fails at import."""
    import fnmatch
    import tomllib

    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = tool["package-data"]
    tops = [p.rstrip("*") for p in tool["packages"]["find"]["include"]]
    missing, found = [], 0
    for top in tops:
        for f in sorted((ROOT / top).rglob("*")):
            if not f.is_file() or f.suffix in (".py", ".pyc") or not (f.parent / "__init__.py").exists():
                continue
            found += 1
            package = ".".join(f.parent.relative_to(ROOT).parts)
            patterns = listed.get(package, []) + listed.get("*", [])
            if not any(fnmatch.fnmatch(f.name, p) for p in patterns):
                missing.append(f.relative_to(ROOT).as_posix())
    assert found >= 3 and not missing, f"add to [tool.setuptools.package-data] in pyproject.toml: {missing}"
