"""What an adapter records about how it was made, beside the PEFT files.

Serving, eval and export load the base named here, so a clone is always run on the base it was trained on.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from core.config import ConfigError

MANIFEST = "chatclone.json"


@dataclass(frozen=True)
class Manifest:
    base: str       # model.base as configured (a hub id, a folder, or "tiny")
    base_path: str  # where it was loaded from: a local folder or the hub id
    method: str     # lora | qlora | full


def write_manifest(adapter: Path, manifest: Manifest) -> None:
    (adapter / MANIFEST).write_text(json.dumps(asdict(manifest), indent=1, ensure_ascii=False) + "\n",
                                    encoding="utf-8")


def read_manifest(adapter: Path) -> Manifest:
    path = adapter / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Manifest(**{k: raw[k] for k in Manifest.__dataclass_fields__})
    except FileNotFoundError:
        raise ConfigError(f"{path} not found: {adapter} was not trained by this version; run `make train`") from None
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{path}: unreadable manifest ({e}); run `make train`") from None
