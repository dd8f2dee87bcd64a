"""Library chatter that tells a user nothing, silenced once per entry point (`python -m training`, `-m bot`)."""
from __future__ import annotations

import os
import warnings


def quiet_libraries(progress_bars: bool = False) -> None:
    """Per-weight loading bars off (our own progress bars stay); peft's call of a transformers API that
    transformers 5 marks deprecated no longer warns on every model load, nor peft on every save that it keeps the
    embedding layers the config asked LoRA on."""
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    warnings.filterwarnings("ignore", message="Setting `save_embedding_layers` to `True`", category=UserWarning)
    if not progress_bars:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
