"""`make export`: merge the trained adapter into the base and save a standalone model folder (safetensors).

The result loads with AutoModelForCausalLM/AutoTokenizer alone (vLLM, llama.cpp's converter, any server),
with the chat template the clone was trained with.
"""
from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from core.config import Config

from .base import load_clone


def export_merged(cfg: Config, *, out: Path | None = None, progress: bool = True) -> Path:
    """Merge base + adapter into `out` (default <train.output_dir>/merged); written to a temporary folder and
    renamed, so a failed export never leaves half a model behind."""
    from peft import PeftModel

    # A 4-bit (qlora) base cannot take a clean merge: load_clone loads the base unquantized in every case.
    model, tokenizer = load_clone(cfg)
    if isinstance(model, PeftModel):
        model = model.merge_and_unload()
    target = Path(out) if out else cfg.path(cfg.train.output_dir) / "merged"
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        note = {"base": cfg.model.base, "adapter": str(cfg.path(cfg.train.output_dir) / "adapter"),
                "method": cfg.train.method,
                "load": "AutoModelForCausalLM.from_pretrained(path); AutoTokenizer.from_pretrained(path)"}
        (tmp / "chatclone_export.json").write_text(json.dumps(note, indent=1) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
