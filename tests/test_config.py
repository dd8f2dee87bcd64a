from pathlib import Path

import pytest

from core.config import ConfigError, load


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


def test_unknown_format_and_gap_order(tmp_path):
    with pytest.raises(ConfigError, match="unknown format 'wechat'"):
        load(write(tmp_path, '[dataset]\nformat = "wechat"\n'))
    with pytest.raises(ConfigError, match="burst_gap_s"):
        load(write(tmp_path, "[dataset]\nburst_gap_s = 100\nsession_gap_s = 50\n"))


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load("/nonexistent/config.toml")


def test_readme_config_reference_matches_schema():
    from core.config_reference import README, readme_block, table

    assert readme_block(README.read_text(encoding="utf-8")) == table(), \
        "README config reference is stale: run python -m core.config_reference --write"
