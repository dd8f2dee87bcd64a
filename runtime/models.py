"""Loading models: the base for training, the clone (base + adapter) for generation.

A trained adapter names the base it was trained on in its manifest (runtime.manifest), so eval, the bot and export
load that base whatever `model.base` says now. Nothing here builds or downloads behind the caller's back: the
embedded tiny base is built by training (training.prerequisites), a hub id is resolved by transformers.
"""
from __future__ import annotations

import os
from pathlib import Path

from core.config import Config, ConfigError

from .manifest import read_manifest


def torch_dtype(name: str):
    """The torch dtype for `model.dtype` ("auto": bf16/fp16 on a GPU, fp32 on the CPU)."""
    import torch

    if name != "auto":
        return getattr(torch, name)
    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def checkpoint_dtype(path: str) -> str:
    """The dtype a checkpoint was published in (config.json's dtype / torch_dtype), as a `model.dtype` name;
    "auto" if it says none."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path)
    found = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    name = str(found).removeprefix("torch.") if found is not None else "auto"
    return name if name in ("float32", "bfloat16", "float16") else "auto"


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    if tok.chat_template is None:
        raise ConfigError(f"model.base: {path} has no chat template; use an instruct/chat model")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def four_bit_unavailable() -> str | None:
    """Why the base cannot be loaded in 4 bits here (None: it can). bitsandbytes quantizes on an NVIDIA GPU, and
    on the CPU since its CPU backend (a recent release): probed with a small tensor rather than read from a
    version number."""
    try:
        import bitsandbytes.functional as bnb
    except ImportError:
        return "bitsandbytes is not installed (make install brings it; on a GPU machine, the gpu extra)"
    import torch

    if torch.cuda.is_available():
        return None
    try:
        bnb.quantize_4bit(torch.ones(64, dtype=torch.bfloat16), quant_type="nf4")
    except Exception as e:  # what a build without a CPU backend raises varies by release
        import bitsandbytes

        return (f"bitsandbytes {bitsandbytes.__version__} cannot quantize on the CPU ({type(e).__name__}): install a "
                "recent release (0.50 can) or train on an NVIDIA GPU")
    return None


def load_model(path: str, dtype: str = "auto", quantize_4bit: bool = False):
    """The model at ``path``; ``quantize_4bit``: its linear layers in NF4 (bitsandbytes, QLoRA), on the GPU of this
    process (``LOCAL_RANK``) or on the CPU when there is none."""
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict = {"dtype": torch_dtype(dtype)}
    if quantize_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=kwargs["dtype"] if kwargs["dtype"] != torch.float32 else torch.bfloat16)
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0)) if torch.cuda.is_available() else "cpu"}
    return AutoModelForCausalLM.from_pretrained(path, **kwargs)


def adapter_dir(cfg: Config, adapter: Path | None = None) -> Path:
    """The trained clone's folder (`bot.engine.adapter` or <train.output_dir>/adapter); an error if missing."""
    folder = Path(adapter or cfg.path(cfg.train.output_dir) / "adapter")
    if not folder.is_dir():
        raise ConfigError(f"{folder} not found: run `make train` first")
    return folder


def load_clone(adapter: Path, dtype: str = "auto"):
    """Base + trained adapter (or the full fine-tuned model for method=full), in eval mode, with its tokenizer.

    The tokenizer saved next to the adapter is used, so serving tokenizes exactly as training did."""
    from peft import PeftModel

    tokenizer = load_tokenizer(str(adapter))
    if (adapter / "adapter_config.json").exists():
        model = PeftModel.from_pretrained(load_model(read_manifest(adapter).base_path, dtype), str(adapter))
    else:
        model = load_model(str(adapter), dtype)
    return model.eval(), tokenizer


def load_for_generation(adapter: Path, *, base_only: bool = False, dtype: str = "auto"):
    """(model, tokenizer) ready to generate, for `make eval` and the bot: the clone with its LoRA merged in (a
    decoding step then costs what the base's does), or ``base_only`` the base the clone was trained on; on the
    GPU when there is one."""
    import torch

    if base_only:
        path = read_manifest(adapter).base_path
        model, tokenizer = load_model(path, dtype).eval(), load_tokenizer(path)
    else:
        model, tokenizer = load_clone(adapter, dtype)
        if hasattr(model, "merge_and_unload"):
            model = model.merge_and_unload()
    return (model.to("cuda") if torch.cuda.is_available() else model), tokenizer
