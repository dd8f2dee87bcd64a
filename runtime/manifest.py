"""What an adapter records about how it was made, beside the PEFT files (chatclone.json).

Serving, eval and export load the base named here and take the settings the clone was trained with from here
(reconcile): a clone is always run on its base, with its persona prompt, its length budget and its conversation
gaps, whatever config.toml says now. Where config.toml disagrees, it is said, loudly.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from core.config import Config, ConfigError

MANIFEST = "chatclone.json"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Manifest:
    base: str                          # model.base as configured (a hub id, a folder, or "tiny")
    base_path: str                     # where it was loaded from: a local folder or the hub id
    method: str                        # lora | qlora | full
    # Added later: None in an adapter written before they existed.
    base_revision: str | None = None   # the hub commit the base was loaded at, when known
    persona_prompt: str | None = None  # persona.system_prompt the clone was trained with
    cutoff_len: int | None = None      # the longest training sequence: serving's prompt budget builds on it
    burst_gap_s: int | None = None     # the conversation rules (core.conversation) the dataset was cut by
    session_gap_s: int | None = None
    max_turn_lines: int | None = None
    max_turns: int | None = None
    chat_format: int | None = None     # core.chat_format.FORMAT_VERSION
    end_of_turn: str | None = None     # what the clone writes last (and what stops it)
    template_kwargs: dict | None = None  # passed to the chat template (reasoning off), for servers too
    dataset: dict | None = None        # sha256 of train.jsonl / dev.jsonl
    preset: str | None = None          # core/presets.toml preset the settings came from
    train: dict | None = None          # the resolved [train] settings
    warnings: list = field(default_factory=list)


RECORDED = tuple(f.name for f in fields(Manifest) if f.name not in ("base", "base_path", "method"))


def write_manifest(adapter: Path, manifest: Manifest) -> None:
    (adapter / MANIFEST).write_text(json.dumps(asdict(manifest), indent=1, ensure_ascii=False) + "\n",
                                    encoding="utf-8")


def read_manifest(adapter: Path) -> Manifest:
    path = adapter / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        manifest = Manifest(**{k: raw[k] for k in Manifest.__dataclass_fields__ if k in raw})
    except FileNotFoundError:
        raise ConfigError(f"{path} not found: {adapter} was not trained by this version; run `make train`") from None
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{path}: unreadable manifest ({e}); run `make train`") from None
    return manifest


def fingerprint(*files: Path) -> dict[str, str]:
    """sha256 of each dataset file: which data a clone was trained on."""
    out = {}
    for f in files:
        digest = hashlib.sha256()
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        out[f.name] = digest.hexdigest()
    return out


def reconcile(cfg: Config, adapter: Path) -> Manifest:
    """Make ``cfg`` serve the clone as it was trained: persona prompt, cutoff_len and the conversation rules come
    from the manifest, each disagreement with config.toml logged as a warning (the persona prompt especially: a prompt
    edited after training would silently put the clone in front of a system turn it never saw). An adapter from
    before these fields were recorded keeps config.toml's values, with a warning."""
    m = read_manifest(adapter)
    if m.persona_prompt is None:
        log.warning("%s was written before the training settings were recorded; using config.toml's persona prompt "
                    "and cutoff_len (retrain to record them)", adapter / MANIFEST)
        return m
    if cfg.model.base != m.base:
        log.warning("model.base is %r but %s was trained on %r: serving and eval use %r (retrain to switch bases)",
                    cfg.model.base, adapter, m.base, m.base)
    trained = {"persona.system_prompt": m.persona_prompt, "train.cutoff_len": m.cutoff_len,
               "dataset.burst_gap_s": m.burst_gap_s, "dataset.session_gap_s": m.session_gap_s,
               "dataset.max_turn_lines": m.max_turn_lines, "dataset.max_turns": m.max_turns}
    for dotted, value in trained.items():
        section, key = dotted.split(".")
        now = getattr(getattr(cfg, section), key)
        if value is None or now == value:
            continue
        # a key config.toml does not set (a default, or a preset's) is simply taken over; a written one is flagged
        written = key in getattr(cfg, section).model_fields_set
        log.log(logging.WARNING if written else logging.INFO, "%s in %s is %r but the clone was trained with %r: "
                "using the trained value (retrain to change it)", dotted, cfg.source, now, value)
        burst = m.burst_gap_s
        if dotted == "dataset.burst_gap_s" and burst is not None and burst > cfg.dataset.session_gap_s:
            # keep the pair consistent while both are replaced (a manifest without the session gap: the burst gap,
            # never None)
            cfg.dataset.session_gap_s = m.session_gap_s or burst
        setattr(getattr(cfg, section), key, value)
    from core.chat_format import FORMAT_VERSION

    if m.chat_format is not None and m.chat_format != FORMAT_VERSION:
        raise ConfigError(f"{adapter}: trained with chat format {m.chat_format}, this version renders format "
                          f"{FORMAT_VERSION}: prompts would differ from training; run `make train` again")
    return m
