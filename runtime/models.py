"""Loading the base model: the embedded tiny base and a real hub model go through the same code."""
from __future__ import annotations

import os
from pathlib import Path

from core.config import Config, ConfigError


def base_path(cfg: Config, progress: bool = True) -> str:
    """A from_pretrained()-able location: the tiny base (built offline on first use), a local folder or a hub id."""
    if cfg.model.base == "tiny":
        from .tiny_base import ensure_tiny_base

        return str(ensure_tiny_base(cfg.path(cfg.model.cache_dir), progress=progress))
    local = cfg.path(Path(cfg.model.base))
    if local.exists():
        return str(local)
    if cfg.model.base.startswith((".", "/")):
        raise ConfigError(f"{cfg.source}: model.base: folder {local} does not exist")
    return cfg.model.base  # a hub id: transformers downloads it, or reads its cache when HF_HUB_OFFLINE=1


def torch_dtype(cfg: Config):
    import torch

    if cfg.model.dtype != "auto":
        return getattr(torch, cfg.model.dtype)
    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    if tok.chat_template is None:
        raise ConfigError(f"model.base: {path} has no chat template; use an instruct/chat model")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(cfg: Config, path: str, quantize_4bit: bool = False):
    from transformers import AutoModelForCausalLM

    kwargs: dict = {"dtype": torch_dtype(cfg)}
    if quantize_4bit:
        import torch
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=kwargs["dtype"] if kwargs["dtype"] != torch.float32 else torch.bfloat16)
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0))}
    return AutoModelForCausalLM.from_pretrained(path, **kwargs)


def load_clone(cfg: Config, adapter: Path | None = None):
    """Base + trained adapter (or the full fine-tuned model for method=full), in eval mode, with its tokenizer.

    The tokenizer saved next to the adapter is used, so serving tokenizes exactly as training did."""
    from peft import PeftModel

    adapter = Path(adapter or cfg.path(cfg.train.output_dir) / "adapter")
    if not adapter.is_dir():
        raise ConfigError(f"{adapter} not found: run `make train` first")
    tokenizer = load_tokenizer(str(adapter))
    if (adapter / "adapter_config.json").exists():
        model = PeftModel.from_pretrained(load_model(cfg, base_path(cfg, progress=False)), str(adapter))
    else:
        model = load_model(cfg, str(adapter))
    return model.eval(), tokenizer


def load_for_generation(cfg: Config, *, base_only: bool = False, adapter: Path | None = None, progress: bool = True):
    """(model, tokenizer) ready to generate, for `make eval` and the bot: the clone with its LoRA merged in (a
    decoding step then costs what the base's does), or ``base_only`` the base model; on the GPU when there is one."""
    import torch

    if base_only:
        path = base_path(cfg, progress)
        model, tokenizer = load_model(cfg, path).eval(), load_tokenizer(path)
    else:
        model, tokenizer = load_clone(cfg, adapter)
        if hasattr(model, "merge_and_unload"):
            model = model.merge_and_unload()
    return (model.to("cuda") if torch.cuda.is_available() else model), tokenizer
