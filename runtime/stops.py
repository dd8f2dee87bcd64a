"""Which token ids end a reply."""
from __future__ import annotations

from core.chat_format import end_of_turn

# Reasoning tags are left to core.chat_format.reply_text, which drops the block they open: stopping on <think>
# would turn a reply that reasons first into no reply at all.
REASONING_TAGS = frozenset({"<think>", "</think>"})


def _ids(value) -> set[int]:
    if value is None:
        return set()
    return {int(v) for v in value} if isinstance(value, (list, tuple, set, frozenset)) else {int(value)}


def end_ids(tokenizer, model=None) -> frozenset[int]:
    """The ids that end a turn: the chat template's end-of-turn token (what training taught the clone to write
    last), every eos of the model's generation_config.json, and the tokenizer's eos.

    A base checkpoint's eos is often not the template's end of turn (Qwen2.5 base: <|endoftext|> vs <|im_end|>):
    stopping on the eos alone would run past the turn and hand the friend an invented next turn."""
    ids = _ids(tokenizer.convert_tokens_to_ids(end_of_turn(tokenizer))) | _ids(tokenizer.eos_token_id)
    generation = getattr(model, "generation_config", None) if model is not None else None
    if generation is not None:
        ids |= _ids(generation.eos_token_id)
    return frozenset(ids)


def template_markup_ids(tokenizer) -> frozenset[int]:
    """The added tokens the chat template writes itself (turn, role and tool-call markup), reasoning tags aside."""
    template = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else ""
    return frozenset(i for i, t in tokenizer.added_tokens_decoder.items()
                     if len(t.content) > 1 and t.content not in REASONING_TAGS and t.content in template)


def markup_ids(tokenizer) -> frozenset[int]:
    """Every added token, reasoning tags aside: the template's markup (template_markup_ids), the special tokens,
    and added tokens that are not marked special (fill-in-the-middle, file and tool markers).

    A reply is plain text: training neutralises the text of every added token in the owner's messages
    (core.chat_format.control_pattern), so the clone never learns to write one inside a turn. One that comes anyway
    starts something that is not the reply — most often a new turn (<|im_start|>user…) without the end of turn
    before it. Decoding drops special tokens from the text and keeps the others' (a friend would get
    "<|fim_prefix|>"), so without stopping there the invented continuation would be glued onto the reply and sent."""
    return frozenset(i for i, t in tokenizer.added_tokens_decoder.items()
                     if (t.special or len(t.content) > 1) and t.content not in REASONING_TAGS)


def stop_ids(tokenizer, model=None) -> frozenset[int]:
    """The ids that end the clone's reply in decoding: the turn's end (end_ids) and any markup (markup_ids)."""
    return end_ids(tokenizer, model) | markup_ids(tokenizer)


def export_eos_ids(tokenizer, model=None) -> list[int]:
    """What an exported model's generation_config.json lists as eos: the turn's end and the template's markup, so a
    server that knows nothing of chatclone stops where the clone's reply ends (not on every reserved token)."""
    return sorted(end_ids(tokenizer, model) | template_markup_ids(tokenizer))
