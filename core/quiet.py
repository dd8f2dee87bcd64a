"""Library chatter that tells a user nothing, silenced once per entry point (`python -m training`, `-m bot`)."""
from __future__ import annotations

import os
import warnings


def quiet_libraries(progress_bars: bool = False) -> None:
    """Per-weight loading bars off (our own progress bars stay), and peft's call of a transformers API that
    transformers 5 marks deprecated no longer warns on every model load."""
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    if not progress_bars:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
