"""Which token ids end a reply."""
from __future__ import annotations

from core.chat_format import end_of_turn


def _ids(value) -> set[int]:
    if value is None:
        return set()
    return {int(v) for v in value} if isinstance(value, (list, tuple, set, frozenset)) else {int(value)}


def stop_ids(tokenizer, model=None) -> frozenset[int]:
    """The ids that end the clone's turn: the chat template's end-of-turn token (what training taught it to write
    last), every eos of the model's generation_config.json, and the tokenizer's eos.

    A base checkpoint's eos is often not the template's end of turn (Qwen2.5 base: <|endoftext|> vs <|im_end|>):
    stopping on the eos alone would run past the turn and hand the friend an invented next turn."""
    ids = _ids(tokenizer.convert_tokens_to_ids(end_of_turn(tokenizer))) | _ids(tokenizer.eos_token_id)
    generation = getattr(model, "generation_config", None) if model is not None else None
    if generation is not None:
        ids |= _ids(generation.eos_token_id)
    return frozenset(ids)
