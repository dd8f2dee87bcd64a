"""Which token ids end a reply."""
from __future__ import annotations


def stop_ids(tokenizer, model=None) -> frozenset[int]:
    """The ids that end the clone's turn."""
    return frozenset({tokenizer.eos_token_id})
