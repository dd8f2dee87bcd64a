"""Batched reply generation with transformers, shared by `make eval` and the bot's local engine.

Prompts are rendered by core.chat_format (the training format), left-padded into one batch and decoded together:
on CPU and GPU alike one batched `generate` call costs about as much as a single one, so concurrent chats and the
evaluation's many prompts go through it in groups.
"""
from __future__ import annotations

from dataclasses import dataclass

from .chat_format import prompt_ids


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
    import torch

    replies: list[str] = []
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    kwargs: dict = {"max_new_tokens": decoding.max_new_tokens, "pad_token_id": pad,
                    "eos_token_id": tokenizer.eos_token_id, "use_cache": True}
    if decoding.temperature > 0:
        kwargs |= {"do_sample": True, "temperature": decoding.temperature, "top_p": decoding.top_p}
        torch.manual_seed(decoding.seed)
    else:
        kwargs |= {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    if decoding.repetition_penalty != 1.0:
        kwargs["repetition_penalty"] = decoding.repetition_penalty
    for start in range(0, len(conversations), batch_size):
        prompts = [prompt_ids(tokenizer, conv, max_prompt_tokens)[0]
                   for conv in conversations[start:start + batch_size]]
        width = max(map(len, prompts))
        ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, p in enumerate(prompts):  # left padding: every row's next token sits in the last column
            ids[row, width - len(p):] = torch.tensor(p)
            mask[row, width - len(p):] = 1
        with torch.inference_mode():
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **kwargs)
        replies += [tokenizer.decode(row[width:], skip_special_tokens=True).strip() for row in out]
    return replies
