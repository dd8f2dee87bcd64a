"""`make export`: merge the trained adapter into the base and save a standalone model folder (safetensors).

The result loads with AutoModelForCausalLM/AutoTokenizer alone (vLLM, llama.cpp's converter, any server), with
the tokenizer and chat template the clone was trained with. It is written to a temporary folder and swapped in
with renames, so a failed export leaves the previous one (or nothing) behind, never half a model.
"""
from __future__ import annotations

import json
import shutil
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from core.config import Config, ConfigError
from runtime.manifest import reconcile
from runtime.models import adapter_dir, checkpoint_dtype, load_clone
from runtime.stops import export_eos_ids

NOTE = "chatclone_export.json"  # marks a folder as ours: only such a folder is ever replaced

README = """# {name}

A standalone chat clone exported by chatclone (`make export`): the base model with the trained adapter merged
into its weights. Nothing else is needed to load it:

```python
from transformers import AutoModelForCausalLM, AutoTokenizer

model = AutoModelForCausalLM.from_pretrained("{path}")
tokenizer = AutoTokenizer.from_pretrained("{path}")  # includes the chat template used in training
```

- base: {base} ({base_path})
- adapter: {adapter}
- method: {method}, weights saved as {dtype}
{qlora}"""

QLORA_NOTE = ("- trained with qlora: the adapter was merged into the unquantized base (a 4-bit base cannot take a "
              "clean merge), so outputs differ slightly from the 4-bit model used in training.\n")


@contextmanager
def _quiet(progress: bool):
    """Hide transformers' own progress bars (loading weights, writing shards) unless progress is wanted."""
    from transformers.utils import logging as hf_logging

    quiet = not progress and hf_logging.is_progress_bar_enabled()
    if quiet:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if quiet:
            hf_logging.enable_progress_bar()


def _check_replaceable(target: Path) -> None:
    """Refuse to replace a folder that is not a previous export (a typo in --out must not delete data)."""
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / NOTE).is_file())):
        raise ConfigError(f"{target} exists and is not a chatclone export; choose another --out or remove it")


def _swap_in(tmp: Path, target: Path) -> None:
    """Put the finished `tmp` at `target`; the old export is only deleted once the new one is in place."""
    old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    if target.exists():
        target.rename(old)
    try:
        tmp.rename(target)
    except OSError:
        if old.exists():
            old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def export_merged(cfg: Config, *, out: Path | None = None, progress: bool = True) -> Path:
    """Merge base + adapter (or copy the full fine-tuned model for method=full) into `out`, default
    <train.output_dir>/merged, and return that folder."""
    from peft import PeftModel

    run = cfg.path(cfg.train.output_dir)
    adapter = adapter_dir(cfg, run / "adapter")
    target = Path(out).resolve() if out else run / "merged"
    _check_replaceable(target)
    with _quiet(progress):
        # load_clone never quantizes, so a qlora adapter is attached to the bf16/fp16/fp32 base here: peft
        # cannot merge into bitsandbytes 4-bit weights cleanly.
        # the base the clone was trained on, whatever model.base says now (reconcile warns when they differ and
        # refuses an adapter of another chat format)
        manifest = reconcile(cfg, adapter)
        base_path = manifest.base_path
        # in the base's own dtype (bf16 for hub checkpoints), not the CPU's fp32 default: the same size as the
        # base on disk; model.dtype, when set, wins
        dtype = cfg.model.dtype if cfg.model.dtype != "auto" else checkpoint_dtype(base_path)
        model, tokenizer = load_clone(adapter, dtype)
        merged = model.merge_and_unload() if isinstance(model, PeftModel) else model
        merged.config.use_cache = True  # training turns the KV cache off; a served model wants it back
        # any server then stops on the template's end of turn, even for a base whose eos is another token, and on
        # the template's turn markup (a new turn begun without the end of the reply's)
        merged.generation_config.eos_token_id = export_eos_ids(tokenizer, merged)
        dtype = str(next(merged.parameters()).dtype).removeprefix("torch.")

        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            merged.save_pretrained(str(tmp))  # safetensors + config.json + generation_config.json
            tokenizer.save_pretrained(str(tmp))
            note = {"base": manifest.base, "base_path": base_path, "adapter": str(adapter),
                    "method": "full" if merged is model else cfg.train.method, "dtype": dtype,
                    "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "load": "AutoModelForCausalLM.from_pretrained(path); AutoTokenizer.from_pretrained(path)"}
            readme = README.format(name=target.name, path=target, qlora=QLORA_NOTE * (note["method"] == "qlora"),
                                   **{k: note[k] for k in ("base", "base_path", "adapter", "method", "dtype")})
            (tmp / "README.md").write_text(readme, encoding="utf-8")
            (tmp / NOTE).write_text(json.dumps(note, indent=1) + "\n", encoding="utf-8")
            _swap_in(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target
