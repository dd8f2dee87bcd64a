"""Batched reply generation, shared by `make eval` and the bot's local engine.

Prompts are rendered by core.chat_format (the training format), left-padded into one batch and decoded together
with one KV cache: a decoding step reads the weights once for the whole batch, so concurrent chats and the
evaluation's many prompts cost little more than one.

Own decoding loop rather than ``model.generate``: a reply that has ended (end-of-turn token) leaves the batch at
once, cache rows included. With ``generate`` every finished row keeps being computed until the longest reply is
done, and chat replies vary a lot in length: one rambling reply would make fifteen short ones pay for it.
Greedy results equal ``generate``'s (tests/test_generation.py); sampling applies the same steps in the same order
(repetition penalty, temperature, top-p).
"""
from __future__ import annotations

from dataclasses import dataclass

from core.chat_format import prompt_ids


@dataclass(frozen=True)
class Decoding:
    max_new_tokens: int = 64
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int = 0


def generate_replies(model, tokenizer, conversations: list[list[dict]], decoding: Decoding, *,
                     max_prompt_tokens: int, batch_size: int = 16) -> list[str]:
    """One reply per conversation (a message list ending on a user turn); the oldest turns of a too-long
    conversation are evicted exactly as at training time."""
    replies: list[str] = []
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    for start in range(0, len(conversations), batch_size):
        prompts = [prompt_ids(tokenizer, conv, max_prompt_tokens)[0]
                   for conv in conversations[start:start + batch_size]]
        replies += [tokenizer.decode(ids, skip_special_tokens=True).strip()
                    for ids in decode(model, prompts, decoding, eos_id=tokenizer.eos_token_id, pad_id=pad)]
    return replies


def decode(model, prompts: list[list[int]], decoding: Decoding, *, eos_id: int, pad_id: int) -> list[list[int]]:
    """The new tokens for each prompt (without the end-of-turn token), decoded as one shrinking batch."""
    import torch
    from transformers import DynamicCache

    device = next(model.parameters()).device
    n, width = len(prompts), max(map(len, prompts))
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    for row, p in enumerate(prompts):  # left padding: every row's next token sits in the last column
        ids[row, width - len(p):] = torch.tensor(p)
        mask[row, width - len(p):] = 1
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    rows = torch.arange(n, device=device)  # which prompt each remaining batch row answers
    seen = None
    if decoding.repetition_penalty != 1.0:  # tokens each row has seen, prompt padding excluded
        seen = torch.zeros((n, model.config.get_text_config().vocab_size), dtype=torch.bool, device=device)
        seen.scatter_(1, torch.where(mask.bool(), ids, ids[:, -1:]), True)  # padding counts as the last token
    generator = torch.Generator(device=device).manual_seed(decoding.seed) if decoding.temperature > 0 else None
    out: list[list[int]] = [[] for _ in range(n)]
    cache = {_cache_argument(model): DynamicCache()}
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                       **cache).logits[:, -1, :]
        next_position = positions[:, -1:] + 1
        for step in range(decoding.max_new_tokens):
            token = _pick(logits.float(), seen, decoding, generator)
            ended = token == eos_id
            for r, t, e in zip(rows.tolist(), token.tolist(), ended.tolist()):
                if not e:
                    out[r].append(t)
            if step == decoding.max_new_tokens - 1 or bool(ended.all()):
                break
            if bool(ended.any()):  # finished replies leave the batch, their cache rows with them
                keep = (~ended).nonzero().squeeze(1)
                next(iter(cache.values())).batch_select_indices(keep)
                rows, token, mask, next_position = rows[keep], token[keep], mask[keep], next_position[keep]
                seen = seen[keep] if seen is not None else None
            if seen is not None:
                seen[torch.arange(len(token), device=device), token] = True
            mask = torch.cat([mask, mask.new_ones((len(token), 1))], dim=1)
            logits = model(input_ids=token[:, None], attention_mask=mask, position_ids=next_position,
                           use_cache=True, **cache).logits[:, -1, :]
            next_position = next_position + 1
    return out


def _cache_argument(model) -> str:
    """transformers 5.24 renamed forward's ``past_key_values`` to ``cache`` (the old name warns); earlier 5.x
    releases only know the old one."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft wraps forward in **kwargs
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def _pick(logits, seen, decoding: Decoding, generator):
    """The next token per row: repetition penalty (as CTRL / transformers define it), then greedy or
    temperature + nucleus sampling."""
    import torch

    if seen is not None:
        p = decoding.repetition_penalty
        logits = torch.where(seen, torch.where(logits > 0, logits / p, logits * p), logits)
    if decoding.temperature <= 0:
        return logits.argmax(-1)
    logits = logits / decoding.temperature
    if decoding.top_p < 1.0:
        ordered, order = logits.sort(dim=-1, descending=True)
        probs = ordered.softmax(-1)
        outside = probs.cumsum(-1) - probs > decoding.top_p  # the most likely token always stays
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, ordered.masked_fill(outside, float("-inf")))
    return torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)
